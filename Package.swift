// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "yibiao",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "yibiao", targets: ["yibiao"]),
        .library(name: "YibiaoCore", targets: ["YibiaoCore"]),
        .library(name: "YibiaoStore", targets: ["YibiaoStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Pure logic: no I/O.
        .target(name: "YibiaoCore"),
        .target(name: "YibiaoMatching", dependencies: ["YibiaoCore"]),
        // Reading the YAML files people write (adapters, rules): positions, one error shape.
        .target(name: "YibiaoYAML", dependencies: ["YibiaoCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "YibiaoMerge", dependencies: ["YibiaoCore", "YibiaoYAML", .product(name: "Yams", package: "Yams")]),
        // Edges.
        .target(
            name: "YibiaoAdapters",
            dependencies: [
                "YibiaoCore", "YibiaoYAML",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "YibiaoStore",
            dependencies: [
                "YibiaoCore", "YibiaoAdapters", "YibiaoMatching", "YibiaoMerge",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The application layer: one call per use case, under every front end.
        .target(
            name: "YibiaoApplication",
            dependencies: [
                "YibiaoCore", "YibiaoAdapters", "YibiaoMatching", "YibiaoMerge", "YibiaoStore", "YibiaoYAML",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP API: a thin front end over the application layer.
        .target(
            name: "YibiaoServer",
            dependencies: [
                "YibiaoApplication", "YibiaoStore", "YibiaoCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The community workers' sync client: login, the durable entry queue, spreadsheets, the
        // hub's worker API. Front ends (the CLI's enter/sync, the load test) sit over it.
        .target(
            name: "YibiaoSync",
            dependencies: [
                "YibiaoCore", "YibiaoAdapters",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(name: "YibiaoSynth", dependencies: ["YibiaoCore", "YibiaoAdapters", "YibiaoMatching"]),
        .target(
            name: "YibiaoTestSupport",
            dependencies: [
                "YibiaoStore", "YibiaoApplication", "YibiaoSync", "YibiaoCore", "YibiaoServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "yibiao",
            dependencies: [
                "YibiaoCore", "YibiaoAdapters", "YibiaoMatching", "YibiaoMerge",
                "YibiaoStore", "YibiaoApplication", "YibiaoServer", "YibiaoSynth", "YibiaoSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmarks live in their own executable so `make bench` builds them in release mode
        // without pulling benchmark code into the shipped CLI.
        .executableTarget(
            name: "YibiaoBench",
            dependencies: [
                "YibiaoCore", "YibiaoAdapters", "YibiaoSynth", "YibiaoMatching", "YibiaoMerge", "YibiaoStore", "YibiaoTestSupport",
                "YibiaoApplication", "YibiaoServer", "YibiaoSync", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // The readers' seeded mutation fuzzer (`make fuzz`); its own process, so a crash is seen, not shared.
        .executableTarget(
            name: "YibiaoFuzz",
            dependencies: ["YibiaoCore", "YibiaoAdapters", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .testTarget(name: "YibiaoCoreTests", dependencies: ["YibiaoCore"]),
        .testTarget(
            name: "YibiaoAdaptersTests",
            dependencies: ["YibiaoAdapters", "YibiaoCore", "YibiaoYAML", .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "Crypto", package: "swift-crypto"), "YibiaoStore", "YibiaoTestSupport"]),
        .testTarget(name: "YibiaoMatchingTests", dependencies: ["YibiaoMatching", "YibiaoCore"]),
        .testTarget(name: "YibiaoMergeTests", dependencies: ["YibiaoMerge", "YibiaoCore", "YibiaoYAML"]),
        .testTarget(name: "YibiaoSynthTests", dependencies: ["YibiaoSynth", "YibiaoAdapters", "YibiaoMatching", "YibiaoCore", "YibiaoTestSupport"]),
        .testTarget(
            name: "YibiaoStoreTests",
            dependencies: [
                "YibiaoCore", "YibiaoAdapters", "YibiaoMatching", "YibiaoMerge", "YibiaoStore", "YibiaoTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "YibiaoApplicationTests",
            dependencies: [
                "YibiaoApplication", "YibiaoAdapters", "YibiaoCore", "YibiaoMatching", "YibiaoMerge", "YibiaoStore", "YibiaoSynth", "YibiaoTestSupport",
                "YibiaoYAML", .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "YibiaoServerTests",
            dependencies: [
                "YibiaoServer", "YibiaoApplication", "YibiaoAdapters", "YibiaoCore", "YibiaoStore", "YibiaoTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "YibiaoSyncTests",
            dependencies: [
                "YibiaoSync", "YibiaoServer", "YibiaoApplication", "YibiaoAdapters", "YibiaoCore", "YibiaoStore", "YibiaoTestSupport", "YibiaoSynth",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "YibiaoCLITests",
            dependencies: [
                "YibiaoTestSupport", "YibiaoStore", "YibiaoCore", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ]
)

// One set of compiler settings for every target.
for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ])
    target.swiftSettings = settings
}
