import Foundation

/// What endpoint resolution needs to know about a service: its botocore `serviceId` (which names
/// the `AWS_ENDPOINT_URL_<SERVICE>` variable and the `[services]` key) and its endpoint prefix
/// (the first label of the AWS host name).
public struct AWSServiceID: Sendable, Hashable, CustomStringConvertible {
    /// As in the service model's metadata: "S3", "Bedrock Runtime", "SSM".
    public var serviceId: String
    /// The first label of `{prefix}.{region}.amazonaws.com`: "s3", "bedrock-runtime".
    public var endpointPrefix: String

    public init(serviceId: String, endpointPrefix: String) {
        self.serviceId = serviceId
        self.endpointPrefix = endpointPrefix
    }

    public static let s3 = AWSServiceID(serviceId: "S3", endpointPrefix: "s3")
    public static let bedrockRuntime = AWSServiceID(serviceId: "Bedrock Runtime", endpointPrefix: "bedrock-runtime")
    public static let bedrock = AWSServiceID(serviceId: "Bedrock", endpointPrefix: "bedrock")
    public static let ssm = AWSServiceID(serviceId: "SSM", endpointPrefix: "ssm")
    public static let sts = AWSServiceID(serviceId: "STS", endpointPrefix: "sts")

    private var snakeCase: String {
        String(serviceId.map { $0 == " " || $0 == "-" ? "_" : $0 })
    }

    /// `AWS_ENDPOINT_URL_` + the serviceId uppercased, spaces and hyphens as `_`.
    public var environmentVariable: String { "AWS_ENDPOINT_URL_" + snakeCase.uppercased() }

    /// The key inside a `[services name]` section: the serviceId lowercased, spaces and hyphens as `_`.
    public var configKey: String { snakeCase.lowercased() }

    public var description: String { serviceId }
}

/// An endpoint and where it came from ("AWS_ENDPOINT_URL_S3", "AWS default", ...).
public struct ResolvedEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var endpoint: Endpoint
    public var source: String

    public init(endpoint: Endpoint, source: String) {
        self.endpoint = endpoint
        self.source = source
    }

    public var description: String { "\(endpoint) (from \(source))" }
}

/// Finds a service's endpoint like botocore's `ConfiguredEndpointProvider`, then the AWS host:
///
/// 1. `AWS_ENDPOINT_URL_<SERVICE>`
/// 2. `AWS_ENDPOINT_URL`
/// 3. the profile's `services = name` → `[services name]` → `<service key> =` → indented `endpoint_url`
/// 4. the profile's `endpoint_url`
/// 5. `https://{prefix}.{region}.amazonaws.com` (`amazonaws.com.cn` for `cn-` regions)
///
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`, or `ignore_configured_endpoint_urls = true` in the
/// profile (the variable wins when set), skips 1–4. Endpoints from 1–4 are custom (`isCustom`),
/// which makes S3 use path-style addressing.
public struct EndpointResolver: Sendable {
    public let environment: AWSEnvironment
    public let files: SharedConfigFiles
    public let profileName: String

    public init(environment: AWSEnvironment, files: SharedConfigFiles, profileName: String) {
        self.environment = environment
        self.files = files
        self.profileName = profileName
    }

    private var profile: ConfigProfile? { files.profile(named: profileName) }

    /// Whether configured endpoints are switched off; botocore takes `true` in any case as true and
    /// anything else as false.
    public var ignoresConfiguredEndpoints: Bool {
        if let value = environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] { return value.lowercased() == "true" }
        return profile?["ignore_configured_endpoint_urls"]?.lowercased() == "true"
    }

    /// The configured (custom) endpoint for `service`, or nil when none is configured or they are
    /// ignored. Throws `AWSConfigError` for a malformed URL or a missing `[services]` section.
    public func configuredEndpoint(for service: AWSServiceID) throws -> ResolvedEndpoint? {
        guard !ignoresConfiguredEndpoints else { return nil }
        for variable in [service.environmentVariable, "AWS_ENDPOINT_URL"] {
            if let value = environment[variable] {
                return ResolvedEndpoint(endpoint: try parse(value, source: variable), source: variable)
            }
        }
        guard let profile else { return nil }
        if let sectionName = profile["services"], !sectionName.isEmpty {
            let where_ = "[services \(sectionName)] in \(files.configPath)"
            guard let section = files.services[sectionName] else {
                throw AWSConfigError(
                    kind: .invalidServicesSection,
                    message: "profile '\(profileName)' uses services section '\(sectionName)', which does not exist in \(files.configPath)")
            }
            if let entry = section[service.configKey] {
                guard let settings = entry.subsection else {
                    throw AWSConfigError(
                        kind: .invalidServicesSection,
                        message: "in \(where_), '\(service.configKey) =' must be followed by indented settings such as 'endpoint_url = https://...'")
                }
                if let value = settings["endpoint_url"], !value.isEmpty {
                    let source = "\(where_) (profile '\(profileName)')"
                    return ResolvedEndpoint(endpoint: try parse(value, source: "endpoint_url for \(service.configKey) in \(where_)"),
                                            source: source)
                }
            }
        }
        if let value = profile["endpoint_url"], !value.isEmpty {
            let inCredentials = files.credentialsProfiles[profileName]?["endpoint_url"] != nil
            let source = "endpoint_url of profile '\(profileName)' in \(inCredentials ? files.credentialsPath : files.configPath)"
            return ResolvedEndpoint(endpoint: try parse(value, source: source), source: source)
        }
        return nil
    }

    /// The endpoint for `service`: a configured one, else the AWS host for `region`. Without a
    /// configured endpoint a region is required.
    public func resolve(_ service: AWSServiceID, region: String?) throws -> ResolvedEndpoint {
        if let configured = try configuredEndpoint(for: service) { return configured }
        guard let region else {
            throw AWSConfigError(kind: .noRegion,
                                 message: "no AWS region configured, so there is no \(service.endpointPrefix) endpoint; set AWS_REGION or pass --region")
        }
        return ResolvedEndpoint(endpoint: Self.awsEndpoint(for: service, region: region), source: "AWS default for \(region)")
    }

    /// The endpoint for `service` in `region` (see `resolve(_:region:)`).
    public func endpoint(for service: AWSServiceID, region: String) throws -> Endpoint {
        try resolve(service, region: region).endpoint
    }

    /// `https://{prefix}.{region}.amazonaws.com`, or `.amazonaws.com.cn` in China regions.
    public static func awsEndpoint(for service: AWSServiceID, region: String) -> Endpoint {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return Endpoint(scheme: "https", host: "\(service.endpointPrefix).\(region).\(suffix)", isCustom: false)
    }

    private func parse(_ value: String, source: String) throws -> Endpoint {
        if let endpoint = Endpoint(url: value, isCustom: true) { return endpoint }
        throw AWSConfigError(kind: .invalidEndpoint,
                             message: "\(source) is not a valid http(s) URL: '\(Self.redacted(value))'")
    }

    /// The URL with any `user:password@` part masked, shortened to 200 characters.
    static func redacted(_ value: String) -> String {
        var text = value
        if let at = text.lastIndex(of: "@") {
            let start = text.range(of: "://")?.upperBound ?? text.startIndex
            if start <= at { text.replaceSubrange(start..<at, with: "***") }
        }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}
