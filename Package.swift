// swift-tools-version:6.0
// coupond: a distributed, high-throughput coupon issuance service.
// No Swift package dependencies: Foundation, Dispatch, Glibc, Synchronization, hiredis and libpq only.
import PackageDescription

let package = Package(
    name: "coupond",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "coupond", targets: ["coupond"]),
        .executable(name: "coupon-load", targets: ["coupon-load"]),
        .executable(name: "coupon-bench", targets: ["coupon-bench"]),
    ],
    targets: [
        // C at the bottom.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CSystem"),

        // Infrastructure.
        .target(name: "EventLoop", dependencies: ["CSystem"]),
        .target(name: "HTTPServer", dependencies: ["EventLoop", "CSystem"]),
        .target(name: "RedisClient", dependencies: ["EventLoop", "CHiredis"]),
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "EventLoop"]),  // EventLoop: its `Posix` wrappers

        // Domain.
        .target(name: "CouponCore"),
        .target(name: "QRCode"),
        .target(name: "RiskControl"),
        .target(name: "Store", dependencies: ["CouponCore", "PostgresClient"]),
        .target(name: "Issuance", dependencies: ["CouponCore", "EventLoop", "RedisClient"]),
        .target(name: "BulkIssuance", dependencies: ["CouponCore", "Issuance", "Store", "RedisClient", "PostgresClient"]),
        .target(name: "GrantFlusher", dependencies: ["CouponCore", "Issuance", "Store", "RedisClient", "PostgresClient"]),
        .target(name: "Redemption", dependencies: ["CouponCore", "Store", "Issuance", "GrantFlusher", "PostgresClient", "RedisClient"]),
        .target(name: "Points", dependencies: ["CouponCore", "Issuance", "Store", "RedisClient", "PostgresClient"]),  // issue 11
        .target(name: "Webhooks", dependencies: ["CouponCore", "EventLoop", "HTTPServer", "PostgresClient"]),  // issue 12
        .target(name: "Finance", dependencies: ["CouponCore", "Store", "Issuance", "GrantFlusher", "PostgresClient", "RedisClient", "Points"]),
        .target(
            name: "CouponService",
            dependencies: [
                "EventLoop", "HTTPServer", "RedisClient", "PostgresClient", "CouponCore", "Store", "Issuance", "GrantFlusher",
                "Redemption", "Finance", "QRCode", "RiskControl", "Points", "BulkIssuance", "Webhooks",
            ],
            exclude: ["openapi.yaml"],
            resources: [.copy("Console/assets")]  // the campaign console (issue 14)
        ),
        .executableTarget(name: "coupond", dependencies: ["CouponService"]),

        // Tools.
        .executableTarget(
            name: "coupon-load",
            dependencies: ["HTTPServer", "EventLoop", "CSystem", "RedisClient", "PostgresClient", "Issuance"],
            path: "load-tests/coupon-load"
        ),
        .executableTarget(
            name: "coupon-bench",
            dependencies: ["HTTPServer", "EventLoop", "RedisClient", "PostgresClient", "Issuance", "GrantFlusher", "CouponService", "CBlankLineScan"],
            path: "Benchmarks/coupon-bench"
        ),
        // The copy-and-scan baseline's byte loop, page-aligned (issue 15, Benchmarks/README.md).
        .target(name: "CBlankLineScan", path: "Benchmarks/blank-line-scan"),

        .executableTarget(
            name: "points-bench",  // issue 11: exchanges/s vs claims/s vs PostgreSQL-only, same run
            dependencies: ["CouponService", "ServiceTestSupport", "HTTPServer", "PostgresClient", "CouponCore"],
            path: "Benchmarks/points-bench"
        ),

        // Tests.
        .target(name: "TestSupport", dependencies: ["PostgresClient", "RedisClient", "CSystem"], path: "Tests/TestSupport"),
        .target(
            name: "ServiceTestSupport",
            dependencies: ["CouponService", "TestSupport", "HTTPServer", "RedisClient", "PostgresClient", "CouponCore"],
            path: "Tests/ServiceTestSupport"
        ),
        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "EventLoop", "TestSupport"]),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "EventLoop", "TestSupport"]),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"]),
        .testTarget(name: "CouponCoreTests", dependencies: ["CouponCore"]),
        .testTarget(name: "QRCodeTests", dependencies: ["QRCode", "CouponCore"]),
        .testTarget(name: "RiskControlTests", dependencies: ["RiskControl"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "CouponService", "Store", "Issuance", "GrantFlusher", "RedisClient", "PostgresClient", "CouponCore", "HTTPServer", "EventLoop",
            "TestSupport", "ServiceTestSupport", "RiskControl", "Webhooks",
        ], exclude: ["Console"]),  // the Selenium script the console test runs
        .testTarget(name: "RedemptionTests", dependencies: [
            "Redemption", "QRCode", "CouponService", "Store", "Issuance", "GrantFlusher", "RedisClient", "PostgresClient", "CouponCore", "HTTPServer",
            "TestSupport", "ServiceTestSupport",
        ]),
        .testTarget(name: "PointsTests", dependencies: [
            "Points", "CouponService", "Store", "Issuance", "RedisClient", "PostgresClient", "CouponCore", "HTTPServer",
            "TestSupport", "ServiceTestSupport",
        ]),
        .testTarget(name: "FinanceTests", dependencies: [
            "Finance", "CouponService", "Store", "Issuance", "GrantFlusher", "RedisClient", "PostgresClient", "CouponCore", "HTTPServer",
            "TestSupport", "ServiceTestSupport",
        ]),
        .testTarget(name: "BulkIssuanceTests", dependencies: [
            "BulkIssuance", "CouponService", "Store", "Issuance", "GrantFlusher", "RedisClient", "PostgresClient", "CouponCore", "HTTPServer",
            "TestSupport", "ServiceTestSupport",
        ]),
        .testTarget(name: "WebhooksTests", dependencies: ["Webhooks"]),
    ]
)
