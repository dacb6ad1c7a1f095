import Testing

@testable import CouponCore

/// The flat string-object fast path (issue 15) against the general parser.
@Suite struct JSONStringFieldsTests {
    private let keys: [StaticString] = ["user_id", "request_id"]

    private func decode(_ text: String) throws(JSONStringFields.Failure) -> [String?] {
        try JSONStringFields.decode(Array(text.utf8), keys: keys)
    }

    @Test func decodesTheClaimShapeInKeyOrder() throws {
        #expect(try decode(#"{"user_id":"u1","request_id":"r1"}"#) == ["u1", "r1"])
        #expect(try decode(#" { "request_id" : "r\u00e9" , "user_id":"u\"2" } "#) == ["u\"2", "ré"])
        #expect(try decode(#"{"user_id":"u1"}"#) == ["u1", nil])
        #expect(try decode("{}") == [nil, nil])
    }

    @Test func invalidJSONGivesTheParsersError() {
        let cases = [
            #"{"user_id":"u1","user_id":"u2"}"#, #"{"user_id":"u1",}"#, #"{"user_id":"u1"} x"#,
            #"{"user_id":"u\u0000"}"#, #"{"user_id":"u1""#, #"{"user_id" "u1"}"#, "",
        ]
        for text in cases {
            var general: JSONError?
            do { _ = try JSONParser.parse(text) } catch { general = error }
            #expect(throws: JSONStringFields.Failure.invalid(general!)) { try decode(text) }
        }
        let invalidUTF8: [UInt8] = Array(#"{"user_id":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONStringFields.Failure.invalid(JSONError(.invalidUTF8, at: 12))) {
            try JSONStringFields.decode(invalidUTF8, keys: keys)
        }
        #expect(throws: JSONStringFields.Failure.invalid(JSONError(.tooLarge, at: 8))) {
            try JSONStringFields.decode(Array(#"{"user_id":"u1"}"#.utf8), keys: keys, limits: .init(maxBytes: 8))
        }
    }

    @Test func otherShapesFallBackToTheGeneralParser() {
        for text in [#"{"user_id":"u1","tags":["a"]}"#, #"{"user_id":1}"#, #"["u1"]"#, #"{"user_\u0069d":"u1"}"#, "null"] {
            #expect(throws: JSONStringFields.Failure.outsideFastPath) { try decode(text) }
        }
    }

    @Test func directWritersAppendToTheCallersBuffer() {
        var buffer = Array("prefix:".utf8)
        JSONWriter.append(to: &buffer) { writer in
            writer.writeObject { object in
                object.member("status", "granted")
                object.member("campaign_id", Int64(42))
                object.member("first", true)
                object.nullMember("note")
                object.member("code", "C\"1")
                object.objectMember("nested") { $0.member("n", 1) }
            }
        }
        #expect(String(decoding: buffer, as: UTF8.self)
            == #"prefix:{"status":"granted","campaign_id":42,"first":true,"note":null,"code":"C\"1","nested":{"n":1}}"#)
    }
}
