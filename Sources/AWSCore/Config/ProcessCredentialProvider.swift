import Dispatch
import Foundation
import Synchronization

/// Credentials printed by the profile's `credential_process` command, as botocore's
/// `ProcessProvider`.
///
/// The command is split shell-style (`shlex.split`), run without a shell with the
/// `AWSEnvironment`'s variables as its environment (the program is looked up in its `PATH`), and
/// must exit 0 and print
/// `{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ..., "SessionToken": ..., "Expiration": ...}`
/// (`SessionToken` and the ISO-8601 `Expiration` optional). Credentials with an expiration are
/// cached and fetched again ahead of it (see `CredentialRefreshCache`); concurrent callers share
/// one run. A non-zero exit is an error carrying the command's stderr; stdout, which holds the
/// secret, is never quoted.
public final class ProcessCredentialProvider: CredentialProvider {
    public static let name = "credential_process"

    /// The command line; nil when the profile has none (the provider is then not configured).
    public let command: String?
    public let profileName: String
    public let environment: AWSEnvironment
    private let cache: CredentialRefreshCache

    public init(command: String?, profileName: String, environment: AWSEnvironment,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.command = command
        self.profileName = profileName
        self.environment = environment
        let run = ProcessCredentialProvider.fetcher(command: command, profileName: profileName, environment: environment)
        cache = CredentialRefreshCache(now: now, fetch: run)
    }

    /// The provider for `credential_process` in the selected profile (config and credentials
    /// files merged, as botocore reads it).
    public convenience init(profileName: String, files: SharedConfigFiles, environment: AWSEnvironment,
                            now: @escaping @Sendable () -> Date = { Date() }) {
        self.init(command: files.profile(named: profileName)?["credential_process"], profileName: profileName,
                  environment: environment, now: now)
    }

    public func credentials() async throws -> Credentials {
        guard command != nil else {
            throw CredentialsError.notConfigured(Self.name, "not set in profile '\(profileName)'")
        }
        return try await cache.credentials()
    }

    public func invalidate(_ rejected: Credentials) async {
        await cache.invalidate(rejected)
    }

    private static func fetcher(command: String?, profileName: String, environment: AWSEnvironment)
        -> @Sendable () async throws -> Credentials {
        return {
            guard let command else { throw CredentialsError.notConfigured(name, "not set in profile '\(profileName)'") }
            return try await run(command: command, profileName: profileName, environment: environment)
        }
    }

    static func run(command: String, profileName: String, environment: AWSEnvironment) async throws -> Credentials {
        let label = "credential_process for profile '\(profileName)'"
        func failure(_ kind: CredentialsError.Kind, _ text: String) -> CredentialsError {
            CredentialsError(kind: kind, message: "\(label) \(text)", provider: name)
        }
        let words: [String]
        do {
            words = try ShellWords.split(command)
        } catch {
            throw failure(.configuration, "cannot be split into words: \(error)")
        }
        guard let program = words.first, !program.isEmpty else { throw failure(.configuration, "is empty") }
        guard let executable = ChildProcess.locate(program, path: environment["PATH"]) else {
            throw failure(.processFailed, "failed: '\(program)' is not an executable file"
                          + (program.contains("/") ? "" : " in PATH"))
        }
        let output: ChildProcess.Output
        do {
            output = try await ChildProcess.run(executable: executable, arguments: Array(words.dropFirst()),
                                                environment: environment.variables)
        } catch {
            throw failure(.processFailed, "could not be started: \(error.localizedDescription)")
        }
        guard output.status == 0 else {
            let stderr = String(decoding: output.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let shown = stderr.count > 2000 ? String(stderr.prefix(2000)) + "…" : stderr
            let how = output.signaled ? "was killed by signal \(output.status)" : "exited with status \(output.status)"
            throw failure(.processFailed, shown.isEmpty ? "\(how) (no stderr)" : "\(how): \(shown)")
        }
        return try parse(output.stdout, profileName: profileName)
    }

    /// Reads the Version 1 JSON document. Errors never quote the output.
    static func parse(_ stdout: Data, profileName: String) throws -> Credentials {
        let label = "credential_process for profile '\(profileName)'"
        func invalid(_ text: String) -> CredentialsError {
            CredentialsError(kind: .invalidCredentials, message: "\(label) \(text)", provider: name)
        }
        guard let object = try? JSONSerialization.jsonObject(with: stdout), let json = object as? [String: Any] else {
            throw invalid("did not print a JSON object on stdout")
        }
        // Python's `version != 1`: 1 and 1.0 pass (so does `true`, which Python counts as 1).
        let version = json["Version"]
        guard let number = version as? NSNumber, number.doubleValue == 1 else {
            let shown: String
            switch version {
            case nil: shown = "<Version key not provided>"
            case let number as NSNumber: shown = number.stringValue
            case let text as String where text.count <= 10 && text.allSatisfy({ $0.isNumber || $0 == "." }):
                shown = text  // a version-like string ("1", "2.0"); anything else is not echoed
            default: shown = "<not a number>"
            }
            throw invalid("printed unsupported Version '\(shown)'; supported versions: 1")
        }
        func field(_ key: String) throws -> String {
            guard let value = json[key] as? String, !value.isEmpty else {
                throw invalid(json[key] == nil ? "output is missing required key \(key)" : "output has an invalid \(key)")
            }
            return value
        }
        let accessKey = try field("AccessKeyId")
        let secretKey = try field("SecretAccessKey")
        var token: String?
        if let value = json["SessionToken"], !(value is NSNull) {
            guard let text = value as? String else { throw invalid("output has an invalid SessionToken") }
            token = text.isEmpty ? nil : text
        }
        var expiration: Date?
        if let value = json["Expiration"], !(value is NSNull) {
            guard let text = value as? String, let date = ISO8601Timestamp.parse(text) else {
                throw invalid("output has an Expiration that is not an ISO-8601 timestamp")
            }
            expiration = date
        }
        return Credentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token,
                           expiration: expiration, source: "\(name) [\(profileName)]")
    }
}

/// Runs a program without a shell and collects its output, off the cooperative thread pool.
enum ChildProcess {
    struct Output: Sendable {
        var status: Int32
        var signaled: Bool
        var stdout: Data
        var stderr: Data
    }

    /// `program` itself when it contains a slash, else the first executable match in `path`
    /// (`/usr/bin:/bin` when unset, as `execvp`).
    static func locate(_ program: String, path: String?) -> String? {
        let fm = FileManager.default
        func executable(_ candidate: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: candidate, isDirectory: &isDirectory) && !isDirectory.boolValue
                && fm.isExecutableFile(atPath: candidate)
        }
        if program.contains("/") { return executable(program) ? program : nil }
        for directory in (path ?? "/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let dir = directory.isEmpty ? "." : String(directory)
            let candidate = dir.hasSuffix("/") ? dir + program : dir + "/" + program
            if executable(candidate) { return candidate }
        }
        return nil
    }

    /// Blocks a thread of its own (not the cooperative pool, nor a Dispatch global queue, whose
    /// few threads a couple of concurrent runs would exhaust: libdispatch on Linux then stalls
    /// for about a second before adding one).
    static func run(executable: String, arguments: [String], environment: [String: String]) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try runBlocking(executable: executable, arguments: arguments, environment: environment)
                })
            }
        }
    }

    private static func runBlocking(executable: String, arguments: [String], environment: [String: String]) throws
        -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        // Drain both pipes at once so a chatty stderr cannot block the child.
        let stderrHandle = stderrPipe.fileHandleForReading
        let stderrData = DataBox()
        let stderrDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = stderrHandle.readDataToEndOfFile()
            stderrData.value.withLock { $0 = data }
            stderrDone.signal()
        }
        let stdout = stdoutPipe.fileHandleForReading.readDataToEndOfFile()
        stderrDone.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stdout: stdout, stderr: stderrData.value.withLock { $0 })
    }

    private final class DataBox: Sendable {
        let value = Mutex(Data())
    }
}
