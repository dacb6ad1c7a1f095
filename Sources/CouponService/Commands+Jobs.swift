import BulkIssuance
import CouponCore
import Foundation
import PostgresClient
import Store

extension Commands {
    /// `jobs submit --campaign-id N FILE|-`, `jobs status ID [--watch true]`, `jobs cancel ID`,
    /// `jobs refusals ID`: bulk grant jobs from a shell, straight against PostgreSQL (the nodes'
    /// runners pick the job up). `submit` reads the file 1 MiB at a time, so a list of any size
    /// up to `bulk-max-lines` is streamed into the staging table, never held whole; returns the
    /// exit status.
    public static func jobs(_ arguments: [String], _ configuration: Configuration, output: (String) -> Void = { print($0) }) throws -> Int32 {
        guard let verb = arguments.first else { throw Configuration.Error(description: "jobs needs submit, status, cancel or refusals") }
        let rest = Array(arguments.dropFirst())
        let postgres = try PostgresConnection(conninfo: configuration.postgres)
        try CouponSchema.migrate(postgres)
        func jobId() throws -> Int64 {
            guard let word = rest.first(where: { !$0.hasPrefix("--") }), let id = Int64(word), id > 0 else {
                throw Configuration.Error(description: "jobs \(verb) needs a job id")
            }
            return id
        }
        switch verb {
        case "submit":
            let words = rest.filter { !$0.hasPrefix("--") }
            let options = try parseOptions(rest, allowed: ["campaign-id"], positional: Array(words.suffix(1)))
            guard let campaignId = options["campaign-id"].flatMap(Int64.init), let path = words.last, words.count == 2 else {
                throw Configuration.Error(description: "usage: jobs submit --campaign-id N FILE (or - for stdin)")
            }
            guard try CampaignStore.find(id: campaignId, on: postgres) != nil else {
                throw Configuration.Error(description: "no campaign with id \(campaignId)")
            }
            guard let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path) else {
                throw Configuration.Error(description: "cannot read \(path)")
            }
            let job = try BulkJobStore.create(campaignId: campaignId, maxLines: Int64(configuration.bulkMaxLines), on: postgres) { sink in
                var reader = BulkLineReader()
                while true {
                    let chunk = handle.readData(ofLength: 1 << 20)
                    if chunk.isEmpty { break }
                    try reader.feed(chunk, sink)
                }
                try reader.finish(sink)
            }
            output("job \(job.id): \(job.total) user ids queued for campaign \(campaignId)")
            return 0
        case "status":
            let id = try jobId()
            let watch = rest.contains("--watch")
            var job = try BulkJobStore.find(id: id, on: postgres)
            guard job != nil else { throw Configuration.Error(description: "no job with id \(id)") }
            let terminal = isatty(STDOUT_FILENO) == 1
            while watch, let current = job, !current.state.isFinished {
                if terminal {
                    FileHandle.standardOutput.write(Data(("\r" + progressLine(current)).utf8))
                } else {
                    output(progressLine(current))
                }
                Thread.sleep(forTimeInterval: terminal ? 0.25 : 2)
                job = try BulkJobStore.find(id: id, on: postgres)
            }
            if watch && terminal { FileHandle.standardOutput.write(Data(("\r" + progressLine(job!) + "\n").utf8)) }
            var writer = JSONWriter()
            writer.writeObject { job!.write(into: &$0) }
            output(String(decoding: writer.bytes, as: UTF8.self))
            return job!.state == .failed ? 1 : 0
        case "cancel":
            guard let job = try BulkJobStore.cancel(id: try jobId(), on: postgres) else { throw Configuration.Error(description: "no such job") }
            output("job \(job.id): \(job.state.rawValue), \(job.done)/\(job.total) decided")
            return 0
        case "refusals":
            let id = try jobId()
            guard try BulkJobStore.find(id: id, on: postgres) != nil else { throw Configuration.Error(description: "no job with id \(id)") }
            output(try BulkJobStore.refusalsCSV(jobId: id, on: postgres).dropLast().description)
            return 0
        default:
            throw Configuration.Error(description: "jobs needs submit, status, cancel or refusals, got '\(verb)'")
        }
    }

    /// `[##########----------]  50.0%  500000/1000000  granted 400000  refused 100000  40000/s  eta 12s`
    static func progressLine(_ job: BulkJob) -> String {
        let fraction = job.total > 0 ? Double(job.done) / Double(job.total) : 0
        let filled = Int(fraction * 30)
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: 30 - filled)
        let rate = job.ratePerSecond.map { String(format: "%.0f/s", $0) } ?? "-/s"
        let eta = job.etaSeconds.map { String(format: "eta %.0fs", $0) } ?? "eta -"
        return "[\(bar)] \(String(format: "%5.1f%%", fraction * 100))  \(job.done)/\(job.total)  granted \(job.granted)  refused \(job.refusedTotal)  \(rate)  \(eta)  \(job.state.rawValue)"
    }
}
