import Glibc

/// A fast path for request bodies that are one flat object of string members, such as a
/// claim (`{"user_id":"u1","request_id":"r1"}`): decodes the members named in `keys` straight
/// from the bytes, without a `JSONValue` tree, a `JSONObject` or key `String`s.
///
/// As strict as `JSONParser` on what it accepts (UTF-8, escapes, NUL, duplicate keys,
/// trailing data, `maxBytes`); anything outside its shape — a key not in `keys`, a value that
/// is not a string — is reported as `.outsideFastPath`, so the caller falls back to
/// `JSONParser` and the general rules, and the two paths never disagree on a body.
public enum JSONStringFields {
    public enum Failure: Error, Equatable, Sendable {
        /// Not valid JSON (or not an object): the same error `JSONParser` gives.
        case invalid(JSONError)
        /// Valid-looking but outside the fast path's shape: decode with `JSONParser` instead.
        case outsideFastPath
    }

    /// Values of `keys` (nil where absent), in `keys`' order. At most 8 keys.
    public static func decode(
        _ buffer: UnsafeBufferPointer<UInt8>, keys: [StaticString], limits: JSONParser.Limits = .default
    ) throws(Failure) -> [String?] {
        let values = try decodeFields(buffer, keys: keys, limits: limits)
        return keys.indices.map { values[$0] }
    }

    /// Up to 8 decoded values, held inline (no array): `values[i]` is the value of `keys[i]`.
    public struct Fields: Sendable {
        private var slots: (String?, String?, String?, String?, String?, String?, String?, String?)

        init() { slots = (nil, nil, nil, nil, nil, nil, nil, nil) }

        public subscript(index: Int) -> String? {
            get {
                switch index {
                case 0: slots.0
                case 1: slots.1
                case 2: slots.2
                case 3: slots.3
                case 4: slots.4
                case 5: slots.5
                case 6: slots.6
                case 7: slots.7
                default: nil
                }
            }
            set {
                switch index {
                case 0: slots.0 = newValue
                case 1: slots.1 = newValue
                case 2: slots.2 = newValue
                case 3: slots.3 = newValue
                case 4: slots.4 = newValue
                case 5: slots.5 = newValue
                case 6: slots.6 = newValue
                case 7: slots.7 = newValue
                default: preconditionFailure("JSONStringFields handles at most 8 keys")
                }
            }
        }
    }

    /// `decode` without the array: the claim path's form.
    public static func decodeFields(
        _ buffer: UnsafeBufferPointer<UInt8>, keys: [StaticString], limits: JSONParser.Limits = .default
    ) throws(Failure) -> Fields {
        precondition(keys.count <= 8, "JSONStringFields handles at most 8 keys")
        if buffer.count > limits.maxBytes { throw .invalid(JSONError(.tooLarge, at: limits.maxBytes)) }
        var values = Fields()
        var reader = JSONReader(bytes: buffer, maxDepth: limits.maxDepth)
        do throws(JSONError) {
            reader.skipWhitespace()
            guard reader.position < buffer.count else { throw JSONError(.unexpectedEnd, at: reader.position) }
            guard buffer[reader.position] == ASCII.openBrace else { throw Failure.outsideFastPath.json }
            reader.position += 1
            reader.skipWhitespace()
            if reader.position < buffer.count, buffer[reader.position] == ASCII.closeBrace {
                reader.position += 1
            } else {
                members: while true {
                    reader.skipWhitespace()
                    guard reader.position < buffer.count else { throw JSONError(.unexpectedEnd, at: reader.position) }
                    guard buffer[reader.position] == ASCII.quote else { throw JSONError(.expectedKey, at: reader.position) }
                    let keyStart = reader.position
                    guard let slot = matchKey(buffer, at: keyStart, keys: keys) else { throw Failure.outsideFastPath.json }
                    reader.position = slot.end
                    reader.skipWhitespace()
                    guard reader.position < buffer.count else { throw JSONError(.unexpectedEnd, at: reader.position) }
                    guard buffer[reader.position] == ASCII.colon else { throw JSONError(.expectedColon, at: reader.position) }
                    reader.position += 1
                    reader.skipWhitespace()
                    guard reader.position < buffer.count else { throw JSONError(.unexpectedEnd, at: reader.position) }
                    guard buffer[reader.position] == ASCII.quote else { throw Failure.outsideFastPath.json }
                    let value = try reader.parseString()
                    if values[slot.index] != nil { throw JSONError(.duplicateKey, at: keyStart) }
                    values[slot.index] = value
                    reader.skipWhitespace()
                    guard reader.position < buffer.count else { throw JSONError(.unexpectedEnd, at: reader.position) }
                    switch buffer[reader.position] {
                    case ASCII.comma:
                        let comma = reader.position
                        reader.position += 1
                        reader.skipWhitespace()
                        if reader.position < buffer.count, buffer[reader.position] == ASCII.closeBrace {
                            throw JSONError(.trailingComma, at: comma)
                        }
                    case ASCII.closeBrace:
                        reader.position += 1
                        break members
                    default:
                        throw JSONError(.expectedCommaOrEnd, at: reader.position)
                    }
                }
            }
            reader.skipWhitespace()
            if reader.position < buffer.count { throw JSONError(.trailingData, at: reader.position) }
        } catch {
            if error.offset == Failure.outsideFastPathMarker { throw .outsideFastPath }
            throw .invalid(error)
        }
        return values
    }

    public static func decode(_ bytes: [UInt8], keys: [StaticString], limits: JSONParser.Limits = .default) throws(Failure) -> [String?] {
        let result: Result<[String?], Failure> = bytes.withUnsafeBufferPointer { buffer in
            do throws(Failure) { return .success(try decode(buffer, keys: keys, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The key starting at the quote at `start` when it is one of `keys` spelled without
    /// escapes: its index and the position after its closing quote. nil for any other key
    /// (including an escaped spelling of a wanted one: the general parser decides those).
    private static func matchKey(
        _ buffer: UnsafeBufferPointer<UInt8>, at start: Int, keys: [StaticString]
    ) -> (index: Int, end: Int)? {
        for (index, key) in keys.enumerated() {
            let length = key.utf8CodeUnitCount
            let end = start + 1 + length
            guard end < buffer.count, buffer[end] == ASCII.quote else { continue }
            if memcmp(buffer.baseAddress! + start + 1, key.utf8Start, length) == 0 { return (index, end + 1) }
        }
        return nil
    }
}

extension JSONStringFields.Failure {
    /// `.outsideFastPath` travels through the reader's typed `JSONError` as this offset.
    static let outsideFastPathMarker = Int.min
    var json: JSONError { JSONError(.unexpectedCharacter, at: Self.outsideFastPathMarker) }
}
