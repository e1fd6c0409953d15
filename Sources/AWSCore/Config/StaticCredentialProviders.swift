import Foundation

/// Credentials from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, with an optional session
/// token (`AWS_SECURITY_TOKEN`, then `AWS_SESSION_TOKEN`: botocore's order) and an optional
/// `AWS_CREDENTIAL_EXPIRATION` (ISO-8601), as botocore's `EnvProvider`.
///
/// Not configured when `AWS_ACCESS_KEY_ID` is unset or empty (even if the secret is set, as in
/// botocore); an access key without its secret is an error naming the missing variable.
public struct EnvironmentCredentialProvider: CredentialProvider {
    public static let name = "environment"

    public let environment: AWSEnvironment
    private let now: @Sendable () -> Date

    public init(environment: AWSEnvironment, now: @escaping @Sendable () -> Date = { Date() }) {
        self.environment = environment
        self.now = now
    }

    public func credentials() async throws -> Credentials { try load() }

    /// The synchronous form of `credentials()`.
    public func load() throws -> Credentials {
        let name = Self.name
        guard let accessKey = environment["AWS_ACCESS_KEY_ID"] else {
            let secretSet = environment["AWS_SECRET_ACCESS_KEY"] != nil
            throw CredentialsError.notConfigured(
                name, secretSet ? "AWS_ACCESS_KEY_ID not set, although AWS_SECRET_ACCESS_KEY is" : "AWS_ACCESS_KEY_ID not set")
        }
        guard let secretKey = environment["AWS_SECRET_ACCESS_KEY"] else {
            throw CredentialsError(
                kind: .partialCredentials,
                message: "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is missing", provider: name)
        }
        let token = environment["AWS_SECURITY_TOKEN"] ?? environment["AWS_SESSION_TOKEN"]
        var expiration: Date?
        if let text = environment["AWS_CREDENTIAL_EXPIRATION"] {
            guard let date = ISO8601Timestamp.parse(text) else {
                throw CredentialsError(
                    kind: .invalidCredentials,
                    message: "environment: AWS_CREDENTIAL_EXPIRATION is not an ISO-8601 timestamp", provider: name)
            }
            guard date > now() else {
                throw CredentialsError(
                    kind: .expired,
                    message: "environment: the credentials expired at \(CredentialRefreshCache.format(date)) (AWS_CREDENTIAL_EXPIRATION)",
                    provider: name)
            }
            expiration = date
        }
        return Credentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token,
                           expiration: expiration, source: name)
    }
}

/// Static keys of the selected profile in the shared credentials file, as botocore's
/// `SharedCredentialProvider`: `aws_access_key_id`, `aws_secret_access_key`, and
/// `aws_security_token` or `aws_session_token` (botocore's order).
///
/// Not configured when the file, the profile, or its `aws_access_key_id` is missing; a key id
/// without a secret is an error.
public struct SharedCredentialsFileProvider: CredentialProvider {
    public let profileName: String
    public let files: SharedConfigFiles

    public init(profileName: String, files: SharedConfigFiles) {
        self.profileName = profileName
        self.files = files
    }

    /// "shared credentials file /home/u/.aws/credentials".
    public var name: String { "shared credentials file \(files.credentialsPath)" }

    public func credentials() async throws -> Credentials { try load() }

    public func load() throws -> Credentials {
        guard files.credentialsFileFound else { throw CredentialsError.notConfigured(name, "file not found") }
        return try StaticProfileKeys.credentials(
            profile: files.credentialsProfiles[profileName], profileName: profileName, providerName: name)
    }
}

/// Static keys of the selected profile in the shared config file (`[default]` or
/// `[profile name]`), as botocore's `ConfigProvider`.
public struct ConfigFileCredentialProvider: CredentialProvider {
    public let profileName: String
    public let files: SharedConfigFiles

    public init(profileName: String, files: SharedConfigFiles) {
        self.profileName = profileName
        self.files = files
    }

    /// "config file /home/u/.aws/config".
    public var name: String { "config file \(files.configPath)" }

    public func credentials() async throws -> Credentials { try load() }

    public func load() throws -> Credentials {
        guard files.configFileFound else { throw CredentialsError.notConfigured(name, "file not found") }
        return try StaticProfileKeys.credentials(
            profile: files.configProfiles[profileName], profileName: profileName, providerName: name)
    }
}

enum StaticProfileKeys {
    static func credentials(profile: ConfigProfile?, profileName: String, providerName: String) throws -> Credentials {
        guard let profile else { throw CredentialsError.notConfigured(providerName, "no profile '\(profileName)'") }
        guard let accessKey = profile["aws_access_key_id"] else {
            throw CredentialsError.notConfigured(providerName, "profile '\(profileName)' has no aws_access_key_id")
        }
        guard !accessKey.isEmpty else {
            throw CredentialsError(
                kind: .partialCredentials,
                message: "\(providerName): profile '\(profileName)' has an empty aws_access_key_id", provider: providerName)
        }
        guard let secretKey = profile["aws_secret_access_key"], !secretKey.isEmpty else {
            throw CredentialsError(
                kind: .partialCredentials,
                message: "\(providerName): profile '\(profileName)' has aws_access_key_id but no aws_secret_access_key",
                provider: providerName)
        }
        let token = [profile["aws_security_token"], profile["aws_session_token"]]
            .compactMap { $0 }.first { !$0.isEmpty }
        return Credentials(accessKeyId: accessKey, secretAccessKey: secretKey, sessionToken: token,
                           source: "\(providerName) [\(profileName)]")
    }
}
