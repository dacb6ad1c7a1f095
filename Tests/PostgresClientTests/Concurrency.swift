import Foundation

/// Runs `body(i)` for `count` indices on `count` dedicated threads (blocking libpq stays off the cooperative pool)
/// and returns each call's error, if any, in index order.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String?] {
    let results = ResultBox(count)
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            do { try body(index) } catch { results.set(index, "\(error)") }
            group.leave()
        }
        thread.start()
    }
    group.wait()
    return results.all
}

final class ResultBox: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var values: [String?]
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: String) { lock.withLock { values[index] = value } }
    var all: [String?] { lock.withLock { values } }
}
