import Foundation
import Synchronization
@testable import AWSCore

/// A scratch directory for one test, used as the home directory; removed when released.
final class ConfigSandbox: Sendable {
    let path: String

    init() {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/conveyor-config-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path + "/.aws", withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var configPath: String { path + "/.aws/config" }
    var credentialsPath: String { path + "/.aws/credentials" }

    @discardableResult
    func write(_ relative: String, _ text: String, executable: Bool = false) -> String {
        let full = relative.hasPrefix("/") ? relative : path + "/" + relative
        let dir = (full as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Written with O_CLOEXEC so that a process another test starts at the same moment cannot
        // inherit the open descriptor: exec'ing a script that some child still holds open for
        // writing fails with ETXTBSY.
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0o755 : 0o644)
        guard fd >= 0 else { return full }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
        close(fd)
        return full
    }

    func config(_ text: String) { write(".aws/config", text) }
    func credentials(_ text: String) { write(".aws/credentials", text) }

    /// An environment with this directory as home, a PATH for scripts, instance metadata
    /// switched off (no test may reach 169.254.169.254), and `variables`.
    func environment(_ variables: [String: String] = [:]) -> AWSEnvironment {
        var all = ["PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"]
        all.merge(variables) { $1 }
        return AWSEnvironment(variables: all, homeDirectory: path)
    }

    func files(_ variables: [String: String] = [:]) throws -> SharedConfigFiles {
        try SharedConfigFiles.load(environment: environment(variables))
    }

    /// Writes an executable `/bin/sh` script that appends a line to `runs` (the file) each time
    /// it runs, then runs `body`.
    @discardableResult
    func script(_ name: String, _ body: String) -> String {
        write(name, "#!/bin/sh\necho run >> '\(path)/runs'\n\(body)\n", executable: true)
    }

    /// How many times scripts made by `script(_:_:)` have run.
    var runs: Int {
        guard let text = try? String(contentsOfFile: path + "/runs", encoding: .utf8) else { return 0 }
        return text.split(separator: "\n").count
    }
}

/// A clock that moves only when told to.
final class TestClock: Sendable {
    private let value: Mutex<Date>

    init(_ start: Date) { value = Mutex(start) }

    var now: Date { value.withLock { $0 } }
    func set(_ date: Date) { value.withLock { $0 = date } }

    var closure: @Sendable () -> Date { { self.now } }
}

/// 2030-01-01T00:00:00Z
let expiry2030 = Date(timeIntervalSince1970: 1_893_456_000)

/// The JSON a credential process prints, with recognisable secrets.
func processJSON(expiration: String? = "2030-01-01T00:00:00Z", version: String = "1",
                 token: Bool = true) -> String {
    var fields = ["\"Version\": \(version)", "\"AccessKeyId\": \"AKIDPROCESS0001\"",
                  "\"SecretAccessKey\": \"SK-zzsecretzz-process\""]
    if token { fields.append("\"SessionToken\": \"TK-zztokenzz-process\"") }
    if let expiration { fields.append("\"Expiration\": \"\(expiration)\"") }
    return "{" + fields.joined(separator: ", ") + "}"
}

/// Test secrets and tokens all contain one of these; no error message may.
let secretMarkers = ["zzsecretzz", "zztokenzz"]

func containsSecret(_ text: String) -> Bool {
    secretMarkers.contains { text.contains($0) }
}
