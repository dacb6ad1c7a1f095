/// One problem with client input, named by its wire field path (`validity.from`,
/// `scope.store_ids[3]`) with a short message safe to return in a 400 response.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// E.g. `percent: must be an integer from 1 to 100`.
    public var description: String { "\(field): \(message)" }
}
