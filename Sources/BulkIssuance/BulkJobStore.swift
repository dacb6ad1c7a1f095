import Foundation
import PostgresClient
import Store

/// The PostgreSQL side of bulk grant jobs: the staging table of uploaded lines, the job row
/// with its checkpoint and counters, the lease, the refusals. Every write of a running job is
/// guarded by its lease owner, so a node that lost its lease (it was presumed dead) can never
/// move the checkpoint or the counters of a job another node has taken over.
public enum BulkJobStore {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case emptyUpload
        case tooManyLines(Int64)
        public var description: String {
            switch self {
            case .emptyUpload: "the upload holds no user ids"
            case .tooManyLines(let limit): "the upload holds more than \(limit) user ids"
            }
        }
    }

    /// Lines are copied to the staging table this many at a time.
    static let copyChunk = 20_000

    /// Creates a queued job for `campaignId` from the user ids `lines` hands to its sink, in
    /// one transaction: a failure (bad line, too many lines) leaves nothing behind.
    public static func create(
        campaignId: Int64, maxLines: Int64, on connection: PostgresConnection,
        lines: (_ sink: (String) throws -> Void) throws -> Void
    ) throws -> BulkJob {
        try connection.transaction { connection in
            let id = try connection.execute("INSERT INTO bulk_jobs (campaign_id, total) VALUES ($1, 0) RETURNING id", [campaignId])
                .first!.int64(0)
            let jobText = String(id)
            var count: Int64 = 0
            var buffer: [[String?]] = []
            buffer.reserveCapacity(copyChunk)
            try lines { userId in
                count += 1
                guard count <= maxLines else { throw Failure.tooManyLines(maxLines) }
                buffer.append([jobText, String(count), userId])
                if buffer.count == copyChunk {
                    _ = try connection.copyIn("COPY bulk_job_lines (job_id, line_no, user_id) FROM STDIN", rows: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            if !buffer.isEmpty { _ = try connection.copyIn("COPY bulk_job_lines (job_id, line_no, user_id) FROM STDIN", rows: buffer) }
            guard count > 0 else { throw Failure.emptyUpload }
            _ = try connection.execute("UPDATE bulk_jobs SET total = $2 WHERE id = $1", [id, count])
            return try find(id: id, on: connection)!
        }
    }

    static let columns = """
        id, campaign_id, state, total, done, granted, refused::text, lease_owner, resumes,
        (extract(epoch FROM created_at) * 1000)::bigint AS created_ms,
        (extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms, error,
        CASE WHEN run_started_at IS NULL THEN NULL
             ELSE (done - run_start_done) / greatest(extract(epoch FROM coalesce(finished_at, now()) - run_started_at), 0.001)
        END::float8 AS rate
        """

    static func job(_ row: PostgresRow) throws -> BulkJob {
        BulkJob(
            id: try row.int64(0), campaignId: try row.int64(1), state: BulkJob.State(rawValue: try row.string(2)) ?? .failed,
            total: try row.int64(3), done: try row.int64(4), granted: try row.int64(5),
            refused: BulkJob.parseRefused(try row.string(6)), leaseOwner: try row.optionalString(7), resumes: try row.int(8),
            ratePerSecond: try row.optionalDouble(12),
            createdAt: Date(timeIntervalSince1970: Double(try row.int64(9)) / 1000),
            finishedAt: try row.optionalInt64(10).map { Date(timeIntervalSince1970: Double($0) / 1000) }, error: try row.optionalString(11))
    }

    public static func find(id: Int64, on connection: PostgresConnection) throws -> BulkJob? {
        try connection.execute("SELECT \(columns) FROM bulk_jobs WHERE id = $1", [id]).first.map(job)
    }

    /// Takes the lease of the oldest job that is queued, or running under an expired lease (its
    /// node died or stalled). A takeover counts as a resume.
    public static func acquire(owner: String, leaseSeconds: Double, on connection: PostgresConnection) throws -> BulkJob? {
        try connection.execute(
            """
            UPDATE bulk_jobs SET state = 'running', lease_owner = $1, lease_until = now() + $2 * interval '1 second',
                resumes = resumes + CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END,
                run_started_at = now(), run_start_done = done
            WHERE id = (SELECT id FROM bulk_jobs
                        WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < now())
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING \(columns)
            """, [owner, leaseSeconds]
        ).first.map(job)
    }

    /// The lines after the checkpoint `done`, at most `limit`, in order.
    public static func lines(jobId: Int64, after done: Int64, limit: Int, on connection: PostgresConnection) throws -> [(line: Int64, userId: String)] {
        try connection.execute(
            "SELECT line_no, user_id FROM bulk_job_lines WHERE job_id = $1 AND line_no > $2 AND line_no <= $2 + $3 ORDER BY line_no",
            [jobId, done, Int64(limit)]
        ).rows.map { (try $0.int64(0), try $0.string(1)) }
    }

    /// Records a decided batch: its refusals, the new checkpoint and counters, and renews the
    /// lease (the heartbeat), in one transaction. Returns the job's state afterwards (`done`
    /// when this was the last batch, `cancelled` when an admin cancelled it meanwhile), or nil
    /// when `owner` no longer holds the lease: then nothing is written.
    public static func commit(
        _ job: BulkJob, previousDone: Int64, refusals: [(line: Int64, userId: String, reason: String)], owner: String,
        leaseSeconds: Double, on connection: PostgresConnection
    ) throws -> BulkJob.State? {
        try connection.transaction { connection in
            // Asynchronous commit is safe here: a checkpoint lost with a PostgreSQL crash only
            // re-runs its batch, which Redis answers with replays (same grants, same refusals).
            _ = try connection.execute("SET LOCAL synchronous_commit = off")
            let updated = try connection.execute(
                """
                UPDATE bulk_jobs SET done = $3, granted = $4, refused = $5::jsonb,
                    lease_until = now() + $6 * interval '1 second',
                    state = CASE WHEN state = 'running' AND $3 >= total THEN 'done' ELSE state END,
                    finished_at = CASE WHEN state = 'running' AND $3 >= total THEN now() ELSE finished_at END
                WHERE id = $1 AND lease_owner = $2 AND done = $7 AND state IN ('running', 'cancelled')
                RETURNING state
                """, [job.id, owner, job.done, job.granted, BulkJob.refusedJSON(job.refused), leaseSeconds, previousDone])
            guard let state = try updated.first.map({ try $0.string(0) }) else { return nil }
            if !refusals.isEmpty {
                _ = try connection.execute(
                    """
                    INSERT INTO bulk_job_refusals (job_id, line_no, user_id, reason)
                    SELECT $1::bigint, * FROM unnest($2::bigint[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING
                    """,
                    [
                        job.id, PostgresArrayLiteral.integers(refusals.map(\.line)), PostgresArrayLiteral.text(refusals.map(\.userId)),
                        PostgresArrayLiteral.text(refusals.map(\.reason)),
                    ])
            }
            return BulkJob.State(rawValue: state)
        }
    }

    /// Gives the lease back (a node stopping cleanly): another node may take the job at once.
    public static func release(jobId: Int64, owner: String, on connection: PostgresConnection) throws {
        _ = try connection.execute(
            "UPDATE bulk_jobs SET lease_until = NULL WHERE id = $1 AND lease_owner = $2 AND state = 'running'", [jobId, owner])
    }

    /// Marks a job failed (a decision it cannot make, e.g. the campaign is unknown to Redis).
    public static func fail(jobId: Int64, owner: String, error: String, on connection: PostgresConnection) throws {
        _ = try connection.execute(
            "UPDATE bulk_jobs SET state = 'failed', error = $3, finished_at = now() WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
            [jobId, owner, error])
    }

    /// Cancels a queued or running job (lines already decided stay decided); nil when unknown.
    public static func cancel(id: Int64, on connection: PostgresConnection) throws -> BulkJob? {
        _ = try connection.execute(
            "UPDATE bulk_jobs SET state = 'cancelled', finished_at = now() WHERE id = $1 AND state IN ('queued', 'running')", [id])
        return try find(id: id, on: connection)
    }

    /// Deletes up to `batch` staged lines of the oldest job finished (done, cancelled or failed)
    /// at least `finishedBefore` seconds ago that still has some; returns how many. A finished job never reads its lines again: its
    /// grants are in `coupons` (request id `bulk-<job>-<line>`), its refusals in
    /// `bulk_job_refusals`, its counters in `bulk_jobs`.
    public static func purgeFinishedLines(finishedBefore seconds: Double, batch: Int, on connection: PostgresConnection) throws -> Int {
        guard let job = try connection.execute(
            """
            SELECT j.id FROM bulk_jobs j
            WHERE j.state IN ('done', 'cancelled', 'failed') AND j.finished_at <= now() - $1 * interval '1 second'
              AND EXISTS (SELECT 1 FROM bulk_job_lines l WHERE l.job_id = j.id)
            ORDER BY j.id LIMIT 1
            """, [seconds]
        ).first?.int64(0) else { return 0 }
        return try connection.execute(
            """
            DELETE FROM bulk_job_lines WHERE job_id = $1
              AND line_no <= (SELECT max(line_no) FROM (SELECT line_no FROM bulk_job_lines WHERE job_id = $1 ORDER BY line_no LIMIT $2) first)
            """, [job, Int64(batch)]
        ).rowsAffected
    }

    /// The refused lines as CSV `line,user_id,reason`, in line order.
    public static func refusalsCSV(jobId: Int64, on connection: PostgresConnection) throws -> String {
        var csv = "line,user_id,reason\n"
        var after: Int64 = 0
        while true {
            let rows = try connection.execute(
                "SELECT line_no, user_id, reason FROM bulk_job_refusals WHERE job_id = $1 AND line_no > $2 ORDER BY line_no LIMIT 50000",
                [jobId, after]
            ).rows
            for row in rows {
                after = try row.int64(0)
                csv += "\(after),\(try row.string(1)),\(try row.string(2))\n"
            }
            if rows.count < 50000 { return csv }
        }
    }
}

extension BulkJobStore {
    /// A queued job over the members of a segment (in user-id order), in one transaction.
    public static func create(campaignId: Int64, segmentId: Int64, on connection: PostgresConnection) throws -> BulkJob {
        try connection.transaction { connection in
            let id = try connection.execute("INSERT INTO bulk_jobs (campaign_id, total) VALUES ($1, 0) RETURNING id", [campaignId])
                .first!.int64(0)
            let count = try connection.execute(
                """
                INSERT INTO bulk_job_lines (job_id, line_no, user_id)
                SELECT $1, row_number() OVER (ORDER BY user_id), user_id FROM segment_members WHERE segment_id = $2
                """, [id, segmentId]
            ).rowsAffected
            guard count > 0 else { throw Failure.emptyUpload }
            _ = try connection.execute("UPDATE bulk_jobs SET total = $2 WHERE id = $1", [id, Int64(count)])
            return try find(id: id, on: connection)!
        }
    }
}
