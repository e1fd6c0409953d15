import AWSCore
import Foundation
import Synchronization

/// Loopback servers the tests talk to: moto (S3, SSM), the signature-checking proxy in front of it,
/// and small fixture servers written in Python under Tests/servers/.
///
/// `make test` starts the long-lived ones once and passes their URLs in environment variables
/// (`CONVEYOR_TEST_<NAME>_URL`); when a variable is missing (plain `swift test`), the server is
/// started here on a free port and stops by itself when this process exits (each script watches
/// its parent's pid).
public enum TestServers {
    /// The repository's root, found from this file's path.
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private static let started = Mutex<[String: URL]>([:])
    private static let processes = Mutex<[Process]>([])

    /// The base URL (`http://127.0.0.1:PORT`) of the named server, starting it if needed.
    ///
    /// - Parameters:
    ///   - name: the key: `CONVEYOR_TEST_\(name.uppercased())_URL` is read first.
    ///   - script: the Python file under Tests/servers/ that runs the server.
    ///   - arguments: extra arguments for the script.
    public static func url(name: String, script: String, arguments: [String] = []) throws -> URL {
        let variable = "CONVEYOR_TEST_\(name.uppercased())_URL"
        if let value = ProcessInfo.processInfo.environment[variable], let url = URL(string: value) {
            return url
        }
        return try started.withLock { table in
            if let url = table[name] { return url }
            let url = try launch(script: script, arguments: arguments)
            table[name] = url
            return url
        }
    }

    /// Starts a fresh, private instance of a fixture server (not shared with other tests).
    public static func launch(script: String, arguments: [String] = []) throws -> URL {
        let path = repositoryRoot.appendingPathComponent("Tests/servers/\(script)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", path, "--host", "127.0.0.1", "--port", "0",
                             "--parent-pid", String(ProcessInfo.processInfo.processIdentifier)] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        process.environment = environment
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        processes.withLock { $0.append(process) }
        // The first line is `listening on 127.0.0.1:PORT`.
        var line = Data()
        let handle = stdout.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty { break }
            if byte == Data([0x0A]) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let url = URL(string: "http://" + text.dropFirst("listening on ".count)) else {
            process.terminate()
            throw TestServerError(message: "\(script) did not start: first line was '\(text)'")
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        handle.readabilityHandler = { h in _ = h.availableData }
        return url
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The credentials and servers of the AWS stand-ins: moto, and the signature-checking proxy in
/// front of it that knows these keys.
public enum TestAWS {
    public static var accessKey: String { env("CONVEYOR_TEST_ACCESS_KEY") ?? "AKIDCONVEYORTEST" }
    public static var secretKey: String { env("CONVEYOR_TEST_SECRET_KEY") ?? "conveyor-test-secret" }
    /// A second key pair that must come with a session token.
    public static var tokenAccessKey: String { env("CONVEYOR_TEST_TOKEN_ACCESS_KEY") ?? "ASIACONVEYORTEST" }
    public static var tokenSecretKey: String { env("CONVEYOR_TEST_TOKEN_SECRET_KEY") ?? "conveyor-test-token-secret" }
    public static var sessionToken: String { env("CONVEYOR_TEST_SESSION_TOKEN") ?? "conveyor-test-session-token" }

    static func env(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

    /// moto itself (no signature check).
    public static func motoURL() throws -> URL {
        try TestServers.url(name: "moto", script: "moto_server.py")
    }

    /// The proxy that recomputes every request's SigV4 signature with botocore before moto sees it.
    public static func proxyURL() throws -> URL {
        let moto = try motoURL()
        return try TestServers.url(
            name: "sigproxy", script: "sigv4_proxy.py",
            arguments: ["--upstream", moto.absoluteString, "--credentials",
                        "\(accessKey):\(secretKey),\(tokenAccessKey):\(tokenSecretKey):\(sessionToken)"])
    }

    /// A name unique to this test run, usable as an S3 bucket name.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.lowercased().prefix(13))"
            .replacingOccurrences(of: "_", with: "-")
    }
}

extension TestAWS {
    /// Adds S3 behaviours to the signature-checking proxy for some buckets: a home region
    /// (requests signed for another region get S3's 301) or a denial of reads, writes or all.
    public static func proxyRules(bucketRegions: [String: String] = [:], denyBuckets: [String: String] = [:]) async throws {
        let endpoint = Endpoint(url: try proxyURL().absoluteString)!
        let body = try JSONSerialization.data(withJSONObject: ["bucketRegions": bucketRegions, "denyBuckets": denyBuckets])
        let response = try await CurlTransport.shared.execute(
            HTTPRequest(method: "POST", endpoint: endpoint, path: "/__proxy/rules", headers: ["Content-Type": "application/json"],
                        body: body))
        guard response.status == 200 else { throw TestServerError(message: "proxy rules refused: \(response.status)") }
    }

    /// The proxy's counters: how many requests it checked, accepted and rejected.
    public static func proxyStats() async throws -> (checked: Int, accepted: Int, rejected: Int) {
        let endpoint = Endpoint(url: try proxyURL().absoluteString)!
        let response = try await CurlTransport.shared.execute(HTTPRequest(method: "GET", endpoint: endpoint, path: "/__proxy/stats"))
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
        return (object["checked"] as? Int ?? 0, object["accepted"] as? Int ?? 0, object["rejected"] as? Int ?? 0)
    }
}

/// One request the signature-checking proxy accepted, as `GET /__proxy/requests` lists it.
public struct ProxiedRequest: Sendable, Equatable {
    /// The credential scope's service (`s3`, `ssm`, `bedrock`) and region.
    public var service: String
    public var region: String
    public var method: String
    /// The raw path and query, as sent.
    public var path: String
    public var query: String
    /// `X-Amz-Target` of JSON services (`AmazonSSM.GetParameter`).
    public var target: String?
    /// Name, Names and Path of a JSON body (SSM parameter names).
    public var names: [String]
}

extension TestAWS {
    /// A private signature-checking proxy in front of `upstream` (moto by default), not shared
    /// with other tests: its request list holds only what the test sent through it.
    public static func privateProxyURL(upstream: URL? = nil) throws -> URL {
        let target = try upstream ?? motoURL()
        return try TestServers.launch(
            script: "sigv4_proxy.py",
            arguments: ["--upstream", target.absoluteString, "--credentials",
                        "\(accessKey):\(secretKey),\(tokenAccessKey):\(tokenSecretKey):\(sessionToken)"])
    }

    /// Every request `proxy` accepted, in order (the last 10,000).
    public static func proxiedRequests(_ proxy: URL) async throws -> [ProxiedRequest] {
        let endpoint = Endpoint(url: proxy.absoluteString)!
        let response = try await CurlTransport.shared.execute(HTTPRequest(method: "GET", endpoint: endpoint, path: "/__proxy/requests"))
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
        return (object["requests"] as? [[String: Any]] ?? []).map { entry in
            ProxiedRequest(service: entry["service"] as? String ?? "", region: entry["region"] as? String ?? "",
                           method: entry["method"] as? String ?? "", path: entry["path"] as? String ?? "",
                           query: entry["query"] as? String ?? "", target: entry["target"] as? String,
                           names: entry["names"] as? [String] ?? [])
        }
    }
}
