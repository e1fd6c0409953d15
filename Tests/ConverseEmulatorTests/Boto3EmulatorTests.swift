import Foundation
import Testing
import TestSupport
@testable import ConverseEmulator

/// boto3, which shares no code with Conveyor, against the emulator.
@Suite struct Boto3EmulatorTests {
    @Test func boto3GetsAnswersRefusalsAndThrottles() throws {
        var config = EmulatorConfiguration()
        config.accessKey = "AKIDEMULATOR"
        config.secretKey = "emulator-secret"
        // a request every ten seconds, a bucket of two: the third call is throttled however slowly
        // a loaded machine runs the script
        config.requestsPerMinute = 6
        config.burstSeconds = 20
        let server = ConverseEmulatorServer(configuration: config, threads: 1)
        let port = try server.start()
        defer { try? server.stop() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestServers.repositoryRoot.appendingPathComponent("Tests/servers/boto3_emulator_check.py").path,
                             "--url", "http://127.0.0.1:\(port)", "--access-key", "AKIDEMULATOR",
                             "--secret-key", "emulator-secret", "--throttle-after", "2"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("boto3 checks passed"), "\(text)")
        let stats = server.stats
        #expect(stats.signatureErrors == 1)
        #expect(stats.throttled >= 1)
        #expect(stats.accepted >= 2)
    }
}
