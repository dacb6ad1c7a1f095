import Glibc

// Instructions per claim request for HTTPRequestParser and for the copy-and-scan baseline
// (the loops of `coupon-bench --parser-only`), counted by callgrind: deterministic where the
// ns figures move with the machine's load and code alignment. Run by parser-instructions.sh:
// `main parser|baseline N` runs one loop N times; the script takes the difference of two N.

let body = #"{"user_id":"u1234567","request_id":"r-9f86d081884c7d65-42"}"#
let request = Array(("POST /v1/campaigns/17/claims HTTP/1.1\r\nHost: coupond.internal:8080\r\n"
    + "Authorization: Bearer ck_issue_4f1c2b9a8e7d6c5b4a39281706f5e4d3\r\nContent-Type: application/json\r\n"
    + "User-Agent: shop-backend/2.3\r\nAccept: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body).utf8)

@inline(never)
func parse(iterations: Int) -> Int {
    var parser = HTTPRequestParser()
    var checksum = 0
    for _ in 0..<iterations {
        parser.append(request)
        loop: while true {
            switch parser.next() {
            case .headComplete(let head):
                checksum &+= head.target.utf8.count
                _ = parser.continueWithBodyLimit(16_384)
            case .body(let bytes): checksum &+= bytes.count
            case .requestComplete: break loop
            default: fatalError("unexpected parser action")
            }
        }
    }
    return checksum
}

@inline(never)
func copyAndScan(iterations: Int) -> Int {
    var checksum = 0
    var copy = [UInt8]()
    for _ in 0..<iterations {
        copy.removeAll(keepingCapacity: true)
        copy.append(contentsOf: request)
        copy.withUnsafeBytes { bytes in
            var index = 3
            while index < bytes.count, !(bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10) { index += 1 }
            checksum &+= index
        }
    }
    return checksum
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let iterations = Int(arguments[2]), ["parser", "baseline"].contains(arguments[1]) else {
    print("usage: \(arguments[0]) parser|baseline ITERATIONS")
    exit(2)
}
let checksum = arguments[1] == "parser" ? parse(iterations: iterations) : copyAndScan(iterations: iterations)
if checksum == 42 { print("") }  // keeps the loop from being optimised away
