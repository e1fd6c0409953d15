import Foundation

/// A problem with AWS configuration itself: a shared config file that cannot be read or parsed,
/// a profile that does not exist, a missing or malformed region, an endpoint URL that is not a
/// URL. `conveyor` reports these with exit code 2.
///
/// Messages name the file and line, or the variable, that is at fault. They never quote a line
/// of a config file, because the line may hold a secret key.
public struct AWSConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A shared config or credentials file does not parse (`path:line: ...`).
        case malformedFile
        /// A shared config or credentials file exists but cannot be read.
        case unreadableFile
        /// A profile was asked for (argument, `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`) and exists in
        /// neither file.
        case profileNotFound
        /// No region was found anywhere.
        case noRegion
        /// A region was found but is not of the form `[a-z0-9-]+`.
        case invalidRegion
        /// An endpoint URL from a variable or a config file is not an http(s) URL.
        case invalidEndpoint
        /// A profile refers to a `[services name]` section that does not exist, or the section
        /// is not shaped as botocore expects.
        case invalidServicesSection
    }

    public var kind: Kind
    public var message: String
    /// The file at fault, when there is one.
    public var path: String?
    /// The 1-based line at fault, when there is one.
    public var line: Int?

    public init(kind: Kind, message: String, path: String? = nil, line: Int? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.line = line
    }

    public var description: String {
        switch (path, line) {
        case let (path?, line?): return "\(path):\(line): \(message)"
        case let (path?, nil): return "\(path): \(message)"
        default: return message
        }
    }
}

/// A failure to obtain credentials. Its message never contains a secret access key, a session
/// token, or anything a `credential_process` wrote to stdout.
public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The provider's source is not set up (no variable, no profile entry): a chain moves on
        /// to its next provider. The message is the reason alone ("AWS_ACCESS_KEY_ID not set").
        case notConfigured
        /// The source is set up but incomplete: an access key without its secret, and the like.
        case partialCredentials
        /// The source gave something malformed: bad JSON, an unsupported version, a bad date.
        case invalidCredentials
        /// A `credential_process` could not be started or exited non-zero.
        case processFailed
        /// The credentials are expired, and refreshing them gave expired credentials again.
        case expired
        /// The configuration the provider depends on is broken (see `AWSConfigError`).
        case configuration
        /// A chain tried every source and none had credentials; the message lists them.
        case noCredentials
        /// A credential service (STS, a container endpoint, EC2 instance metadata) answered with
        /// an error or could not be reached although it is configured.
        case requestFailed
    }

    public var kind: Kind
    public var message: String
    /// The provider that failed ("environment", "credential_process", ...), when known.
    public var provider: String?
    /// For `.noCredentials`: each source tried with the reason it was skipped.
    public var tried: [String]

    public init(kind: Kind, message: String, provider: String? = nil, tried: [String] = []) {
        self.kind = kind
        self.message = message
        self.provider = provider
        self.tried = tried
    }

    /// The message; for `.notConfigured` (whose message is just the reason) prefixed by the
    /// provider's name.
    public var description: String {
        if kind == .notConfigured, let provider { return "\(provider): \(message)" }
        return message
    }

    /// A provider's "my source is not set up" answer; `reason` is short ("AWS_ACCESS_KEY_ID not set").
    public static func notConfigured(_ provider: String, _ reason: String) -> CredentialsError {
        CredentialsError(kind: .notConfigured, message: reason, provider: provider)
    }
}
