internal import CHiredis
import EventLoop

/// One hiredis async connection driven by one `EventLoop`, auto-pipelined: every command
/// appended during a loop turn leaves in the same `write`. It owns its hiredis context and
/// must not be touched off its loop. It adds what hiredis 0.14 lacks: command timeouts,
/// failing everything in flight when the connection dies, and reconnecting with backoff.
///
/// Completions run on the loop, exactly once each. A failure known at `send` time
/// (`.notConnected`) is delivered synchronously, before `send` returns.
public final class RedisConnection: @unchecked Sendable {  // every mutable field is confined to `loop`
    public let endpoint: RedisEndpoint
    public let loop: EventLoop
    public let options: RedisConnectionOptions

    enum State {
        case idle, connecting, connected
        /// The context is being freed; its commands are failing.
        case dropping
        case waitingToReconnect, closed
    }

    private(set) var state: State = .idle
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var fd: Int32 = -1
    private var interest: IOInterest = []
    private lazy var socketHandler = SocketHandler(self)
    private var inFlight = InFlightCommands()
    private var order = PipelineOrder<Completed>()
    /// Where commands are laid out for hiredis (reused: the loop owns this connection).
    private let commandBuffer = CommandBuffer()
    /// Where hiredis' reader builds replies (reused: one reply at a time, on the loop).
    private let replyArena = ReplyArena()
    /// Short bulk strings shared between replies (`RESPValue(copying:shortStrings:)`).
    private let shortStrings = ShortBulkStrings()
    private var backoff: ReconnectBackoff
    private var timeoutTimer: TimerID?
    private var connectTimer: TimerID?
    private var reconnectTimer: TimerID?
    /// Why the current context is being dropped, and when (commands older than the timeout get `.timeout`).
    private var dropReason: RedisError = .connectionLost
    private var droppedAt: UInt64 = 0
    /// Keeps `self` alive while hiredis holds an unretained pointer to it.
    private var retainedWhileAttached: RedisConnection?
    private let timeoutNs: UInt64
    private var announcedUp = false

    /// The last connect error, for logs and readiness probes.
    public private(set) var lastConnectError: RedisError?
    /// Called on the loop with `true` when the connection comes up and `false` when it goes down.
    public var onConnectionStateChange: ((Bool) -> Void)?

    /// `WAIT` group commit for `evalScript(…confirmedBy:)` (RedisConnection+ReplicaWait.swift).
    var replicaWaits = ReplicaWaitGroups<(wait: ReplicaWait, deliver: (Result<RESPValue, RedisError>) -> Void)>()

    /// How many times hiredis was asked to write (each is at most one `write` syscall); for tests.
    private(set) var writeEvents = 0

    public init(endpoint: RedisEndpoint, loop: EventLoop, options: RedisConnectionOptions = RedisConnectionOptions()) {
        self.endpoint = endpoint
        self.loop = loop
        self.options = options
        self.backoff = ReconnectBackoff(minMs: options.reconnectMinMs, maxMs: options.reconnectMaxMs)
        self.timeoutNs = UInt64(max(options.commandTimeoutMs, 1)) * 1_000_000
    }

    /// True once the server accepted the connection, until it drops.
    public var isConnected: Bool {
        loop.preconditionInEventLoop()
        return state == .connected
    }

    /// Starts connecting (non-blocking). Commands sent before the connection is up are queued
    /// and leave once it is; on failure the connection keeps retrying with backoff.
    public func connect() {
        loop.preconditionInEventLoop()
        switch state {
        case .idle, .waitingToReconnect:
            if let reconnectTimer { loop.cancel(reconnectTimer) }
            reconnectTimer = nil
            startConnecting()
        case .connecting, .connected, .dropping, .closed:
            return
        }
    }

    /// Sends one command. A server error reply completes with `.failure(.server(...))`.
    public func send(_ args: [RedisArgument], _ completion: @escaping (Result<RESPValue, RedisError>) -> Void) {
        loop.preconditionInEventLoop()
        enqueue(args, PendingCommand(completion, sequence: order.issue().sequence))
    }

    /// Sends one command and drops its reply undecoded (one shared `PendingCommand`: nothing allocated per command).
    public func sendDiscardingReply(_ args: [RedisArgument]) {
        loop.preconditionInEventLoop()
        enqueue(args, PendingCommand.discard)
    }

    /// `EVALSHA`, with `SCRIPT LOAD` pipelined before the script's first call in this session (no
    /// round trip); after a `NOSCRIPT` (someone ran `SCRIPT FLUSH`) loads it and re-sends once,
    /// and completions still run in the order the commands were sent (`PipelineOrder`).
    public func evalScript(
        _ script: RedisScript, keys: [RedisArgument] = [], args: [RedisArgument] = [],
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        evalScript(script, keys: keys, args: args, asking: false, completion)
    }

    /// `EVALSHA` whose reply `decode` reads in place (no `RESPValue` copy); an error reply,
    /// `NOSCRIPT` handling and ordering are as for `evalScript`.
    public func evalScript<T>(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], decoding decode: @escaping (RESPReplyView) -> T,
        _ completion: @escaping (Result<T, RedisError>) -> Void
    ) {
        loop.preconditionInEventLoop()
        let issued = order.issue(script: script.sha1)
        let call = PendingCommand({ result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let value): completion(.success(decode(RESPReplyView(value))))  // not reached: the decoder reads successes
            }
        }, sequence: issued.sequence)
        call.decoder = { reply in
            let decoded = decode(reply)
            return { completion(.success(decoded)) }
        }
        call.script = ScriptCall(script: script, command: script.evalshaCommand(keys: keys, args: args), asking: false)
        sendScript(call, loadFirst: issued.loadFirst)
    }

    /// `asking`: `ASKING` goes right before the `EVALSHA` (after any `SCRIPT LOAD`), for a cluster's `ASK` redirect.
    func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], asking: Bool,
        _ completion: @escaping (Result<RESPValue, RedisError>) -> Void
    ) {
        evalScript(script, keys: keys, args: args, asking: asking) { result, _ in completion(result) }
    }

    /// The same, also telling the completion whether the call was re-sent after `NOSCRIPT`
    /// (a `WAIT` sent before the re-send does not cover it: `ReplicaConfirmation`).
    func evalScript(
        _ script: RedisScript, keys: [RedisArgument], args: [RedisArgument], asking: Bool,
        _ completion: @escaping (Result<RESPValue, RedisError>, _ resent: Bool) -> Void
    ) {
        loop.preconditionInEventLoop()
        let issued = order.issue(script: script.sha1)
        let sent = SentCall()
        let call = PendingCommand({ result in completion(result, sent.call?.script?.retried ?? false) }, sequence: issued.sequence)
        sent.call = call
        call.script = ScriptCall(script: script, command: script.evalshaCommand(keys: keys, args: args), asking: asking)
        sendScript(call, loadFirst: issued.loadFirst)
    }

    private func sendScript(_ call: PendingCommand, loadFirst: Bool) {
        guard let script = call.script else { return }
        if loadFirst {
            enqueue(script.script.loadCommand, PendingCommand({ [self] loaded in
                guard case .failure(let error) = loaded else { return }
                call.loadError = error
                order.loadFailed(script.script.sha1)
            }, sequence: nil))
        }
        if script.asking { enqueue(["ASKING"], PendingCommand({ _ in }, sequence: nil)) }
        enqueue(script.command, call)
    }

    /// Hands one command to hiredis; one that cannot leave fails with `.notConnected` at once.
    private func enqueue(_ args: [RedisArgument], _ command: PendingCommand) {
        guard let context, state == .connected || state == .connecting else {
            return finish(command, .failure(.notConnected))
        }
        let now = MonotonicClock.now()
        if command !== PendingCommand.discard { command.sentAt = now }  // the shared discard is never written
        let privdata = Unmanaged.passRetained(command).toOpaque()
        let status = commandBuffer.withRESP(args) { formatted, length in
            redisAsyncFormattedCommand(context, RedisConnection.replyCallback, privdata, formatted, length)
        }
        guard status == REDIS_OK else {
            // hiredis refused it (context disconnecting) and will never call back: release here.
            Unmanaged<PendingCommand>.fromOpaque(privdata).release()
            return finish(command, .failure(.notConnected))
        }
        inFlight.sent(at: now)
        if timeoutTimer == nil { armTimeoutTimer(now: now) }
    }

    /// Runs a command's completion in send order: re-sends a script call that met `NOSCRIPT`
    /// and holds later replies until it answers. `decoded`: the delivery of a reply its
    /// command's decoder already read (`result` is then an unused placeholder).
    private func finish(_ command: PendingCommand, _ result: Result<RESPValue, RedisError>, decoded: (() -> Void)? = nil) {
        let done = Completed(command: command, result: result, decoded: decoded)
        guard let sequence = command.sequence else { return done.deliver() }
        var result = result
        var retry: String?
        if let call = command.script, case .failure(.server(let error)) = result, error.prefix == .noscript {
            if let loadError = command.loadError {
                result = .failure(loadError)  // the load itself failed (e.g. the script does not compile)
            } else if !call.retried {
                retry = call.script.sha1
            }
        }
        switch order.replied(sequence, Completed(command: command, result: result, decoded: decoded), noscript: retry) {
        case .deliverNow:
            Completed(command: command, result: result, decoded: decoded).deliver()
        case .held:
            return
        case .resend:
            command.script?.retried = true
            sendScript(command, loadFirst: true)
        case .release(let completed):
            for done in completed { done.deliver() }
        }
    }

    /// Closes for good: commands in flight fail with `.connectionLost`, later sends with `.notConnected`.
    public func close() {
        loop.preconditionInEventLoop()
        let previous = state
        state = .closed
        cancelTimers()
        if let reconnectTimer { loop.cancel(reconnectTimer) }
        reconnectTimer = nil
        if let context, previous != .dropping {
            dropReason = .connectionLost
            redisAsyncFree(context)  // inside a hiredis callback this only flags it; hiredis frees after
        }
    }

    // MARK: Connecting

    private func startConnecting() {
        dropReason = .connectionLost
        let created: UnsafeMutablePointer<redisAsyncContext>?
        switch endpoint {
        case .tcp(let host, let port): created = redisAsyncConnect(host, Int32(port))
        case .unix(let path): created = redisAsyncConnectUnix(path)
        }
        guard let created else {
            lastConnectError = .connectFailed("\(endpoint): out of memory")
            scheduleReconnect()
            return
        }
        if created.pointee.err != 0 {
            lastConnectError = .connectFailed("\(endpoint): \(Self.errorText(created))")
            redisAsyncFree(created)  // nothing attached yet: no hooks run
            scheduleReconnect()
            return
        }
        let descriptor = created.pointee.c.fd
        do {
            try loop.register(fd: descriptor, interest: [], handler: socketHandler)
        } catch {
            lastConnectError = .connectFailed("\(endpoint): \(error)")
            redisAsyncFree(created)
            scheduleReconnect()
            return
        }
        context = created
        fd = descriptor
        interest = []
        state = .connecting
        retainedWhileAttached = self  // also keeps `replyArena` alive as long as the context's reader
        replyArena.attach(to: created.pointee.c.reader)
        attachHooks(to: created)
        redisAsyncSetConnectCallback(created, RedisConnection.connectCallback)  // asks for write readiness
        connectTimer = loop.schedule(afterMilliseconds: options.connectTimeoutMs) { [self] in
            connectTimer = nil
            if state == .connecting {
                lastConnectError = .connectFailed("\(endpoint): connect timed out")
                drop(reason: .connectionLost)
            }
        }
    }

    private func connectFinished(ok: Bool, errorText: String) {
        if let connectTimer { loop.cancel(connectTimer) }
        connectTimer = nil
        guard ok else {
            // hiredis frees the context right after this; the cleanup hook schedules the retry.
            lastConnectError = .connectFailed("\(endpoint): \(errorText)")
            return
        }
        guard state == .connecting else { return }
        state = .connected
        lastConnectError = nil
        backoff.reset()
        announcedUp = true
        onConnectionStateChange?(true)
    }

    private func scheduleReconnect() {
        guard state != .closed else { return }
        state = .waitingToReconnect
        reconnectTimer = loop.schedule(afterMilliseconds: backoff.next()) { [self] in
            guard state == .waitingToReconnect else { return }
            reconnectTimer = nil
            startConnecting()
        }
    }

    // MARK: Dropping

    /// Frees the context now; its pending commands fail (overdue ones with `reason`).
    private func drop(reason: RedisError) {
        guard let context, state == .connected || state == .connecting else { return }
        state = .dropping
        dropReason = reason
        droppedAt = MonotonicClock.now()
        redisAsyncFree(context)
    }

    /// The cleanup hook: hiredis is about to free the context (after failing its commands).
    /// From here on the context must not be touched.
    private func contextWillBeFreed() {
        if fd >= 0 { loop.unregister(fd: fd) }
        fd = -1
        interest = []
        context = nil
        inFlight.removeAll()
        for done in order.reset() { done.deliver() }  // a new session loads its scripts again
        cancelTimers()
        let wasUp = announcedUp
        announcedUp = false
        if state != .closed {
            state = .waitingToReconnect
            scheduleReconnect()
        }
        if wasUp { onConnectionStateChange?(false) }
        // Release our self-reference after hiredis has returned from freeing the context.
        if let retained = retainedWhileAttached {
            retainedWhileAttached = nil
            loop.execute { withExtendedLifetime(retained) {} }
        }
    }

    private func cancelTimers() {
        if let timeoutTimer { loop.cancel(timeoutTimer) }
        if let connectTimer { loop.cancel(connectTimer) }
        timeoutTimer = nil
        connectTimer = nil
    }

    // MARK: Replies and timeouts

    private func commandFinished(_ command: PendingCommand, reply: UnsafeMutableRawPointer?) {
        inFlight.replied()
        if let reply {
            let object = reply.assumingMemoryBound(to: redisReply.self)
            if let decoder = command.decoder, object.pointee.type != REDIS_REPLY_ERROR {
                return finish(command, .success(.null), decoded: decoder(RESPReplyView(object)))
            }
            return finish(command, RESPValue(copying: object, shortStrings: shortStrings).asResult)
        }
        // NULL reply: the context is going away (server gone, timeout, close).
        if state == .connected || state == .connecting { state = .dropping }
        let overdue = droppedAt >= command.sentAt && droppedAt - command.sentAt >= timeoutNs
        finish(command, .failure(dropReason == .timeout && overdue ? .timeout : .connectionLost))
    }

    private func armTimeoutTimer(now: UInt64) {
        switch inFlight.check(now: now, timeout: timeoutNs) {
        case .idle:
            timeoutTimer = nil
        case .checkAt(let deadline):
            timeoutTimer = loop.schedule(afterNanoseconds: deadline - now) { [self] in
                timeoutTimer = nil
                armTimeoutTimer(now: MonotonicClock.now())
            }
        case .expired:
            timeoutTimer = nil
            drop(reason: .timeout)
        }
    }

    // MARK: Readiness

    fileprivate func socketReadable() {
        if let context { redisAsyncHandleRead(context) }
    }

    fileprivate func socketWritable() {
        guard let context else { return }
        writeEvents += 1
        redisAsyncHandleWrite(context)
    }

    private func setInterest(_ change: IOInterest, enabled: Bool) {
        let updated = enabled ? interest.union(change) : interest.subtracting(change)
        guard updated != interest, fd >= 0 else { return }
        interest = updated
        loop.setInterest(fd: fd, updated)
    }

    // MARK: hiredis hooks (C function pointers; `self` travels unretained in `data`)

    private func attachHooks(to context: UnsafeMutablePointer<redisAsyncContext>) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        context.pointee.data = me
        context.pointee.ev.data = me
        context.pointee.ev.addRead = { RedisConnection.owner($0).setInterest(.read, enabled: true) }
        context.pointee.ev.delRead = { RedisConnection.owner($0).setInterest(.read, enabled: false) }
        context.pointee.ev.addWrite = { RedisConnection.owner($0).setInterest(.write, enabled: true) }
        context.pointee.ev.delWrite = { RedisConnection.owner($0).setInterest(.write, enabled: false) }
        context.pointee.ev.cleanup = { RedisConnection.owner($0).contextWillBeFreed() }
    }

    private static func owner(_ data: UnsafeMutableRawPointer?) -> RedisConnection {
        Unmanaged<RedisConnection>.fromOpaque(data!).takeUnretainedValue()
    }

    private static let replyCallback: @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = {
        context, reply, privdata in
        // Exactly one retain per command was passed in `send`; hiredis calls back exactly once.
        let command = Unmanaged<PendingCommand>.fromOpaque(privdata!).takeRetainedValue()
        owner(context!.pointee.data).commandFinished(command, reply: reply)
    }

    private static let connectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = { context, status in
        let connection = owner(context!.pointee.data)
        connection.connectFinished(ok: status == REDIS_OK, errorText: status == REDIS_OK ? "" : errorText(context!))
    }

    private static func errorText(_ context: UnsafePointer<redisAsyncContext>) -> String {
        if let text = context.pointee.errstr { return String(cString: text) }
        return withUnsafeBytes(of: context.pointee.c.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// A command's completion, boxed so it can travel through hiredis as `privdata`.
final class PendingCommand {
    /// nil: the reply is dropped undecoded (`sendDiscardingReply`).
    let completion: ((Result<RESPValue, RedisError>) -> Void)?
    /// Its place in `PipelineOrder`; nil for the connection's own commands (`SCRIPT LOAD`, `ASKING`)
    /// and for discarded replies (nothing waits for them).
    let sequence: UInt64?
    var sentAt: UInt64 = 0
    /// Set for `EVALSHA`: what a re-send after `NOSCRIPT` needs.
    var script: ScriptCall?
    /// Why the `SCRIPT LOAD` pipelined before this call failed.
    var loadError: RedisError?
    /// Reads a non-error reply in place (`evalScript(…decoding:…)`) and returns its delivery;
    /// errors still go to `completion`.
    var decoder: ((RESPReplyView) -> () -> Void)?

    /// The one instance every discarded reply shares (retained per command like any other; never
    /// mutated: `enqueue` skips its `sentAt`, and it has no sequence, script or completion).
    nonisolated(unsafe) static let discard = PendingCommand(nil, sequence: nil)

    init(_ completion: ((Result<RESPValue, RedisError>) -> Void)?, sequence: UInt64?) {
        self.completion = completion
        self.sequence = sequence
    }
}

/// Lets a call's completion read the call (alive while its completion runs).
final class SentCall {
    weak var call: PendingCommand?
}

struct ScriptCall {
    let script: RedisScript
    let command: [RedisArgument]
    let asking: Bool
    var retried = false
}

/// A reply waiting for its turn.
struct Completed {
    let command: PendingCommand
    let result: Result<RESPValue, RedisError>
    /// Set when the command's decoder read the reply: delivers what it decoded.
    var decoded: (() -> Void)? = nil

    func deliver() {
        if let decoded { decoded() } else { command.completion?(result) }
    }
}

/// Forwards readiness of the connection's socket. Unowned so the loop's registry does not keep
/// the connection alive: the socket is registered only while the connection holds itself
/// (`retainedWhileAttached`, released after `contextWillBeFreed` unregisters it). Not `weak`: a
/// weak reference gives the connection a side table, and every retain of it (each hiredis
/// callback's owner lookup) would take Swift's slower side-table path.
private final class SocketHandler: IOHandler {
    unowned let connection: RedisConnection
    init(_ connection: RedisConnection) { self.connection = connection }
    func readable() { connection.socketReadable() }
    func writable() { connection.socketWritable() }
}
