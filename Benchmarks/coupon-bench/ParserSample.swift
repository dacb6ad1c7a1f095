#if canImport(HTTPServer)
import HTTPServer  // in coupon-bench; parser-instructions.sh compiles this file with the parser's sources
#endif

/// The typical claim request of the parser figures (`coupon-bench --parser-only` and
/// `Benchmarks/parser-instructions.sh`): 300 bytes, 6 header fields, a JSON body.
let typicalClaimRequest: [UInt8] = {
    let body = #"{"user_id":"u1234567","request_id":"r-9f86d081884c7d65-42"}"#
    return Array(("POST /v1/campaigns/17/claims HTTP/1.1\r\nHost: coupond.internal:8080\r\n"
        + "Authorization: Bearer ck_issue_4f1c2b9a8e7d6c5b4a39281706f5e4d3\r\nContent-Type: application/json\r\n"
        + "User-Agent: shop-backend/2.3\r\nAccept: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body).utf8)
}()

/// Parses `typicalClaimRequest` `iterations` times with one parser, as a connection would;
/// returns a checksum that keeps the loop from being optimised away.
@inline(never)
func parseTypicalClaimRequests(iterations: Int) -> Int {
    let request = typicalClaimRequest
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
