import Foundation

/// What the STS-based providers share: where STS is and how to reach it.
public struct STSContext: Sendable {
    public let environment: AWSEnvironment
    public let files: SharedConfigFiles
    /// The selected profile, whose endpoint settings (`services`, `endpoint_url`) apply to STS.
    public let profileName: String
    /// The region STS is called in; nil: the global endpoint.
    public let region: String?
    public let transport: any HTTPTransport
    public let now: @Sendable () -> Date

    public init(environment: AWSEnvironment, files: SharedConfigFiles, profileName: String, region: String?,
                transport: any HTTPTransport, now: @escaping @Sendable () -> Date = { Date() }) {
        self.environment = environment
        self.files = files
        self.profileName = profileName
        self.region = region
        self.transport = transport
        self.now = now
    }

    func client(providerName: String) throws -> STSClient {
        do {
            let endpoints = EndpointResolver(environment: environment, files: files, profileName: profileName)
            return try STSClient(endpoints: endpoints, region: region, transport: transport)
        } catch {
            throw CredentialsError(kind: .configuration, message: "\(providerName): \(error)", provider: providerName)
        }
    }

    /// botocore's default is `botocore-session-<unix time>`; Conveyor names itself.
    func defaultSessionName() -> String { "conveyor-session-\(Int(now().timeIntervalSince1970))" }

    func configuration(_ providerName: String, _ text: String) -> CredentialsError {
        CredentialsError(kind: .configuration, message: "\(providerName): \(text)", provider: providerName)
    }
}

/// STS `AssumeRoleWithWebIdentity` with a token file, as botocore's
/// `AssumeRoleWithWebIdentityProvider` (EKS IRSA, GitHub Actions OIDC, ...).
///
/// Each setting is read from its variable first, then from the profile: `AWS_WEB_IDENTITY_TOKEN_FILE`
/// / `web_identity_token_file`, `AWS_ROLE_ARN` / `role_arn`, `AWS_ROLE_SESSION_NAME` /
/// `role_session_name` (default `conveyor-session-<unix time>`). The token file is read again at
/// every fetch, since whoever writes it rotates it. Not configured without a token file; a token
/// file without a role ARN is an error.
public struct WebIdentityCredentialProvider: CredentialProvider {
    public static let name = "web identity"

    public let context: STSContext
    /// The profile whose settings are read.
    public let profileName: String
    /// False when reached as the `source_profile` of an assume-role profile: botocore then reads
    /// the profile only.
    public let useEnvironment: Bool

    public init(context: STSContext, profileName: String, useEnvironment: Bool = true) {
        self.context = context
        self.profileName = profileName
        self.useEnvironment = useEnvironment
    }

    private func setting(_ variable: String, _ key: String) -> (value: String, source: String)? {
        if useEnvironment, let value = context.environment[variable] { return (value, variable) }
        if let value = context.files.profile(named: profileName)?[key], !value.isEmpty {
            return (value, "\(key) of profile '\(profileName)'")
        }
        return nil
    }

    public func credentials() async throws -> Credentials {
        let name = Self.name
        guard let tokenFile = setting("AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file") else {
            let variable = useEnvironment ? "AWS_WEB_IDENTITY_TOKEN_FILE not set and " : ""
            throw CredentialsError.notConfigured(name, variable + "profile '\(profileName)' has no web_identity_token_file")
        }
        guard let roleArn = setting("AWS_ROLE_ARN", "role_arn") else {
            let where_ = (useEnvironment ? "AWS_ROLE_ARN or " : "") + "role_arn in profile '\(profileName)'"
            throw CredentialsError(
                kind: .partialCredentials,
                message: "\(name): a token file is set (\(tokenFile.source)) but no role to assume; set \(where_)",
                provider: name)
        }
        let path = context.environment.expandPath(tokenFile.value)
        let token: String
        do {
            token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? "unreadable"
            throw context.configuration(
                name, "cannot read the web identity token file \(path) (\(tokenFile.source)): \(reason)")
        }
        guard !token.isEmpty else { throw context.configuration(name, "the web identity token file \(path) is empty") }
        let sessionName = setting("AWS_ROLE_SESSION_NAME", "role_session_name")?.value ?? context.defaultSessionName()
        var credentials = try await context.client(providerName: name).assumeRoleWithWebIdentity(
            roleArn: roleArn.value, sessionName: sessionName, token: token, providerName: name)
        credentials.source = "\(name) (\(roleArn.value))"
        return credentials
    }
}

/// STS `AssumeRole` for a profile with `role_arn`, as botocore's `AssumeRoleProvider`.
///
/// The source credentials come from exactly one of:
/// - `source_profile = other`: that profile's own `role_arn` when it has no static keys (assumed
///   first, so profiles chain; a cycle is an error), else its `web_identity_token_file`, static keys
///   in the credentials file, `credential_process` or static keys in the config file, in that
///   order. A profile may name itself when it holds static keys.
/// - `credential_source = Environment | Ec2InstanceMetadata | EcsContainer`.
///
/// `external_id`, `role_session_name` (default `conveyor-session-<unix time>`) and
/// `duration_seconds` are passed to STS. `mfa_serial` is refused: an unattended run cannot ask for
/// a code. Not configured when the profile has no `role_arn` (or has `web_identity_token_file`,
/// which is the web identity provider's).
public struct AssumeRoleCredentialProvider: CredentialProvider {
    public static let name = "assume role"
    static let credentialSources = ["Environment", "Ec2InstanceMetadata", "EcsContainer"]

    public let context: STSContext
    public let profileName: String

    public init(context: STSContext, profileName: String) {
        self.context = context
        self.profileName = profileName
    }

    private var files: SharedConfigFiles { context.files }

    public func credentials() async throws -> Credentials {
        guard let profile = files.profile(named: profileName), profile["role_arn"] != nil,
              profile["web_identity_token_file"] == nil else {
            throw CredentialsError.notConfigured(Self.name, "profile '\(profileName)' has no role_arn")
        }
        return try await assume(profileName, visited: [])
    }

    private func fail(_ text: String) -> CredentialsError { context.configuration(Self.name, text) }

    private func assume(_ name: String, visited: [String]) async throws -> Credentials {
        guard let profile = files.profile(named: name), let roleArn = profile["role_arn"], !roleArn.isEmpty else {
            throw fail("profile '\(name)' has no role_arn")
        }
        if profile["mfa_serial"] != nil {
            throw fail("profile '\(name)' sets mfa_serial, but Conveyor runs unattended and cannot ask for an MFA code; "
                + "use a role without an MFA condition, or put session credentials from 'aws sts get-session-token' "
                + "in the environment")
        }
        let source: Credentials
        switch (profile["source_profile"], profile["credential_source"]) {
        case (_?, _?):
            throw fail("profile '\(name)' has both source_profile and credential_source; keep one")
        case (nil, nil):
            throw fail("profile '\(name)' has role_arn but neither source_profile nor credential_source")
        case (nil, let credentialSource?):
            source = try await credentials(from: credentialSource, profile: name)
        case (let sourceName?, nil):
            source = try await credentials(ofSourceProfile: sourceName, of: name, visited: visited + [name])
        }
        var duration: Int?
        if let text = profile["duration_seconds"] {
            guard let seconds = Int(text), seconds > 0 else {
                throw fail("duration_seconds of profile '\(name)' is '\(text.prefix(20))'; "
                    + "expected whole seconds, such as 3600")
            }
            duration = seconds
        }
        var assumed = try await context.client(providerName: Self.name).assumeRole(
            roleArn: roleArn, sessionName: profile["role_session_name"] ?? context.defaultSessionName(),
            externalId: profile["external_id"], durationSeconds: duration, source: source, providerName: Self.name)
        assumed.source = "\(Self.name) [\(name)] (\(roleArn))"
        return assumed
    }

    private func credentials(from credentialSource: String, profile name: String) async throws -> Credentials {
        let provider: any CredentialProvider
        switch credentialSource {
        case "Environment":
            provider = EnvironmentCredentialProvider(environment: context.environment, now: context.now)
        case "Ec2InstanceMetadata":
            let client = try InstanceMetadataClient(environment: context.environment, profile: files.profile(named: name),
                                                    transport: context.transport)
            provider = InstanceMetadataCredentialProvider(client: client)
        case "EcsContainer":
            provider = ContainerCredentialProvider(environment: context.environment, transport: context.transport)
        default:
            let expected = Self.credentialSources.joined(separator: ", ")
            throw fail("credential_source of profile '\(name)' is '\(credentialSource.prefix(40))'; "
                + "expected one of \(expected)")
        }
        do {
            return try await provider.credentials()
        } catch let error as CredentialsError where error.kind == .notConfigured {
            throw fail("profile '\(name)' takes its source credentials from \(credentialSource), which has none: \(error)")
        }
    }

    private func credentials(ofSourceProfile sourceName: String, of name: String, visited: [String]) async throws
        -> Credentials
    {
        guard let source = files.profile(named: sourceName) else {
            throw fail("source_profile '\(sourceName)' of profile '\(name)' does not exist in \(files.configPath) "
                + "or \(files.credentialsPath)")
        }
        // botocore: a source profile with static keys, or without role_arn, is read by the
        // profile's own providers (web identity, static keys, credential_process); only one with
        // role_arn and no keys is assumed in turn.
        let hasStaticKeys = source["aws_access_key_id"] != nil
        if visited.contains(sourceName) && !hasStaticKeys {
            let loop = (visited + [sourceName]).map { "'\($0)'" }.joined(separator: " -> ")
            throw fail("profiles refer to each other in a loop: \(loop)")
        }
        if source["role_arn"] != nil && source["web_identity_token_file"] == nil && !hasStaticKeys {
            return try await assume(sourceName, visited: visited)
        }
        if source["web_identity_token_file"] != nil {
            return try await WebIdentityCredentialProvider(context: context, profileName: sourceName,
                                                           useEnvironment: false).credentials()
        }
        if files.credentialsProfiles[sourceName]?["aws_access_key_id"] != nil {
            return try SharedCredentialsFileProvider(profileName: sourceName, files: files).load()
        }
        if let command = source["credential_process"] {
            return try await ProcessCredentialProvider(command: command, profileName: sourceName,
                                                       environment: context.environment, now: context.now).credentials()
        }
        if hasStaticKeys {
            return try ConfigFileCredentialProvider(profileName: sourceName, files: files).load()
        }
        throw fail("source_profile '\(sourceName)' of profile '\(name)' has no credentials (no role_arn, "
            + "web_identity_token_file, credential_process or aws_access_key_id)")
    }
}
