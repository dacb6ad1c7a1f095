/// Carries a loop-confined value (a route handler, a request) through a cross-thread hop
/// that returns to the same loop before the value is used.
struct LoopHop<Value>: @unchecked Sendable {  // used only on the loop it came from
    let value: Value
}
