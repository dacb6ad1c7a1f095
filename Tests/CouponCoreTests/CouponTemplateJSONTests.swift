import Testing

@testable import CouponCore

@Suite struct CouponTemplateJSONTests {
    static let spend200Save30 = #"""
        {"name": "Spend 200 save 30", "currency": "CNY", "kind": "amount_off",
         "threshold": 20000, "amount": 3000,
         "scope": {"business_lines": ["food"], "store_ids": ["s-1"]},
         "validity": {"type": "fixed", "from": "2026-11-23T00:00:00Z", "until": "2026-12-31T23:59:59Z"}}
        """#

    func decode(_ text: String) throws(ValidationError) -> CouponTemplate {
        try CouponTemplate(jsonBytes: Array(text.utf8))
    }

    func decodeError(_ text: String) -> ValidationError? {
        do throws(ValidationError) {
            _ = try decode(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func decodesTheExample() throws {
        let template = try decode(Self.spend200Save30)
        #expect(template.id == nil)
        #expect(template.name == "Spend 200 save 30")
        #expect(template.currency == "CNY")
        #expect(template.kind == .amountOff(threshold: 20000, amount: 3000))
        #expect(template.scope == CouponScope(businessLines: ["food"], storeIds: ["s-1"]))
        #expect(template.validity == .fixed(fromMs: 1_795_392_000_000, untilMs: 1_798_761_599_000))
    }

    @Test func decodesEveryKindWithDefaults() throws {
        #expect(try decode(#"{"name":"p","currency":"CNY","kind":"percent_off","percent":15,"validity":{"type":"relative","days":7}}"#).kind
            == .percentOff(threshold: 0, percent: 15, cap: nil))
        #expect(try decode(#"{"name":"p","currency":"CNY","kind":"percent_off","percent":15,"cap":5000,"threshold":100,"validity":{"type":"relative","days":7}}"#).kind
            == .percentOff(threshold: 100, percent: 15, cap: 5000))
        #expect(try decode(#"{"name":"f","currency":"USD","kind":"free_shipping","validity":{"type":"relative","days":1}}"#).kind
            == .freeShipping(threshold: 0))
        #expect(try decode(#"{"name":"g","currency":"EUR","kind":"gift","sku":"GIFT-MUG","validity":{"type":"relative","days":30}}"#).kind
            == .gift(threshold: 0, sku: "GIFT-MUG", giftValue: 0))
        #expect(try decode(#"{"name":"g","currency":"EUR","kind":"gift","sku":"GIFT-MUG","gift_value":1500,"threshold":9900,"validity":{"type":"relative","days":30}}"#).kind
            == .gift(threshold: 9900, sku: "GIFT-MUG", giftValue: 1500))
        let cash = try decode(#"{"name":"c","currency":"CNY","kind":"cash","amount":1000,"scope":null,"validity":{"type":"relative","days":3650}}"#)
        #expect(cash.kind == .cash(amount: 1000))
        #expect(cash.scope == .everywhere)
        #expect(cash.validity == .relative(days: 3650))
    }

    @Test func encodesAndRoundTrips() throws {
        let template = try decode(Self.spend200Save30)
        #expect(template.json.jsonText == #"{"name":"Spend 200 save 30","currency":"CNY","kind":"amount_off","threshold":20000,"amount":3000,"scope":{"business_lines":["food"],"store_ids":["s-1"]},"validity":{"type":"fixed","from":"2026-11-23T00:00:00Z","until":"2026-12-31T23:59:59Z"}}"#)
        let samples: [CouponTemplate] = [
            template,
            CouponTemplate(id: 42, name: "九折", currency: "CNY", kind: .percentOff(threshold: 0, percent: 10, cap: 2000), validity: .relative(days: 7)),
            CouponTemplate(id: 7, name: "ship", currency: "USD", kind: .freeShipping(threshold: 5000), scope: CouponScope(storeIds: ["s-1", "s-2"]), validity: .relative(days: 1)),
            CouponTemplate(name: "mug", currency: "EUR", kind: .gift(threshold: 0, sku: "GIFT-MUG", giftValue: 1500), validity: .fixed(fromMs: 1_500, untilMs: 86_400_000)),
            CouponTemplate(name: "cash", currency: "CNY", kind: .cash(amount: 1_000_000_000_000), validity: .relative(days: 30)),
        ]
        for sample in samples {
            #expect(sample.validationErrors().isEmpty)
            #expect(try CouponTemplate(json: sample.json) == sample)
            #expect(try CouponTemplate(jsonBytes: sample.json.serialized()) == sample)
        }
    }

    static let base = #""name":"n","currency":"CNY","validity":{"type":"relative","days":7}"#

    /// One bad field each → the named field and message.
    static let invalid: [(String, String, String)] = [
        ("[]", "body", "must be a JSON object"),
        ("{\"name\":", "body", "invalid JSON: unexpected end of input at byte 8"),
        (#"{"name":"a","name":"b"}"#, "body", "invalid JSON: duplicate key at byte 12"),
        (#"{\#(base),"kind":"cash","amount":1,"treshold":5}"#, "treshold", "unknown field"),
        (#"{"currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "name", "is required"),
        (#"{"name":5,"currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "name", "must be a string"),
        (#"{"name":"","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "name", "must be 1 to 200 characters"),
        (#"{"name":"\#(String(repeating: "x", count: 201))","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "name", "must be 1 to 200 characters"),
        (#"{"name":"a\nb","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "name", "must not contain control characters"),
        (#"{"name":"   ","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "name", "must not be blank"),
        (#"{"name":"n","currency":"cny","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "currency", "must be an ISO 4217 code of 3 upper-case letters"),
        (#"{"name":"n","currency":"CNYY","kind":"cash","amount":1,"validity":{"type":"relative","days":7}}"#, "currency", "must be an ISO 4217 code of 3 upper-case letters"),
        (#"{\#(base)}"#, "kind", "is required"),
        (#"{\#(base),"kind":"bogo"}"#, "kind", "must be one of amount_off, percent_off, free_shipping, gift, cash"),
        (#"{\#(base),"kind":"amount_off","amount":3000}"#, "threshold", "is required"),
        (#"{\#(base),"kind":"amount_off","threshold":20000}"#, "amount", "is required"),
        (#"{\#(base),"kind":"amount_off","threshold":20000,"amount":0}"#, "amount", "must be an integer from 1 to 1000000000000 (minor units)"),
        (#"{\#(base),"kind":"amount_off","threshold":-1,"amount":5}"#, "threshold", "must be an integer from 0 to 1000000000000 (minor units)"),
        (#"{\#(base),"kind":"amount_off","threshold":0,"amount":1000000000001}"#, "amount", "must be an integer from 1 to 1000000000000 (minor units)"),
        (#"{\#(base),"kind":"amount_off","threshold":0,"amount":30.5}"#, "amount", "must be an integer"),
        (#"{\#(base),"kind":"amount_off","threshold":0,"amount":"30"}"#, "amount", "must be an integer"),
        (#"{\#(base),"kind":"amount_off","threshold":0,"amount":99999999999999999999}"#, "amount", "must be an integer"),
        (#"{\#(base),"kind":"amount_off","threshold":0,"amount":1,"percent":5}"#, "percent", "not allowed for kind amount_off"),
        (#"{\#(base),"kind":"percent_off"}"#, "percent", "is required"),
        (#"{\#(base),"kind":"percent_off","percent":0}"#, "percent", "must be an integer from 1 to 100"),
        (#"{\#(base),"kind":"percent_off","percent":101}"#, "percent", "must be an integer from 1 to 100"),
        (#"{\#(base),"kind":"percent_off","percent":10,"cap":0}"#, "cap", "must be an integer from 1 to 1000000000000 (minor units)"),
        (#"{\#(base),"kind":"percent_off","percent":10,"amount":5}"#, "amount", "not allowed for kind percent_off"),
        (#"{\#(base),"kind":"free_shipping","cap":5}"#, "cap", "not allowed for kind free_shipping"),
        (#"{\#(base),"kind":"gift"}"#, "sku", "is required"),
        (#"{\#(base),"kind":"gift","sku":"has space"}"#, "sku", "must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @"),
        (#"{\#(base),"kind":"gift","sku":"S","gift_value":-1}"#, "gift_value", "must be an integer from 0 to 1000000000000 (minor units)"),
        (#"{\#(base),"kind":"cash","amount":100,"threshold":0}"#, "threshold", "not allowed for kind cash"),
        (#"{\#(base),"kind":"cash"}"#, "amount", "is required"),
        (#"{\#(base),"kind":"cash","amount":1,"scope":[]}"#, "scope", "must be a JSON object"),
        (#"{\#(base),"kind":"cash","amount":1,"scope":{"stores":[]}}"#, "scope.stores", "unknown field"),
        (#"{\#(base),"kind":"cash","amount":1,"scope":{"store_ids":"s-1"}}"#, "scope.store_ids", "must be an array of strings"),
        (#"{\#(base),"kind":"cash","amount":1,"scope":{"store_ids":["s-1",2]}}"#, "scope.store_ids[1]", "must be a string"),
        (#"{\#(base),"kind":"cash","amount":1,"scope":{"business_lines":["ok",""]}}"#, "scope.business_lines[1]", "must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1}"#, "validity", "is required"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"weekly"}}"#, "validity.type", "must be fixed or relative"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":0}}"#, "validity.days", "must be an integer from 1 to 3650"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"relative","days":7,"from":"x"}}"#, "validity.from", "unknown field"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"fixed","from":"2026-11-23","until":"2026-12-31T23:59:59Z"}}"#, "validity.from", "must be an RFC 3339 timestamp such as 2026-11-23T00:00:00Z"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"fixed","from":"2026-11-23T00:00:00Z"}}"#, "validity.until", "is required"),
        (#"{"name":"n","currency":"CNY","kind":"cash","amount":1,"validity":{"type":"fixed","from":"2026-12-31T00:00:00Z","until":"2026-11-23T00:00:00Z"}}"#, "validity.until", "must be after from"),
        (#"{"id":0,\#(base),"kind":"cash","amount":1}"#, "id", "must be a positive integer"),
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String, _ field: String, _ message: String) {
        #expect(decodeError(text) == ValidationError(field: field, message: message))
    }

    @Test func tooManyScopeEntries() {
        let stores = (0...100).map { "\"s-\($0)\"" }.joined(separator: ",")
        let text = #"{\#(Self.base),"kind":"cash","amount":1,"scope":{"store_ids":[\#(stores)]}}"#
        #expect(decodeError(text) == ValidationError(field: "scope.store_ids", message: "must have at most 100 entries"))
    }

    @Test func validationErrorsCollectsEveryProblem() {
        let bad = CouponTemplate(id: nil, name: "", currency: "cn", kind: .percentOff(threshold: -1, percent: 0, cap: 0), scope: .everywhere, validity: .relative(days: 0))
        #expect(bad.validationErrors().map(\.field) == ["name", "currency", "threshold", "percent", "cap", "validity.days"])
    }
}
