/// Typed reads of one JSON object's members for decoders, each failing with a
/// `ValidationError` that names the full wire path (`validity.from`). Explicit `null`
/// counts as absent for optional fields.
struct JSONFields {
    let object: JSONObject
    /// Path prefix of this object, "" at the top level.
    let path: String

    init(_ value: JSONValue, path: String) throws(ValidationError) {
        guard case .object(let object) = value else {
            throw ValidationError(field: path.isEmpty ? "body" : path, message: "must be a JSON object")
        }
        self.object = object
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> ValidationError {
        ValidationError(field: name(key), message: message)
    }

    /// The value of `key`, nil when absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    /// Rejects members not in `allowed` (typos such as `treshold` must not pass silently).
    func rejectUnknown(_ allowed: Set<String>) throws(ValidationError) {
        for key in object.keys where !allowed.contains(key) {
            throw error(key, "unknown field")
        }
    }

    /// Rejects a member that the chosen variant does not use.
    func rejectPresent(_ keys: [String], reason: String) throws(ValidationError) {
        for key in keys where has(key) {
            throw error(key, reason)
        }
    }

    func string(_ key: String) throws(ValidationError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw error(key, "must be a string") }
        return string
    }

    func requiredString(_ key: String) throws(ValidationError) -> String {
        guard let string = try string(key) else { throw error(key, "is required") }
        return string
    }

    func int64(_ key: String) throws(ValidationError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let integer = value.int64Value else { throw error(key, "must be an integer") }
        return integer
    }

    func requiredInt64(_ key: String) throws(ValidationError) -> Int64 {
        guard let integer = try int64(key) else { throw error(key, "is required") }
        return integer
    }

    func stringArray(_ key: String) throws(ValidationError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let elements) = value else { throw error(key, "must be an array of strings") }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .string(let string) = element else {
                throw ValidationError(field: "\(name(key))[\(index)]", message: "must be a string")
            }
            strings.append(string)
        }
        return strings
    }
}
