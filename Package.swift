// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]
let cStrict: [CSetting] = [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]

let package = Package(
    name: "warren",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "warren", targets: ["warren"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Debian's libseccomp-dev and libcap-dev, found through pkg-config.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),

        // Compiles every `static/*.c` of a target into a static executable resource
        // (the pid-1 init, the test probe, the benchmark payload).
        .plugin(name: "StaticBinaries", capability: .buildTool()),

        // The code that runs between clone() and execve(): async-signal-safe C only.
        .target(name: "CWarrenSandbox", cSettings: cStrict),

        // Policy model: OCI/Docker seccomp JSON plus Warren's keys. Pure values, no I/O.
        .target(name: "WarrenPolicy", swiftSettings: strict),

        // Spawn, cgroups, mounts, seccomp compilation.
        .target(
            name: "WarrenSandbox",
            dependencies: ["CWarrenSandbox", "CSeccomp", "CCap", "WarrenPolicy"],
            exclude: ["static"],
            swiftSettings: strict,
            plugins: ["StaticBinaries"]
        ),

        // The per-instance Lambda Runtime API server (HTTP/1.1 on SwiftNIO).
        .target(
            name: "WarrenRuntimeAPI",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // Instances, pools, admission control, invocation, logs.
        .target(
            name: "WarrenSupervisor",
            dependencies: [
                "WarrenSandbox", "WarrenRuntimeAPI", "WarrenPolicy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // State: SQLite (GRDB) behind a store protocol, code artifacts on disk, zip checks.
        .target(
            name: "WarrenStore",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),

        // The Lambda REST API (Hummingbird), SigV4 auth, /metrics.
        .target(
            name: "WarrenAPI",
            dependencies: [
                "WarrenSupervisor", "WarrenStore", "WarrenRuntimeAPI", "WarrenPolicy", "CWarrenSandbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "warren",
            dependencies: [
                "CWarrenSandbox", "WarrenSandbox", "WarrenPolicy", "WarrenSupervisor", "WarrenStore", "WarrenAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),

        .executableTarget(
            name: "warren-bench",
            dependencies: [
                "WarrenSandbox", "WarrenPolicy", "WarrenSupervisor", "WarrenAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            path: "bench",
            exclude: ["static", "README.md"],
            swiftSettings: strict,
            plugins: ["StaticBinaries"]
        ),

        .testTarget(name: "WarrenPolicyTests", dependencies: ["WarrenPolicy"], swiftSettings: strict),
        .testTarget(
            name: "WarrenSandboxTests",
            dependencies: ["WarrenSandbox", "WarrenPolicy", "CWarrenSandbox"],
            exclude: ["static"],
            swiftSettings: strict,
            plugins: ["StaticBinaries"]
        ),
        .testTarget(
            name: "WarrenRuntimeAPITests",
            dependencies: [
                "WarrenRuntimeAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WarrenSupervisorTests",
            dependencies: ["WarrenSupervisor", "WarrenSandbox", "WarrenRuntimeAPI"],
            exclude: ["static"],
            swiftSettings: strict,
            plugins: ["StaticBinaries"]
        ),

        .testTarget(
            name: "WarrenStoreTests",
            dependencies: ["WarrenStore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict),
        .testTarget(
            name: "WarrenAPITests",
            dependencies: [
                "WarrenAPI", "WarrenSupervisor", "WarrenStore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            exclude: ["static"],
            swiftSettings: strict,
            plugins: ["StaticBinaries"]
        ),

        // Drives the built `warren` binary as a user would.
        .testTarget(name: "WarrenCLITests", dependencies: [
            "WarrenSandbox", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ], swiftSettings: strict),
    ]
)
