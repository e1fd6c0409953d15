import Foundation

/// An access key pair with an optional session token. Its description never shows the secret or
/// the token, only the key id's last four characters.
public struct Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When the credentials stop working; nil for long-term keys.
    public var expiration: Date?
    /// Which source gave them, for `conveyor doctor` and error messages ("environment", "profile dev", ...).
    public var source: String

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil,
                source: String = "static") {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    /// The key id with all but its last four characters masked.
    public var maskedAccessKeyId: String {
        let tail = accessKeyId.suffix(4)
        return String(repeating: "*", count: max(0, accessKeyId.count - 4)) + tail
    }

    public var description: String {
        "Credentials(\(maskedAccessKeyId) from \(source)\(sessionToken == nil ? "" : ", with session token")"
            + (expiration.map { ", expires \($0)" } ?? "") + ")"
    }

    public var debugDescription: String { description }
}

/// Something that produces credentials: a fixed pair, the environment, a profile, a process, STS
/// (assume role, web identity), a container endpoint or EC2 instance metadata.
public protocol CredentialProvider: Sendable {
    /// Returns valid credentials, refreshing them if needed. Throws `CredentialsError` when the
    /// source has none.
    func credentials() async throws -> Credentials

    /// A service refused `rejected` as expired (`ExpiredToken`): a provider that caches drops them
    /// if they are still what it holds, so that the next `credentials()` fetches new ones. Callers
    /// that saw the same rejected credentials at once cause one refresh, not one each.
    func invalidate(_ rejected: Credentials) async
}

extension CredentialProvider {
    /// Providers that cache nothing have nothing to drop.
    public func invalidate(_ rejected: Credentials) async {}
}

/// A provider that always returns the same credentials.
public struct StaticCredentialProvider: CredentialProvider {
    public let value: Credentials
    public init(_ value: Credentials) { self.value = value }
    public func credentials() async throws -> Credentials { value }
}
