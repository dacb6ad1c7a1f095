extension CouponSchema {
    /// `Idempotency-Key` on the create routes (`POST /v1/campaigns`, `POST /v1/templates`): the
    /// key is stored in the same transaction as the row it created, so a retry after any
    /// failure (a 503 after the save, a lost response) finds the resource instead of creating
    /// a second one. `body_sha256` tells a retry from a different request that reuses the key.
    static let v4IdempotencyKeys = """
        CREATE TABLE idempotency_keys (
            route        text        NOT NULL,
            key          text        NOT NULL,
            body_sha256  text        NOT NULL,
            resource_id  bigint      NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (route, key)
        );
        """
}
