/// When a background task runs its next step: the pure part of `BackgroundTask`, tested
/// without a clock. A step reports whether it found work; the answer is a delay in milliseconds.
public struct TaskPacing: Sendable, Equatable {
    /// Delay after a step that did work (0: at once, as a flusher catching up does).
    public var afterWorkMs: Int
    /// Delay after a step that found nothing, doubling while idle up to `maxIdleMs`.
    public var idleMs: Int
    public var maxIdleMs: Int
    /// Delay after a failed step, doubling while failing up to `maxErrorMs`.
    public var errorMs: Int
    public var maxErrorMs: Int
    /// Delay before the first step.
    public var firstDelayMs: Int

    public init(afterWorkMs: Int, idleMs: Int, maxIdleMs: Int, errorMs: Int, maxErrorMs: Int, firstDelayMs: Int) {
        self.afterWorkMs = max(afterWorkMs, 0)
        self.idleMs = max(idleMs, 0)
        self.maxIdleMs = max(maxIdleMs, self.idleMs)
        self.errorMs = max(errorMs, 0)
        self.maxErrorMs = max(maxErrorMs, self.errorMs)
        self.firstDelayMs = max(firstDelayMs, 0)
    }

    /// A poller (the flushers, the bulk job runner): again at once while there is work; idle
    /// polls back off from `idleMs` to `maxIdleMs`; failures from 50 ms to 2 s (or as given).
    public static func polling(idleMs: Int, maxIdleMs: Int? = nil, errorMs: Int = 50, maxErrorMs: Int = 2_000) -> TaskPacing {
        TaskPacing(afterWorkMs: 0, idleMs: idleMs, maxIdleMs: maxIdleMs ?? idleMs, errorMs: errorMs, maxErrorMs: maxErrorMs, firstDelayMs: 0)
    }

    /// A periodic pass (the expiry sweep, the campaign sync): every `everyMs`, first one after
    /// `everyMs`; a failed pass is retried on the next one.
    public static func periodic(everyMs: Int) -> TaskPacing {
        TaskPacing(afterWorkMs: everyMs, idleMs: everyMs, maxIdleMs: everyMs, errorMs: everyMs, maxErrorMs: everyMs, firstDelayMs: everyMs)
    }

    public enum Outcome: Sendable, Equatable { case worked, idle, failed }

    /// The running state: current idle and error delays.
    public struct State: Sendable, Equatable {
        public let pacing: TaskPacing
        private var idle: Int
        private var error: Int

        public init(_ pacing: TaskPacing) {
            self.pacing = pacing
            idle = pacing.idleMs
            error = pacing.errorMs
        }

        /// The delay before the next step, given how the last one went.
        public mutating func delay(after outcome: Outcome) -> Int {
            switch outcome {
            case .worked:
                idle = pacing.idleMs
                error = pacing.errorMs
                return pacing.afterWorkMs
            case .idle:
                error = pacing.errorMs
                defer { idle = min(idle * 2, pacing.maxIdleMs) }
                return idle
            case .failed:
                idle = pacing.idleMs
                defer { error = min(error * 2, pacing.maxErrorMs) }
                return error
            }
        }
    }
}
