extension CouponSchema {
    /// Bulk grant jobs (issue 12). `bulk_jobs` is the job and its checkpoint: lines `1...done`
    /// are decided, and the counters describe exactly those lines (they are written in the same
    /// transaction as the checkpoint, guarded by the lease). `bulk_job_lines` holds the uploaded
    /// user ids numbered 1...total (the staging table the job streams from); `bulk_job_refusals`
    /// one row per refused line (the refusals CSV). Renumber freely: nothing refers to the version.
    static let v7BulkJobs = """
        CREATE TABLE bulk_jobs (
            id              bigserial   PRIMARY KEY,
            campaign_id     bigint      NOT NULL,
            state           text        NOT NULL DEFAULT 'queued'
                            CHECK (state IN ('queued', 'running', 'done', 'cancelled', 'failed')),
            total           bigint      NOT NULL,
            done            bigint      NOT NULL DEFAULT 0,
            granted         bigint      NOT NULL DEFAULT 0,
            refused         jsonb       NOT NULL DEFAULT '{}',
            lease_owner     text,
            lease_until     timestamptz,
            resumes         integer     NOT NULL DEFAULT 0,
            run_started_at  timestamptz,
            run_start_done  bigint      NOT NULL DEFAULT 0,
            created_at      timestamptz NOT NULL DEFAULT now(),
            finished_at     timestamptz,
            error           text
        );
        CREATE INDEX bulk_jobs_runnable ON bulk_jobs (id) WHERE state IN ('queued', 'running');
        CREATE TABLE bulk_job_lines (
            job_id   bigint  NOT NULL,
            line_no  bigint  NOT NULL,
            user_id  text    NOT NULL,
            PRIMARY KEY (job_id, line_no)
        );
        CREATE TABLE bulk_job_refusals (
            job_id   bigint  NOT NULL,
            line_no  bigint  NOT NULL,
            user_id  text    NOT NULL,
            reason   text    NOT NULL,
            PRIMARY KEY (job_id, line_no)
        );
        """
}
