import Testing

@testable import CouponCore

/// Parses text through the byte API.
func parseJSON(_ text: String) throws(JSONError) -> JSONValue {
    try JSONParser.parse(Array(text.utf8))
}

/// The error a parse produced, or nil when it succeeded.
func parseError(_ bytes: [UInt8], limits: JSONParser.Limits = .default) -> JSONError? {
    do throws(JSONError) {
        _ = try JSONParser.parse(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

@Suite struct JSONParserTests {
    @Test func claimBody() throws {
        let value = try parseJSON(#"{"user_id":"u1","request_id":"r1"}"#)
        #expect(value["user_id"]?.stringValue == "u1")
        #expect(value["request_id"]?.stringValue == "r1")
        #expect(value.objectValue?.keys == ["user_id", "request_id"])
        #expect(value["missing"] == nil)
    }

    @Test func scalarsAndWhitespace() throws {
        #expect(try parseJSON(" \t\r\n true \n") == .bool(true))
        #expect(try parseJSON("false") == .bool(false))
        #expect(try parseJSON("null") == .null)
        #expect(try parseJSON("\"\"") == .string(""))
        #expect(try parseJSON("[]") == .array([]))
        #expect(try parseJSON("{}") == .object(JSONObject()))
        #expect(try parseJSON("[1, [2, {\"a\": [null]}]]") == [1, [2, ["a": [nil]]]])
    }

    @Test func keyOrderIsKept() throws {
        let value = try parseJSON(#"{"z":1,"a":2,"m":3,"b":4,"c":5,"d":6,"e":7,"f":8,"g":9,"h":10}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["z", "a", "m", "b", "c", "d", "e", "f", "g", "h"])
        #expect(object["h"]?.int64Value == 10)
        #expect(object["z"]?.int64Value == 1)
    }

    @Test func everyEscape() throws {
        let value = try parseJSON(#""\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \u4e2d \u0001""#)
        #expect(value.stringValue == "\" \\ / \u{08} \u{0C} \n \r \t A é 中 \u{1}")
    }

    @Test func surrogatePairs() throws {
        #expect(try parseJSON(#""\ud83d\ude00""#).stringValue == "😀")
        #expect(try parseJSON(#""x\uD834\uDD1Ey""#).stringValue == "x𝄞y")
    }

    @Test func rawUTF8PassesThrough() throws {
        #expect(try parseJSON("\"满200减30 😀 é\"").stringValue == "满200减30 😀 é")
        #expect(try parseJSON("{\"名\":\"值\"}")["名"]?.stringValue == "值")
    }

    @Test func integersStayExact() throws {
        #expect(try parseJSON("9223372036854775807").int64Value == Int64.max)
        #expect(try parseJSON("-9223372036854775808").int64Value == Int64.min)
        #expect(try parseJSON("0") == .number(.integer(0)))
        #expect(try parseJSON("-0") == .number(.integer(0)))
        #expect(try parseJSON("20000") == .number(.integer(20000)))
        // 2^63 does not fit Int64: it becomes a double and has no exact Int64 value.
        let big = try parseJSON("9223372036854775808")
        #expect(big == .number(.double(9223372036854775808.0)))
        #expect(big.int64Value == nil)
        #expect(try parseJSON("-9223372036854775809").int64Value == nil)
    }

    @Test func nonIntegers() throws {
        #expect(try parseJSON("1.5") == .number(.double(1.5)))
        #expect(try parseJSON("1.5").int64Value == nil)
        #expect(try parseJSON("-0.25e1") == .number(.double(-2.5)))
        #expect(try parseJSON("1E+2") == .number(.double(100)))
        #expect(try parseJSON("1e3").int64Value == nil)  // only integer literals are exact
        #expect(try parseJSON("2.0").int64Value == nil)
        #expect(try parseJSON("1e400") == .number(.double(.infinity)))
        #expect(try parseJSON("1e400").int64Value == nil)
        #expect(try parseJSON("1e-400") == .number(.double(0)))
        #expect(try parseJSON("0.1").doubleValue == 0.1)
    }

    @Test func accessors() throws {
        let value = try parseJSON(#"{"s":"x","n":3,"b":true,"a":[1,2],"o":{},"z":null}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["s"]?.int64Value == nil)
        #expect(value["n"]?.int64Value == 3)
        #expect(value["n"]?.stringValue == nil)
        #expect(value["b"]?.boolValue == true)
        #expect(value["a"]?[1]?.int64Value == 2)
        #expect(value["a"]?[2] == nil)
        #expect(value["o"]?.objectValue?.isEmpty == true)
        #expect(value["z"]?.isNull == true)
        #expect(value["a"]?["x"] == nil)
        #expect(value["a"]?.typeName == "array")
    }

    @Test func rawBufferEntryPoint() throws {
        let bytes = Array(#"[1,"a"]"#.utf8)
        let value = try bytes.withUnsafeBytes { raw in try JSONParser.parse(raw) }
        #expect(value == [1, "a"])
        #expect(parseError([]) == JSONError(.unexpectedEnd, at: 0))
    }

    /// Malformed documents: each must fail with the given reason at the given byte.
    static let malformed: [(String, [UInt8], JSONError.Reason, Int)] = [
        ("empty", [], .unexpectedEnd, 0),
        ("whitespace only", Array("  ".utf8), .unexpectedEnd, 2),
        ("trailing comma in array", Array("[1,2,]".utf8), .trailingComma, 4),
        ("trailing comma in object", Array(#"{"a":1,}"#.utf8), .trailingComma, 6),
        ("leading comma", Array("[,1]".utf8), .unexpectedCharacter, 1),
        ("missing comma", Array("[1 2]".utf8), .expectedCommaOrEnd, 3),
        ("leading zero", Array("01".utf8), .leadingZero, 0),
        ("negative leading zero", Array("-012".utf8), .leadingZero, 1),
        ("lone minus", Array("-".utf8), .unexpectedEnd, 1),
        ("minus letter", Array("-a".utf8), .invalidNumber, 0),
        ("plus sign", Array("+1".utf8), .unexpectedCharacter, 0),
        ("dot without digits", Array("1.".utf8), .invalidNumber, 2),
        ("leading dot", Array(".5".utf8), .unexpectedCharacter, 0),
        ("empty exponent", Array("1e".utf8), .invalidNumber, 2),
        ("signed empty exponent", Array("1e+".utf8), .invalidNumber, 3),
        ("NaN", Array("NaN".utf8), .unexpectedCharacter, 0),
        ("Infinity", Array("Infinity".utf8), .unexpectedCharacter, 0),
        ("bad literal", Array("tru".utf8), .unexpectedEnd, 3),
        ("misspelled literal", Array("nul1".utf8), .invalidLiteral, 0),
        ("capital literal", Array("True".utf8), .unexpectedCharacter, 0),
        ("single quotes", Array("'a'".utf8), .unexpectedCharacter, 0),
        ("unterminated string", Array(#""abc"#.utf8), .unterminatedString, 0),
        ("unterminated escaped string", Array(#""a\n"#.utf8), .unterminatedString, 0),
        ("raw newline in string", Array("\"a\nb\"".utf8), .controlCharacter, 2),
        ("raw tab in string", Array("\"\t\"".utf8), .controlCharacter, 1),
        ("bad escape", Array(#""\x""#.utf8), .invalidEscape, 1),
        ("short unicode escape", Array(#""\u12""#.utf8), .invalidUnicodeEscape, 1),
        ("non-hex unicode escape", Array(#""\u12G4""#.utf8), .invalidUnicodeEscape, 1),
        ("lone high surrogate", Array(#""\ud800""#.utf8), .loneSurrogate, 1),
        ("lone low surrogate", Array(#""\udc00""#.utf8), .loneSurrogate, 1),
        ("high surrogate then text", Array(#""\ud800abcdef""#.utf8), .loneSurrogate, 1),
        ("two high surrogates", Array(#""\ud800\ud800""#.utf8), .loneSurrogate, 1),
        ("unquoted key", Array("{a:1}".utf8), .expectedKey, 1),
        ("number key", Array("{1:1}".utf8), .expectedKey, 1),
        ("missing colon", Array(#"{"a" 1}"#.utf8), .expectedColon, 5),
        ("missing value", Array(#"{"a":}"#.utf8), .unexpectedCharacter, 5),
        ("duplicate key", Array(#"{"a":1,"a":2}"#.utf8), .duplicateKey, 7),
        ("duplicate key via escape", Array(#"{"a":1,"\u0061":2}"#.utf8), .duplicateKey, 7),
        ("unclosed array", Array("[1".utf8), .unexpectedEnd, 2),
        ("unclosed object", Array(#"{"a":1"#.utf8), .unexpectedEnd, 6),
        ("mismatched bracket", Array("[1}".utf8), .expectedCommaOrEnd, 2),
        ("two values", Array("1 2".utf8), .trailingData, 2),
        ("trailing garbage", Array("{}x".utf8), .trailingData, 2),
        ("comment", Array("[1]//".utf8), .trailingData, 3),
        ("byte order mark", [0xEF, 0xBB, 0xBF] + Array("1".utf8), .unexpectedCharacter, 0),
        ("invalid UTF-8 byte", [0x22, 0xFF, 0x22], .invalidUTF8, 1),
        ("continuation byte alone", [0x22, 0x80, 0x22], .invalidUTF8, 1),
        ("overlong slash", [0x22, 0xC0, 0xAF, 0x22], .invalidUTF8, 1),
        ("overlong 3-byte", [0x22, 0xE0, 0x80, 0xAF, 0x22], .invalidUTF8, 1),
        ("encoded surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22], .invalidUTF8, 1),
        ("above U+10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], .invalidUTF8, 1),
        ("truncated sequence", [0x22, 0xE4, 0xB8], .invalidUTF8, 1),
        ("truncated then quote", [0x22, 0xE4, 0x22], .invalidUTF8, 1),
        ("NUL outside string", [0x00], .unexpectedCharacter, 0),
        ("escaped NUL in string", Array(#""a\u0000b""#.utf8), .nulCharacter, 2),
        ("escaped NUL in key", Array(#"{"\u0000":1}"#.utf8), .nulCharacter, 2),
        ("raw NUL in string", [0x22, 0x61, 0x00, 0x22], .controlCharacter, 2),
    ]

    @Test(arguments: malformed)
    func rejects(_ name: String, _ bytes: [UInt8], _ reason: JSONError.Reason, _ offset: Int) {
        #expect(parseError(bytes) == JSONError(reason, at: offset), "\(name)")
    }

    @Test func deepNestingIsRejected() {
        let ok = Array(String(repeating: "[", count: 64).utf8) + Array(String(repeating: "]", count: 64).utf8)
        #expect(parseError(ok) == nil)
        let deep = Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8)
        #expect(parseError(deep) == JSONError(.tooDeep, at: 64))
        let hostile = Array(String(repeating: "{\"a\":", count: 100_000).utf8)
        #expect(parseError(hostile)?.reason == .tooDeep)
        let hostileArrays = [UInt8](repeating: ASCII.openBracket, count: 500_000)
        #expect(parseError(hostileArrays)?.reason == .tooDeep)
    }

    @Test func sizeGuard() {
        let limits = JSONParser.Limits(maxDepth: 64, maxBytes: 10)
        #expect(parseError(Array("[1,2,3,4,5]".utf8), limits: limits) == JSONError(.tooLarge, at: 10))
        #expect(parseError(Array("[1,2,3,45]".utf8), limits: limits) == nil)
    }

    @Test func errorMessage() {
        let error = parseError(Array("[1,]".utf8))
        #expect(error?.message == "invalid JSON: trailing comma at byte 2")
    }

    @Test func truncationsNeverCrash() {
        // Every prefix of a rich document either parses or fails cleanly.
        let document = Array(#"{"a":[1,-2.5e-3,true,false,null,"x\u00e9\ud83d\ude00\n"],"b":{"c":"满"}}"#.utf8)
        for length in 0..<document.count {
            #expect(parseError(Array(document[0..<length])) != nil)
        }
        #expect(parseError(document) == nil)
    }
}
