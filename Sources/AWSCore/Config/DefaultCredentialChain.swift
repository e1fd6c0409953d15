import Foundation
import Synchronization

/// A provider's place in botocore's default credential chain
/// (`botocore.credentials.create_credential_resolver`, 1.43.11), first to last:
///
///  1. `environment` — `EnvProvider`: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/... Left out of
///     the chain when a profile is given explicitly (the CLI's `--profile`).
///  2. `assumeRole` — `AssumeRoleProvider`: profile `role_arn` + `source_profile` or
///     `credential_source`. *(not yet implemented)*
///  3. `webIdentity` — `AssumeRoleWithWebIdentityProvider`: profile `web_identity_token_file` or
///     `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`. *(not yet implemented)*
///  4. `sso` — `SSOProvider`: profile `sso_session` / `sso_start_url`. *(not yet implemented)*
///  5. `sharedCredentialsFile` — `SharedCredentialProvider`: static keys in `~/.aws/credentials`.
///  6. `login` — `LoginProvider` (`aws login`). *(not implemented)*
///  7. `process` — `ProcessProvider`: profile `credential_process`.
///  8. `configFile` — `ConfigProvider`: static keys in `~/.aws/config`.
///  9. `legacyBoto` — `OriginalEC2Provider`, `BotoProvider` (boto2 files). *(not implemented)*
/// 10. `container` — `ContainerProvider`: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`.
///     *(not yet implemented)*
/// 11. `instanceMetadata` — `InstanceMetadataProvider`: EC2 IMDS (v2 token first). *(not yet implemented)*
public enum CredentialChainPosition: Int, Sendable, Comparable, CaseIterable {
    case environment = 1
    case assumeRole
    case webIdentity
    case sso
    case sharedCredentialsFile
    case login
    case process
    case configFile
    case legacyBoto
    case container
    case instanceMetadata

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One named step of a credential chain.
public struct CredentialChainEntry: Sendable {
    /// Shown in the "tried" list and by `conveyor doctor` ("environment", "config file /x/config").
    public var name: String
    public var position: CredentialChainPosition
    public var provider: any CredentialProvider

    public init(name: String, position: CredentialChainPosition, provider: any CredentialProvider) {
        self.name = name
        self.position = position
        self.provider = provider
    }
}

/// botocore's default credential chain: asks each provider in turn, and the first that has
/// credentials wins.
///
/// A provider that throws `CredentialsError` of kind `.notConfigured` is skipped; any other error
/// stops the chain (a broken `credential_process` fails rather than falling through, as in
/// botocore). When every provider skips, the error lists each source with its reason. The winner
/// is remembered and its credentials cached, refreshed ahead of expiry by asking the winner again
/// (`CredentialRefreshCache`: advisory 15 min, mandatory 10 min, one refresh in flight).
///
/// Providers still to come (web identity, assume role, SSO, container, IMDS) go in
/// `standardEntries` at their `CredentialChainPosition`, or are added with `inserting(_:)`.
public final class DefaultCredentialChain: CredentialProvider {
    /// The steps, in the order they are tried.
    public let entries: [CredentialChainEntry]
    private let cache: CredentialRefreshCache
    private let winner: WinnerBox
    private let now: @Sendable () -> Date

    /// A chain of exactly these entries, ordered by their position (stable among equals).
    public init(entries: [CredentialChainEntry], now: @escaping @Sendable () -> Date = { Date() }) {
        let ordered = entries.enumerated()
            .sorted { ($0.element.position, $0.offset) < ($1.element.position, $1.offset) }
            .map(\.element)
        self.entries = ordered
        self.now = now
        let winner = WinnerBox()
        self.winner = winner
        cache = CredentialRefreshCache(now: now) {
            try await DefaultCredentialChain.resolve(entries: ordered, winner: winner)
        }
    }

    /// The default chain for a profile.
    public convenience init(profile: ProfileSelection, files: SharedConfigFiles, environment: AWSEnvironment,
                            now: @escaping @Sendable () -> Date = { Date() }) {
        self.init(entries: Self.standardEntries(profile: profile, files: files, environment: environment, now: now),
                  now: now)
    }

    /// The providers implemented so far, at their botocore positions. This is the insertion point
    /// for the rest of the chain (see `CredentialChainPosition`).
    public static func standardEntries(profile: ProfileSelection, files: SharedConfigFiles,
                                       environment: AWSEnvironment,
                                       now: @escaping @Sendable () -> Date = { Date() }) -> [CredentialChainEntry] {
        var entries: [CredentialChainEntry] = []
        // 1. environment (botocore drops it when the profile was given explicitly)
        if profile.source == .argument {
            entries.append(CredentialChainEntry(
                name: EnvironmentCredentialProvider.name, position: .environment,
                provider: SkippedCredentialProvider(
                    name: EnvironmentCredentialProvider.name, reason: "skipped: profile given with --profile")))
        } else {
            entries.append(CredentialChainEntry(
                name: EnvironmentCredentialProvider.name, position: .environment,
                provider: EnvironmentCredentialProvider(environment: environment, now: now)))
        }
        // 2. assume role, 3. web identity, 4. SSO: later issues.
        // 5. shared credentials file
        let shared = SharedCredentialsFileProvider(profileName: profile.name, files: files)
        entries.append(CredentialChainEntry(name: shared.name, position: .sharedCredentialsFile, provider: shared))
        // 6. login: not implemented.
        // 7. credential_process
        entries.append(CredentialChainEntry(
            name: ProcessCredentialProvider.name, position: .process,
            provider: ProcessCredentialProvider(profileName: profile.name, files: files, environment: environment,
                                                now: now)))
        // 8. config file
        let config = ConfigFileCredentialProvider(profileName: profile.name, files: files)
        entries.append(CredentialChainEntry(name: config.name, position: .configFile, provider: config))
        // 10. container, 11. instance metadata: later issues.
        return entries
    }

    /// A new chain with `entry` added at its position (after any entries already there).
    public func inserting(_ entry: CredentialChainEntry) -> DefaultCredentialChain {
        DefaultCredentialChain(entries: entries + [entry], now: now)
    }

    /// The names of the steps, in order.
    public var providerNames: [String] { entries.map(\.name) }

    public func credentials() async throws -> Credentials {
        try await cache.credentials()
    }

    /// The name of the step that gave the cached credentials, nil before the first success.
    public var resolvedProviderName: String? {
        winner.index.withLock { $0 }.map { entries[$0].name }
    }

    private static func resolve(entries: [CredentialChainEntry], winner: WinnerBox) async throws -> Credentials {
        if let index = winner.index.withLock({ $0 }) {
            do {
                return try await entries[index].provider.credentials()
            } catch let error as CredentialsError where error.kind == .notConfigured {
                winner.index.withLock { $0 = nil }  // its source went away: walk the chain again
            }
        }
        var tried: [String] = []
        for (index, entry) in entries.enumerated() {
            do {
                let credentials = try await entry.provider.credentials()
                winner.index.withLock { $0 = index }
                return credentials
            } catch let error as CredentialsError where error.kind == .notConfigured {
                tried.append("\(entry.name) (\(error.message))")
            }
        }
        throw CredentialsError(
            kind: .noCredentials, message: "no AWS credentials found; tried: " + tried.joined(separator: ", "),
            tried: tried)
    }

    private final class WinnerBox: Sendable {
        let index = Mutex<Int?>(nil)
    }
}

/// A chain step that is present only to say why it was skipped.
struct SkippedCredentialProvider: CredentialProvider {
    var name: String
    var reason: String
    func credentials() async throws -> Credentials { throw CredentialsError.notConfigured(name, reason) }
}
