import Glibc

/// Decoding cost of a chunked body vs the same body framed by Content-Length, through
/// HTTPRequestParser (same run, same bytes fed in 64 KiB reads, as the connection does).
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

let bodyBytes = 4 << 20
let body = (0..<bodyBytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 11)) }

func chunked(_ size: Int) -> [UInt8] {
    var wire: [UInt8] = []
    wire.reserveCapacity(body.count + body.count / size * 12 + 64)
    var start = 0
    while start < body.count {
        let end = min(body.count, start + size)
        wire += Array("\(String(end - start, radix: 16))\r\n".utf8)
        wire += body[start..<end]
        wire += [13, 10]
        start = end
    }
    return wire + Array("0\r\n\r\n".utf8)
}

func run(_ head: String, _ wire: [UInt8], rounds: Int) -> Double {
    let headBytes = Array(head.utf8)
    var sink = 0
    let started = now()
    for _ in 0..<rounds {
        var parser = HTTPRequestParser()
        parser.append(headBytes)
        guard case .headComplete = parser.next() else { fatalError("head") }
        _ = parser.continueWithBodyLimit(1 << 30)
        var offset = 0
        var done = false
        while !done {
            if offset < wire.count {
                let end = min(wire.count, offset + 65536)
                wire[offset..<end].withUnsafeBytes { parser.append($0) }
                offset = end
            }
            pulling: while true {
                switch parser.next() {
                case .body(let bytes): sink &+= bytes.count &+ Int(bytes.first ?? 0)
                case .requestComplete: done = true; break pulling
                case .needMoreData: break pulling
                default: fatalError("unexpected")
                }
            }
        }
    }
    if sink == 42 { print("") }
    return (now() - started) / Double(rounds)
}

let rounds = 40
let lengthHead = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.count)\r\n\r\n"
let chunkedHead = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
for round in 1...3 {
    let length = run(lengthHead, body, rounds: rounds)
    var line = String(format: "round %d: Content-Length %.3f ms per 4 MiB (%.2f ns/B)", round, length * 1e3, length * 1e9 / Double(bodyBytes))
    for size in [16, 1024, 8192, 65536] {
        let wire = chunked(size)
        let seconds = run(chunkedHead, wire, rounds: rounds)
        line += String(format: "; chunks of %d B: %.2f ns/B = %.2fx", size, seconds * 1e9 / Double(bodyBytes), seconds / length)
    }
    print(line)
}
