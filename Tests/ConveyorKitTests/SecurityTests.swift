import AWSCore
import AWSServices
import Foundation
import Logging
import Testing
import TestSupport
@testable import ConveyorKit

/// What Conveyor refuses or protects whatever it is told: plain HTTP to other hosts, output keys
/// outside their bucket or directory, files other users could read.
@Suite(.timeLimit(.minutes(3))) struct SecurityTests {
    @Test func loopbackIsRecognisedByAddressNotByPrefix() {
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "localhost.", "::1"] {
            #expect(RunServices.isLoopback(host), "\(host)")
        }
        for host in ["127.evil.example", "127.0.0.1.nip.io", "10.0.0.1", "localhost.example", "1127.0.0.1", "127.0.0.256",
                     "s3.amazonaws.com", "::2"] {
            #expect(!RunServices.isLoopback(host), "\(host)")
        }
    }

    @Test func plainHTTPEndpointsAreRefusedUnlessOnLoopbackOrAllowed() async throws {
        let bucket = try await RunCommandTests().seed(1)
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let job = try RunCommandTests().writeJob(dir, bucket: bucket)
        // every request would go to a closed loopback port (the proxy variables), so that
        // nothing could leave this machine even if the refusal failed
        let contained = ["http_proxy": "http://127.0.0.1:1", "all_proxy": "http://127.0.0.1:1", "ALL_PROXY": "http://127.0.0.1:1",
                         "no_proxy": "", "NO_PROXY": "", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url]
        var fromVariable = contained
        fromVariable["AWS_ENDPOINT_URL_S3"] = "http://s3.conveyor-test.invalid:9000"
        fromVariable["SSLKEYLOGFILE"] = dir + "/keys.log"
        let run = try CLI.run(["run", job, "--progress", "never"], environment: fromVariable)
        #expect(run.status == 2, "\(run.output)")
        #expect(run.output.contains("AWS_ENDPOINT_URL_S3 gives a plain-HTTP endpoint for S3, http://s3.conveyor-test.invalid:9000"),
                "\(run.output)")
        #expect(run.output.contains("--allow-http"))
        #expect(run.output.contains("SSLKEYLOGFILE is set"), "\(run.output)")  // loud, though it does not stop the run
        let plan = try CLI.run(["plan", job], environment: fromVariable)
        #expect(plan.status == 2, "\(plan.output)")
        #expect(plan.output.contains("AWS_ENDPOINT_URL_S3 gives a plain-HTTP endpoint"), "\(plan.output)")
        // from the config file: named with the profile and the file
        let config = dir + "/config"
        try "[default]\nendpoint_url = http://10.1.2.3:4566\n".write(toFile: config, atomically: true, encoding: .utf8)
        var fromConfig = contained
        fromConfig["AWS_CONFIG_FILE"] = config
        let configured = try CLI.run(["run", job, "--progress", "never"], environment: fromConfig)
        #expect(configured.status == 2, "\(configured.output)")
        #expect(configured.output.contains("endpoint_url of profile 'default' in \(config) gives a plain-HTTP endpoint"),
                "\(configured.output)")
        // allowed: it goes on, and fails to connect (to the closed loopback port of the proxy variables)
        let allowed = try CLI.run(["run", job, "--progress", "never", "--allow-http"], environment: fromVariable)
        #expect(allowed.status == 4, "\(allowed.output)")
        #expect(!allowed.output.contains("plain-HTTP"), "\(allowed.output)")
        #expect(allowed.output.contains("ConnectionFailed"), "\(allowed.output)")
        #expect(emulator.stats.calls == 0)
    }

    @Test func noVariableMakesTheTransportTrustAnotherCertificate() async throws {
        // a TLS server on loopback with a self-signed certificate, and that certificate in every
        // variable OpenSSL or the curl tool would read
        let fixture = try TestServers.url(name: "http_fixture", script: "http_fixture.py")
        let response = try await CurlTransport.shared.execute(
            HTTPRequest(method: "GET", endpoint: Endpoint(url: fixture.absoluteString)!, path: "/tls"))
        let tls = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
        let port = try #require(tls["port"] as? Int, "the fixture has no TLS (openssl missing?)")
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (tls["caPEM"] as? String ?? "").write(toFile: dir + "/ca.pem", atomically: true, encoding: .utf8)
        let bucket = TestAWS.uniqueName("conveyor-tls")
        let job = try RunCommandTests().writeJob(dir, bucket: bucket)
        let run = try CLI.run(["run", job, "--progress", "never"], environment: [
            "AWS_ENDPOINT_URL_S3": "https://127.0.0.1:\(port)", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "https://127.0.0.1:\(port)",
            "SSL_CERT_FILE": dir + "/ca.pem", "SSL_CERT_DIR": dir, "CURL_CA_BUNDLE": dir + "/ca.pem",
        ])
        #expect(run.status == 4, "\(run.output)")
        #expect(run.output.contains("TLSError"), "\(run.output)")
    }

    @Test func outputKeysStayInTheirBucketAndDirectory() async throws {
        let paths = ["../escape", "a/../../escape", "/etc/escape", "%2e%2e/%2e%2e/encoded", "..%2f..%2fencoded",
                     "\u{FF0E}\u{FF0E}/fullwidth", "..\\\\backslash", "fine/ok"]
        let lines = paths.enumerated().map { #"{"id": "r\#($0.offset)", "path": "\#($0.element)", "text": "t\#($0.offset)"}"# }
        let bucket = try await KitFixture.bucket(["in/records.jsonl": lines.joined(separator: "\n")])
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        for output in ["s3://\(bucket)/out/{{record.path}}.json", "file://\(dir)/root/out/{{record.path}}.json"] {
            let job = try HostileInputTests.recordsJob(bucket, output: output)
            let recorder = Collected()
            try await Runner(job: job, services: try KitFixture.services(bedrockURL: url), recorder: recorder, logger: logger).run()
            let byID = Dictionary(uniqueKeysWithValues: recorder.all.map { ($0.id, $0) })
            // `..` segments and absolute keys, literal or from a value: the item fails, nothing is written
            for id in ["r0", "r1", "r2"] {
                #expect(byID[id]?.errorCode == "TemplateError", "\(output) \(id): \(String(describing: byID[id]))")
                #expect(byID[id]?.attempts == 0)
            }
            // encoded and look-alike forms are names, not steps: written as they are, inside
            for id in ["r3", "r4", "r5", "r6", "r7"] { #expect(byID[id]?.status == .succeeded, "\(output) \(id)") }
        }
        let keys = try await KitFixture.keys(bucket)
        #expect(keys.allSatisfy { $0 == "in/records.jsonl" || $0.hasPrefix("out/") }, "\(keys)")
        #expect(keys.contains("out/%2e%2e/%2e%2e/encoded.json"))
        #expect(keys.contains("out/..%2f..%2fencoded.json"))
        // locally: everything written is under root/out
        let written = FileManager.default.subpaths(atPath: dir)?.filter { !FileManager.default.isDirectory(dir + "/" + $0) } ?? []
        #expect(written.count == 5, "\(written)")
        #expect(written.allSatisfy { $0.hasPrefix("root/out/") }, "\(written)")
        #expect(written.contains("root/out/%2e%2e/%2e%2e/encoded.json"))
    }

    @Test func filesWrittenLocallyAreOwnerOnlyWhateverTheUmask() async throws {
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        // the first five answer at once, the others only after ten minutes: the run is surely
        // still going when it is killed
        func writeInputs(slow: Bool) throws {
            for i in 0..<20 {
                try "ticket \(i)\(slow && i >= 5 ? " [[latency:600000]]" : "")"
                    .write(toFile: dir + String(format: "/data/t%02d.txt", i), atomically: true, encoding: .utf8)
            }
        }
        try writeInputs(slow: true)
        let (emulator, url) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        try """
            version: 1
            name: modes
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 20}
            prompt: "{{input}}"
            inputs: {s3: data/}
            output: {s3: "out/{{item.name}}.json"}
            report: reports/{{run.id}}.json
            limits: {concurrency: 2}
            """.write(toFile: dir + "/job.yaml", atomically: true, encoding: .utf8)
        let environment = ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url, "TMPDIR": dir + "/tmp"]
        // killed mid-run: its lock file and the manifest's spool file are left behind
        let process = try CLI.start(["run", dir + "/job.yaml", "--progress", "never"], environment: environment, umask: 0)
        try await waitUntil("5 calls") { emulator.stats.accepted >= 5 || !process.isRunning }
        kill(process.processIdentifier, SIGKILL)
        _ = CLI.finish(process)
        #expect(FileManager.default.fileExists(atPath: dir + "/reports/modes.lock"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp").contains { $0.hasPrefix("conveyor-manifest-") })
        func modes() -> [String: Int] {
            var found: [String: Int] = [:]
            for path in FileManager.default.subpaths(atPath: dir) ?? [] where !path.hasPrefix("data/") && path != "job.yaml" {
                var info = stat()
                if stat(dir + "/" + path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { found[path] = Int(info.st_mode & 0o777) }
            }
            return found
        }
        let afterCrash = modes()
        #expect(afterCrash.keys.contains { $0.hasPrefix("out/") })
        #expect(afterCrash.values.allSatisfy { $0 == 0o600 }, "\(afterCrash.mapValues { String($0, radix: 8) })")
        try writeInputs(slow: false)
        let rerun = try CLI.run(["run", dir + "/job.yaml", "--progress", "never", "--break-lock"], environment: environment, umask: 0)
        #expect(rerun.status == 0, "\(rerun.output)")
        let afterRun = modes()
        #expect(afterRun.keys.contains { $0.hasPrefix("reports/") && $0.hasSuffix(".items.jsonl") }, "\(afterRun.keys)")
        // (a write the kill cut short may leave its temporary file, `.conveyor-UUID.tmp`, owner-only too)
        #expect(afterRun.keys.filter { $0.hasPrefix("out/") && $0.hasSuffix(".json") }.count == 20)
        #expect(afterRun.values.allSatisfy { $0 == 0o600 }, "\(afterRun.mapValues { String($0, radix: 8) })")
    }
}
