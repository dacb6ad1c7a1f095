@testable import HTTPServer

/// What a parser produced, flattened for exact comparisons.
enum ParsedEvent: Equatable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case complete
    case error(HTTPParserError.Code, status: Int)
}

/// Feeds `chunks` one by one, pulling actions after each; continues past a head with `bodyLimit`.
/// Adjacent body events are merged so results don't depend on the split.
func parse(_ chunks: [[UInt8]], bodyLimit: Int = 1 << 20, limits: HTTPParserLimits = HTTPParserLimits()) -> [ParsedEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [ParsedEvent] = []
    func record(_ event: ParsedEvent) {
        if case .body(let more) = event, case .body(let previous)? = events.last {
            events[events.count - 1] = .body(previous + more)
        } else {
            events.append(event)
        }
    }
    outer: for chunk in chunks {
        parser.append(chunk)
        while true {
            switch parser.next() {
            case .needMoreData:
                continue outer
            case .headComplete(let head):
                record(.head(head))
                if case .error(let error)? = parser.continueWithBodyLimit(bodyLimit) {
                    record(.error(error.code, status: error.status))
                    break outer
                }
            case .body(let bytes):
                record(.body(Array(bytes)))
            case .requestComplete:
                record(.complete)
            case .error(let error):
                record(.error(error.code, status: error.status))
                break outer
            }
        }
    }
    return events
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

func head(
    _ method: HTTPMethod, _ target: String, version: HTTPVersion = .http1_1, headers: [(String, String)],
    contentLength: Int = 0, keepAlive: Bool = true, chunked: Bool = false
) -> HTTPRequestHead {
    HTTPRequestHead(
        method: method, target: target, version: version, headers: HTTPHeaders(headers), contentLength: contentLength,
        keepAlive: keepAlive, isChunked: chunked)
}
