import Testing

@testable import CouponCore

@Suite struct JSONWriterTests {
    private func text(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test func escapes() {
        #expect(text { $0.writeString("a\"b\\c/d") } == #""a\"b\\c/d""#)
        #expect(text { $0.writeString("\n\r\t\u{08}\u{0C}") } == #""\n\r\t\b\f""#)
        #expect(text { $0.writeString("\u{0}\u{1}\u{1F}\u{7F}") } == "\"\\u0000\\u0001\\u001f\u{7F}\"")
        #expect(text { $0.writeString("满200减30 😀") } == "\"满200减30 😀\"")
        #expect(text { $0.writeString("") } == "\"\"")
    }

    @Test func integers() {
        #expect(text { $0.writeInt(Int64.max) } == "9223372036854775807")
        #expect(text { $0.writeInt(Int64.min) } == "-9223372036854775808")
        #expect(text { $0.writeInt(0) } == "0")
        #expect(text { $0.writeInt(-7) } == "-7")
        #expect(text { $0.writeInt(1_000_000) } == "1000000")
    }

    @Test func doubles() {
        #expect(text { $0.writeDouble(1.5) } == "1.5")
        #expect(text { $0.writeDouble(-0.25) } == "-0.25")
        #expect(text { $0.writeDouble(.infinity) } == "null")
        #expect(text { $0.writeDouble(.nan) } == "null")
    }

    @Test func structuredWriters() {
        let out = text { writer in
            writer.writeObject { object in
                object.objectField("error") { error in
                    error.field("code", "sold_out")
                    error.field("message", "no \"stock\" left")
                }
                object.field("remaining", Int64(0))
                object.field("ok", false)
                object.nullField("next")
                object.arrayField("codes") { array in
                    array.element("A")
                    array.element(2)
                    array.objectElement { $0.field("x", 1) }
                    array.arrayElement { _ in }
                }
            }
        }
        #expect(out == #"{"error":{"code":"sold_out","message":"no \"stock\" left"},"remaining":0,"ok":false,"next":null,"codes":["A",2,{"x":1},[]]}"#)
        #expect(text { $0.writeObject { _ in } } == "{}")
    }

    @Test func serializedKeepsOrder() {
        let value: JSONValue = ["z": 1, "a": [true, nil, "s"], "m": ["k": -1.5]]
        #expect(value.jsonText == #"{"z":1,"a":[true,null,"s"],"m":{"k":-1.5}}"#)
    }

    /// Documents that must survive parse → serialize unchanged, byte for byte.
    static let canonical: [String] = [
        #"{"user_id":"u1","request_id":"r1"}"#,
        #"[9223372036854775807,-9223372036854775808,0,1.5,-2.5e-07,1e+300]"#,
        #"{"s":"\"\\\n\r\t\b\f\u0001\u001f","u":"é中😀"}"#,
        #"[[[[]]],{},{"a":{"b":{"c":null}}}]"#,
        #"[true,false,null,""]"#,
    ]

    @Test(arguments: canonical)
    func exactRoundTrip(_ document: String) throws {
        let value = try parseJSON(document)
        #expect(value.jsonText == document)
        #expect(try JSONParser.parse(value.serialized()) == value)
    }

    @Test func escapedInputRoundTripsToValue() throws {
        // Escapes the writer does not produce (\/ and \u for printable text) parse to the same value.
        let value = try parseJSON(#"{"a":"\/\u0041\ud83d\ude00"}"#)
        #expect(value.jsonText == #"{"a":"/A😀"}"#)
        #expect(try parseJSON(value.jsonText) == value)
    }

    @Test func objectEqualityIgnoresOrder() throws {
        #expect(try parseJSON(#"{"a":1,"b":2}"#) == parseJSON(#"{"b":2,"a":1}"#))
        #expect(try parseJSON(#"{"a":1,"b":2}"#) != parseJSON(#"{"a":1,"b":3}"#))
        #expect(try parseJSON(#"{"a":1}"#) != parseJSON(#"{"a":1,"b":2}"#))
    }

    @Test func objectMutation() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["a"] = 3
        object["c"] = 4
        object["b"] = nil
        #expect(object.keys == ["a", "c"])
        #expect(object["a"] == 3)
        #expect(object.insertNew("a", 9) == false)
        for index in 0..<20 { object["k\(index)"] = .int(Int64(index)) }
        #expect(object["k19"] == 19)
        object["k5"] = nil
        #expect(object["k5"] == nil)
        #expect(object["k6"] == 6)
        #expect(object.count == 21)
    }
}
