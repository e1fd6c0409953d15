import Foundation
import Synchronization

/// A provider's place in botocore's default credential chain
/// (`botocore.credentials.create_credential_resolver`, 1.43.11), first to last:
///
///  1. `environment` — `EnvProvider`: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/... Left out of
///     the chain when a profile is given explicitly (the CLI's `--profile`).
///  2. `assumeRole` — `AssumeRoleProvider`: profile `role_arn` + `source_profile` or
///     `credential_source`.
///  3. `webIdentity` — `AssumeRoleWithWebIdentityProvider`: profile `web_identity_token_file` or
///     `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`.
///  4. `sso` — `SSOProvider`: profile `sso_session` / `sso_start_url`. *(not yet implemented)*
///  5. `sharedCredentialsFile` — `SharedCredentialProvider`: static keys in `~/.aws/credentials`.
///  6. `login` — `LoginProvider` (`aws login`). *(not implemented)*
///  7. `process` — `ProcessProvider`: profile `credential_process`.
///  8. `configFile` — `ConfigProvider`: static keys in `~/.aws/config`.
///  9. `legacyBoto` — `OriginalEC2Provider`, `BotoProvider` (boto2 files). *(not implemented)*
/// 10. `container` — `ContainerProvider`: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`.
/// 11. `instanceMetadata` — `InstanceMetadataProvider`: EC2 IMDS (v2 token first).
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
/// Providers still to come (SSO, login) go in `standardEntries` at their
/// `CredentialChainPosition`, or are added with `inserting(_:)`.
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
    ///
    /// - Parameters:
    ///   - region: where STS is called for assume role and web identity; nil: the region the
    ///     environment and the profile name, else STS's global endpoint.
    ///   - transport: carries the STS, container and instance metadata requests.
    public convenience init(profile: ProfileSelection, files: SharedConfigFiles, environment: AWSEnvironment,
                            region: String? = nil, transport: any HTTPTransport = CurlTransport.shared,
                            now: @escaping @Sendable () -> Date = { Date() }) {
        self.init(entries: Self.standardEntries(profile: profile, files: files, environment: environment,
                                                region: region, transport: transport, now: now),
                  now: now)
    }

    /// The providers implemented so far, at their botocore positions. This is the insertion point
    /// for the rest of the chain (see `CredentialChainPosition`).
    public static func standardEntries(profile: ProfileSelection, files: SharedConfigFiles,
                                       environment: AWSEnvironment, region: String? = nil,
                                       transport: any HTTPTransport = CurlTransport.shared,
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
        let stsRegion = region ?? (try? RegionResolver.resolve(override: nil, environment: environment,
                                                               profileName: profile.name, files: files))?.name
        let sts = STSContext(environment: environment, files: files, profileName: profile.name, region: stsRegion,
                             transport: transport, now: now)
        // 2. assume role
        entries.append(CredentialChainEntry(
            name: AssumeRoleCredentialProvider.name, position: .assumeRole,
            provider: AssumeRoleCredentialProvider(context: sts, profileName: profile.name)))
        // 3. web identity
        entries.append(CredentialChainEntry(
            name: WebIdentityCredentialProvider.name, position: .webIdentity,
            provider: WebIdentityCredentialProvider(context: sts, profileName: profile.name)))
        // 4. SSO: not implemented.
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
        // 10. container
        entries.append(CredentialChainEntry(
            name: ContainerCredentialProvider.name, position: .container,
            provider: ContainerCredentialProvider(environment: environment, transport: transport)))
        // 11. instance metadata
        let metadata: any CredentialProvider
        do {
            metadata = InstanceMetadataCredentialProvider(client: try InstanceMetadataClient(
                environment: environment, profile: files.profile(named: profile.name), transport: transport))
        } catch {
            metadata = FailingCredentialProvider(error: error)
        }
        entries.append(CredentialChainEntry(name: InstanceMetadataCredentialProvider.name, position: .instanceMetadata,
                                            provider: metadata))
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

    /// Drops `rejected` from the cache (and from the winning provider's own cache), so that the
    /// next call asks the source again; see `CredentialProvider.invalidate(_:)`.
    public func invalidate(_ rejected: Credentials) async {
        await cache.invalidate(rejected)
        if let index = winner.index.withLock({ $0 }) {
            await entries[index].provider.invalidate(rejected)
        }
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

/// A chain step whose configuration is broken: it fails with that error when its turn comes.
struct FailingCredentialProvider: CredentialProvider {
    var error: any Error
    func credentials() async throws -> Credentials { throw error }
}

/// A chain step that is present only to say why it was skipped.
struct SkippedCredentialProvider: CredentialProvider {
    var name: String
    var reason: String
    func credentials() async throws -> Credentials { throw CredentialsError.notConfigured(name, reason) }
}
