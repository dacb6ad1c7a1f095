import CSystem
import EventLoop
import Foundation
import Glibc
import HTTPServer
import Synchronization

/// Hands out claim numbers across loops; past `total` there is nothing left to send.
final class ClaimCounter: Sendable {
    let total: Int
    private let next = Atomic<Int>(0)
    let completed = Atomic<Int>(0)
    init(total: Int) { self.total = total }
    func take() -> Int? {
        let index = next.add(1, ordering: .relaxed).oldValue
        return index < total ? index : nil
    }
}

/// What one loop measured; merged on the main thread at the end.
struct LoopStats {
    var histogram = LatencyHistogram()
    var perSecondCount: [Int] = []
    var perSecondHistogram: [LatencyHistogram] = []
    var outcomes: [String: Int] = [:]
    /// 201 answers: coupon code and user number.
    var grants: [(code: String, user: Int)] = []
    /// Distinct claims sent per user (retries are the same claim).
    var claimsPerUser: [Int32]
    var retries = 0
    var timeouts = 0
    var connectionErrors = 0
    /// Claims with no definitive answer (timed out after every retry, 5xx, cut off by the hard cap).
    var unknown = 0
    var sent = 0
    /// When the first `sold_out` and the last 201 arrived (monotonic ns): a sold_out before the
    /// last grant was answered while stock remained somewhere (sharded campaigns, issue 10).
    var firstSoldOutNs: UInt64?
    var lastGrantNs: UInt64?

    init(users: Int) { claimsPerUser = [Int32](repeating: 0, count: users) }

    mutating func record(second: Int, micros: UInt64) {
        histogram.record(micros: micros)
        guard second >= 0 else { return }
        while perSecondCount.count <= second {
            perSecondCount.append(0)
            perSecondHistogram.append(LatencyHistogram())
        }
        perSecondCount[second] += 1
        perSecondHistogram[second].record(micros: micros)
    }
}

/// One loop's share of the load: its connections, the open-loop arrival schedule and backlog,
/// and its statistics. Everything runs on `loop`.
final class LoadDriver: @unchecked Sendable {  // confined to `loop` after start
    let loop: EventLoop
    let options: LoadOptions
    let workload: Workload
    let counter: ClaimCounter
    let campaignId: Int64
    let issueKey: String
    let startNs: UInt64
    let sendUntilNs: UInt64
    let hardStopNs: UInt64
    let ratePerLoop: Double?
    let connectionCount: Int
    let targets: [(host: String, port: Int)]
    var stats: LoopStats
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

    private var connections: [ClaimConnection] = []
    private var idle: [ClaimConnection] = []
    private var backlog: [(index: Int, scheduled: UInt64)] = []
    private var backlogHead = 0
    private var generated = 0
    private var generating = true
    private var inFlight = 0
    private var finished = false
    private var began = false
    let done = DispatchSemaphore(value: 0)

    init(
        loop: EventLoop, options: LoadOptions, workload: Workload, counter: ClaimCounter, campaignId: Int64,
        issueKey: String, startNs: UInt64, connections: Int, targets: [(host: String, port: Int)], ratePerLoop: Double?
    ) {
        self.loop = loop
        self.options = options
        self.workload = workload
        self.counter = counter
        self.campaignId = campaignId
        self.issueKey = issueKey
        self.startNs = startNs
        self.sendUntilNs = startNs + UInt64(options.durationSeconds * 1e9)
        let grace = min(UInt64(options.timeoutMs) * UInt64(options.retries + 1), 10_000) * 1_000_000
        self.hardStopNs = sendUntilNs + grace
        self.ratePerLoop = ratePerLoop
        self.connectionCount = connections
        self.targets = targets
        self.stats = LoopStats(users: workload.users)
    }

    deinit { readBuffer.deallocate() }

    /// Starts on the loop: opens the connections and, in open loop, the arrival ticker.
    func start() {
        loop.execute { [self] in
            for index in 0..<connectionCount {
                let target = targets[index % targets.count]
                let connection = ClaimConnection(driver: self, host: target.host, port: target.port)
                connections.append(connection)
                connection.connect()
            }
            loop.schedule(afterNanoseconds: startNs - min(startNs, MonotonicClock.now())) { [self] in begin() }
            loop.schedule(afterNanoseconds: hardStopNs - min(hardStopNs, MonotonicClock.now())) { [self] in hardStop() }
        }
    }

    func requestBytes(claim index: Int, host: String, port: Int) -> [UInt8] {
        let user = workload.user(ofClaim: index)
        let body = #"{"user_id":"\#(workload.userId(user))","request_id":"\#(workload.requestId(ofClaim: index))"}"#
        let head = "POST /v1/campaigns/\(campaignId)/claims HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(issueKey)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }

    // MARK: Scheduling

    /// The start time: connections opened so far get work (closed loop) or arrivals begin (open loop).
    private func begin() {
        began = true
        if ratePerLoop != nil {
            tick()
        } else {
            let ready = idle
            idle.removeAll()
            for connection in ready { becameIdle(connection) }
        }
    }

    /// A connection has nothing to do: give it the next claim or park it.
    func becameIdle(_ connection: ClaimConnection) {
        guard !finished else { return }
        guard began else { return idle.append(connection) }
        if ratePerLoop != nil {
            if backlogHead < backlog.count {
                let next = backlog[backlogHead]
                backlogHead += 1
                if backlogHead == backlog.count {
                    backlog.removeAll(keepingCapacity: true)
                    backlogHead = 0
                }
                dispatch(next.index, scheduled: next.scheduled, on: connection)
                return
            }
        } else if generating {
            let now = MonotonicClock.now()
            if now < sendUntilNs, let index = counter.take() {
                dispatch(index, scheduled: now, on: connection)
                return
            }
            generating = false
        }
        idle.append(connection)
        checkDone()
    }

    private func dispatch(_ index: Int, scheduled: UInt64, on connection: ClaimConnection) {
        inFlight += 1
        stats.sent += 1
        stats.claimsPerUser[workload.user(ofClaim: index)] += 1
        connection.send(claim: index, scheduled: scheduled)
    }

    /// Open loop: create every arrival due by now on the fixed schedule, late or not.
    private func tick() {
        guard !finished, generating, let rate = ratePerLoop else { return }
        let now = MonotonicClock.now()
        let horizon = min(now, sendUntilNs)
        // Arrival k is due at startNs + k/rate, so k = 0...floor(elapsed × rate) are due now.
        let due = min(Int(Double(horizon - startNs) * rate / 1e9) + 1, Int(Double(sendUntilNs - startNs) * rate / 1e9))
        while generated < due {
            guard let index = counter.take() else {
                generating = false
                break
            }
            let scheduled = startNs + UInt64(Double(generated) * 1e9 / rate)
            generated += 1
            if let connection = idle.popLast() {
                dispatch(index, scheduled: scheduled, on: connection)
            } else {
                backlog.append((index, scheduled))
            }
        }
        if now >= sendUntilNs { generating = false }
        if generating {
            loop.schedule(afterNanoseconds: 500_000) { [self] in tick() }
        } else {
            checkDone()
        }
    }

    /// A claim got its final answer (or gave up).
    func finishedClaim(scheduled: UInt64, status: Int?, outcome: String, grant: (code: String, user: Int)?) {
        inFlight -= 1
        let now = MonotonicClock.now()
        if let status, status < 500 {
            let second = Int((now - min(now, startNs)) / 1_000_000_000)
            stats.record(second: second, micros: (now - min(now, scheduled)) / 1000)
        } else {
            stats.unknown += 1
        }
        stats.outcomes[outcome, default: 0] += 1
        if let grant {
            stats.grants.append(grant)
            stats.lastGrantNs = max(stats.lastGrantNs ?? 0, now)
        }
        if outcome == "409 sold_out", stats.firstSoldOutNs == nil { stats.firstSoldOutNs = now }
        counter.completed.add(1, ordering: .relaxed)
    }

    private func checkDone() {
        guard !finished, !generating, inFlight == 0, backlogHead == backlog.count else { return }
        finish()
    }

    private func hardStop() {
        guard !finished else { return }
        let cut = inFlight + (backlog.count - backlogHead)
        if cut > 0 {
            stats.unknown += cut
            stats.outcomes["cut_off_by_duration", default: 0] += cut
        }
        finish()
    }

    private func finish() {
        finished = true
        for connection in connections { connection.shutdown() }
        done.signal()
    }
}

/// One keep-alive connection with at most one claim outstanding.
final class ClaimConnection: IOHandler {
    unowned let driver: LoadDriver
    let host: String
    let port: Int
    private var fd: Int32 = -1
    private var connected = false
    private var closedForGood = false
    private var parser = HTTPResponseParser()
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var interest: IOInterest = []
    private var timer: TimerID?
    private var current: (index: Int, scheduled: UInt64, attempt: Int, bytes: [UInt8])?

    init(driver: LoadDriver, host: String, port: Int) {
        self.driver = driver
        self.host = host
        self.port = port
    }

    private var loop: EventLoop { driver.loop }

    func connect() {
        guard !closedForGood else { return }
        let descriptor = host.withCString { csystem_connect_tcp4($0, Int32(port)) }
        guard descriptor >= 0 else {
            driver.stats.connectionErrors += 1
            loop.schedule(afterMilliseconds: 100) { [self] in connect() }
            return
        }
        fd = descriptor
        connected = false
        parser = HTTPResponseParser()
        do {
            try loop.register(fd: fd, interest: .write, handler: self)
            interest = .write
        } catch {
            Glibc.close(fd)
            fd = -1
            loop.schedule(afterMilliseconds: 100) { [self] in connect() }
        }
    }

    func send(claim index: Int, scheduled: UInt64) {
        current = (index, scheduled, 0, driver.requestBytes(claim: index, host: host, port: port))
        transmit()
    }

    /// Writes the current claim (first time or a retry with the same request_id) and arms its timeout.
    private func transmit() {
        guard let current else { return }
        if let timer { loop.cancel(timer) }
        let attempt = current.attempt
        timer = loop.schedule(afterMilliseconds: driver.options.timeoutMs) { [self] in
            timer = nil
            guard let claim = self.current, claim.attempt == attempt else { return }
            driver.stats.timeouts += 1
            retry()
        }
        guard connected else { return }  // sent once the connection is up
        output = current.bytes
        outputOffset = 0
        flush()
    }

    private func flush() {
        while outputOffset < output.count {
            let written = output.withUnsafeBytes { bytes in
                Glibc.send(fd, bytes.baseAddress! + outputOffset, bytes.count - outputOffset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { setInterest([.read, .write]); return }
                connectionFailed()
                return
            }
            outputOffset += written
        }
        setInterest(.read)
    }

    private func setInterest(_ wanted: IOInterest) {
        guard wanted != interest, fd >= 0 else { return }
        interest = wanted
        loop.setInterest(fd: fd, wanted)
    }

    func writable() {
        guard fd >= 0 else { return }
        if !connected {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                driver.stats.connectionErrors += 1
                reset()
                loop.schedule(afterMilliseconds: 100) { [self] in connect() }
                return
            }
            connected = true
            setInterest(.read)
            if current != nil { transmit() } else { driver.becameIdle(self) }
            return
        }
        flush()
    }

    func readable() {
        guard fd >= 0 else { return }
        if !connected { writable(); return }
        let buffer = driver.readBuffer
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                if count < buffer.count { break }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == EAGAIN { break }
            connectionFailed()  // EOF or error
            return
        }
        while true {
            let response: HTTPClientResponse?
            do {
                response = try parser.next()
            } catch {
                connectionFailed()
                return
            }
            guard let response else { return }
            answered(response)
            if fd < 0 { return }
        }
    }

    private func answered(_ response: HTTPClientResponse) {
        guard let claim = current else { return }
        current = nil
        if let timer { loop.cancel(timer) }
        timer = nil
        let code = Self.firstCode(response.body)
        let outcome = response.status == 201 ? "201" : "\(response.status) \(code ?? "-")"
        var grant: (String, Int)?
        if response.status == 201, let code { grant = (code, driver.workload.user(ofClaim: claim.index)) }
        driver.finishedClaim(scheduled: claim.scheduled, status: response.status, outcome: outcome, grant: grant)
        if response.closesConnection {
            reset()
            connect()
        } else {
            driver.becameIdle(self)
        }
    }

    /// The connection broke while a claim may be outstanding: reconnect and resend it.
    private func connectionFailed() {
        driver.stats.connectionErrors += 1
        if current != nil {
            retry()
        } else {
            reset()
            loop.schedule(afterMilliseconds: 10) { [self] in connect() }
        }
    }

    private func retry() {
        reset()
        guard var claim = current else { return connect() }
        claim.attempt += 1
        if claim.attempt > driver.options.retries {
            current = nil
            driver.finishedClaim(scheduled: claim.scheduled, status: nil, outcome: "timeout", grant: nil)
            connect()  // becomes idle once up
            return
        }
        driver.stats.retries += 1
        current = claim
        connect()
        transmit()  // arms the timeout; the bytes leave once connected
    }

    private func reset() {
        if fd >= 0 {
            loop.unregister(fd: fd)
            Glibc.close(fd)
        }
        fd = -1
        connected = false
        interest = []
        output = []
        outputOffset = 0
    }

    func shutdown() {
        closedForGood = true
        if let timer { loop.cancel(timer) }
        timer = nil
        current = nil
        reset()
    }

    /// The first `"code":"…"` value of a JSON body: the coupon code of a 201, the error code otherwise.
    static func firstCode(_ body: [UInt8]) -> String? {
        let needle = Array(#""code":""#.utf8)
        guard body.count > needle.count else { return nil }
        var index = 0
        while index + needle.count <= body.count {
            if body[index] == needle[0] && Array(body[index..<index + needle.count]) == needle {
                let start = index + needle.count
                guard let end = body[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: body[start..<end], as: UTF8.self)
            }
            index += 1
        }
        return nil
    }
}
