/// Why a JSON document was rejected, and where: `offset` is the byte index of the problem
/// in the input. `message` is short and safe to return in a 400 response.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable reason codes; the raw value is the human text.
    public enum Reason: String, Sendable, Equatable {
        case unexpectedEnd = "unexpected end of input"
        case unexpectedCharacter = "unexpected character"
        case invalidLiteral = "invalid literal"
        case invalidNumber = "invalid number"
        case leadingZero = "leading zero in number"
        case unterminatedString = "unterminated string"
        case controlCharacter = "unescaped control character in string"
        case invalidEscape = "invalid escape sequence"
        case invalidUnicodeEscape = "invalid \\u escape"
        /// `\u0000`: valid JSON, but no coupond string may hold NUL (PostgreSQL text cannot).
        case nulCharacter = "NUL character (\\u0000) in string"
        case loneSurrogate = "lone surrogate in \\u escape"
        case invalidUTF8 = "invalid UTF-8"
        case expectedKey = "expected string key"
        case expectedColon = "expected ':' after key"
        case expectedCommaOrEnd = "expected ',' or closing bracket"
        case trailingComma = "trailing comma"
        case duplicateKey = "duplicate key"
        case tooDeep = "nesting too deep"
        case tooLarge = "input too large"
        case trailingData = "unexpected data after JSON value"
    }

    public var offset: Int
    public var reason: Reason

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// E.g. `invalid JSON: trailing comma at byte 12`.
    public var message: String { "invalid JSON: \(reason.rawValue) at byte \(offset)" }
    public var description: String { message }
}
