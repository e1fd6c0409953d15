// swift-tools-version:6.2
import PackageDescription

// Swift 6 language mode (complete strict concurrency) comes with tools-version 6.x.
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "conveyor",
    products: [
        .executable(name: "conveyor", targets: ["conveyor"]),
        .executable(name: "conveyor-emulator", targets: ["conveyor-emulator"]),
        .library(name: "AWSCore", targets: ["AWSCore"]),
        .library(name: "AWSServices", targets: ["AWSServices"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "AWSCore",
            dependencies: ["CCurl", "CCrypto"],
            swiftSettings: settings
        ),
        .target(
            name: "AWSServices",
            dependencies: ["AWSCore"],
            swiftSettings: settings
        ),
        .target(
            name: "ConveyorKit",
            dependencies: [
                "AWSCore",
                "AWSServices",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "conveyor",
            dependencies: [
                "AWSCore",
                "AWSServices",
                "ConveyorKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: settings
        ),
        .target(
            name: "ConverseEmulator",
            dependencies: [
                "AWSCore",
                "AWSServices",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "conveyor-emulator",
            dependencies: [
                "ConverseEmulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: settings
        ),
        .executableTarget(
            name: "transport-bench",
            dependencies: ["AWSCore"],
            path: "Benchmarks/transport-bench",
            swiftSettings: settings
        ),
        .target(
            name: "TestSupport",
            dependencies: ["AWSCore"],
            path: "Tests/TestSupport",
            swiftSettings: settings
        ),
        .testTarget(
            name: "AWSCoreTests",
            dependencies: ["AWSCore", "TestSupport"],
            swiftSettings: settings
        ),
        .testTarget(
            name: "ConveyorKitTests",
            dependencies: ["ConveyorKit", "AWSServices", "AWSCore", "ConverseEmulator", "TestSupport"],
            swiftSettings: settings
        ),
        .testTarget(
            name: "ConverseEmulatorTests",
            dependencies: ["ConverseEmulator", "AWSServices", "AWSCore", "TestSupport"],
            swiftSettings: settings
        ),
        .testTarget(
            name: "AWSServicesTests",
            dependencies: ["AWSServices", "AWSCore", "TestSupport"],
            swiftSettings: settings
        ),
    ]
)

// libFuzzer harnesses (Fuzz/, see docs/fuzzing.md). Declared only when CONVEYOR_FUZZ=1, so that
// `swift build` and `swift test` never see them: they only link with `-sanitize=fuzzer`
// (libFuzzer). `make fuzz` sets the variable and builds them in .build/fuzz.
if Context.environment["CONVEYOR_FUZZ"] == "1" {
    package.targets.append(.systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"))
    package.targets.append(.target(
        name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Fuzz/FuzzSupport", swiftSettings: settings))
    let harnesses: [(name: String, dependencies: [Target.Dependency])] = [
        ("fuzz-job", ["ConveyorKit"]),
        ("fuzz-template", ["ConveyorKit", "AWSCore"]),
        ("fuzz-xml", ["AWSCore", "AWSServices"]),
        ("fuzz-json", ["AWSCore", "AWSServices", "ConveyorKit"]),
        ("fuzz-config", ["AWSCore"]),
    ]
    for harness in harnesses {
        package.targets.append(.executableTarget(
            name: harness.name, dependencies: harness.dependencies + ["FuzzSupport"], path: "Fuzz/\(harness.name)",
            swiftSettings: settings))
    }
}
