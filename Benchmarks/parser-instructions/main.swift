import Glibc

// Instructions per claim request for HTTPRequestParser and for the copy-and-scan baseline
// (the loops of `coupon-bench --parser-only`), counted by callgrind: deterministic where the
// ns figures move with the machine's load and code alignment. Run by parser-instructions.sh:
// `main parser|baseline N` runs one loop N times; the script takes the difference of two N.

let request = typicalClaimRequest  // Benchmarks/coupon-bench/ParserSample.swift

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
let checksum = arguments[1] == "parser" ? parseTypicalClaimRequests(iterations: iterations) : copyAndScan(iterations: iterations)
if checksum == 42 { print("") }  // keeps the loop from being optimised away
