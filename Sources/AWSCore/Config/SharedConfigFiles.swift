import Foundation

/// The settings of one profile.
public struct ConfigProfile: Sendable, Equatable {
    public var name: String
    public var values: [String: ConfigValue]

    public init(name: String, values: [String: ConfigValue] = [:]) {
        self.name = name
        self.values = values
    }

    /// A plain string setting (keys are lowercase, as the parser stores them); nil when it is
    /// absent or an indented sub-section.
    public subscript(key: String) -> String? { values[key]?.string }

    /// An indented sub-section setting.
    public func subsection(_ key: String) -> [String: String]? { values[key]?.subsection }
}

/// The contents of the shared config file (`AWS_CONFIG_FILE`, `~/.aws/config`) and the shared
/// credentials file (`AWS_SHARED_CREDENTIALS_FILE`, `~/.aws/credentials`).
///
/// In the config file profiles are `[default]` and `[profile name]` (the name may be quoted:
/// `[profile "my name"]`); a bare `[name]` other than `default` is not a profile. Sections
/// `[sso-session name]` and `[services name]` are kept apart. In the credentials file every
/// section is a profile under its bare name. A missing file is the same as an empty one.
public struct SharedConfigFiles: Sendable, Equatable {
    public var configPath: String
    public var credentialsPath: String
    public var configFileFound: Bool
    public var credentialsFileFound: Bool
    /// Profiles of the config file, by name.
    public var configProfiles: [String: ConfigProfile]
    /// Profiles (sections) of the credentials file, by name.
    public var credentialsProfiles: [String: ConfigProfile]
    /// `[sso-session name]` sections of the config file.
    public var ssoSessions: [String: [String: ConfigValue]]
    /// `[services name]` sections of the config file.
    public var services: [String: [String: ConfigValue]]

    public init(configPath: String, credentialsPath: String,
                configSections: [ConfigSection]?, credentialsSections: [ConfigSection]?) {
        self.configPath = configPath
        self.credentialsPath = credentialsPath
        configFileFound = configSections != nil
        credentialsFileFound = credentialsSections != nil
        configProfiles = [:]
        credentialsProfiles = [:]
        ssoSessions = [:]
        services = [:]
        for section in configSections ?? [] {
            // botocore's build_profile_map: a prefix test, then shlex-split into exactly two words.
            if section.name.hasPrefix("profile") {
                if let name = Self.namedSection(section.name) {
                    configProfiles[name, default: ConfigProfile(name: name)].values.merge(section.values) { $1 }
                }
            } else if section.name.hasPrefix("sso-session") {
                if let name = Self.namedSection(section.name) {
                    ssoSessions[name, default: [:]].merge(section.values) { $1 }
                }
            } else if section.name.hasPrefix("services") {
                if let name = Self.namedSection(section.name) {
                    services[name, default: [:]].merge(section.values) { $1 }
                }
            } else if section.name == "default" {
                configProfiles["default", default: ConfigProfile(name: "default")].values.merge(section.values) { $1 }
            }
        }
        for section in credentialsSections ?? [] {
            credentialsProfiles[section.name, default: ConfigProfile(name: section.name)]
                .values.merge(section.values) { $1 }
        }
    }

    /// Reads both files named by `environment`. Missing files are fine; unreadable or malformed
    /// ones throw `AWSConfigError`.
    public static func load(environment: AWSEnvironment) throws -> SharedConfigFiles {
        let configPath = environment.configFilePath
        let credentialsPath = environment.credentialsFilePath
        return SharedConfigFiles(
            configPath: configPath, credentialsPath: credentialsPath,
            configSections: try SharedConfigParser.load(path: configPath),
            credentialsSections: try SharedConfigParser.load(path: credentialsPath))
    }

    /// `[kind name]` → `name`; nil unless the header is exactly two shell words.
    static func namedSection(_ header: String) -> String? {
        guard let words = try? ShellWords.split(header), words.count == 2 else { return nil }
        return words[1]
    }

    /// Whether either file has the profile.
    public func hasProfile(_ name: String) -> Bool {
        configProfiles[name] != nil || credentialsProfiles[name] != nil
    }

    /// Every profile name found in either file, sorted.
    public var profileNames: [String] {
        Set(configProfiles.keys).union(credentialsProfiles.keys).sorted()
    }

    /// The profile as botocore's session sees it: the config file's settings, overridden key by
    /// key by the credentials file's. Nil when neither file has it.
    public func profile(named name: String) -> ConfigProfile? {
        switch (configProfiles[name], credentialsProfiles[name]) {
        case (nil, nil): return nil
        case (let config?, nil): return config
        case (nil, let credentials?): return credentials
        case (var config?, let credentials?):
            config.values.merge(credentials.values) { $1 }
            return config
        }
    }
}

/// Which profile is in use and why.
public struct ProfileSelection: Sendable, Equatable, CustomStringConvertible {
    public enum Source: Sendable, Equatable {
        /// Given explicitly (the CLI's `--profile`). botocore then skips environment credentials.
        case argument
        /// From an environment variable (`AWS_PROFILE` or `AWS_DEFAULT_PROFILE`).
        case environment(String)
        /// Nothing asked for one: `default`.
        case implicitDefault
    }

    public var name: String
    public var source: Source

    public init(name: String, source: Source) {
        self.name = name
        self.source = source
    }

    /// True unless the profile is the implicit `default`; such a profile must exist.
    public var isExplicit: Bool { source != .implicitDefault }

    /// Picks the profile: `explicit` (the CLI's `--profile`) wins, then `AWS_PROFILE`, then
    /// `AWS_DEFAULT_PROFILE`, then `default`.
    ///
    /// botocore reads `AWS_DEFAULT_PROFILE` before `AWS_PROFILE`; Conveyor's contract names
    /// `AWS_PROFILE`, and the other AWS SDKs prefer it, so it comes first here.
    public static func select(explicit: String?, environment: AWSEnvironment) -> ProfileSelection {
        if let explicit { return ProfileSelection(name: explicit, source: .argument) }
        for variable in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"] {
            if let name = environment[variable] { return ProfileSelection(name: name, source: .environment(variable)) }
        }
        return ProfileSelection(name: "default", source: .implicitDefault)
    }

    /// Where the name came from, for `conveyor doctor` ("--profile", "AWS_PROFILE", "default").
    public var sourceDescription: String {
        switch source {
        case .argument: return "--profile"
        case .environment(let variable): return variable
        case .implicitDefault: return "default"
        }
    }

    public var description: String { "profile '\(name)' (from \(sourceDescription))" }

    /// Throws `AWSConfigError.profileNotFound` when the profile was asked for explicitly and
    /// exists in neither file, as botocore's `ProfileNotFound`. The implicit `default` may be absent.
    public func validate(in files: SharedConfigFiles) throws {
        guard isExplicit, !files.hasProfile(name) else { return }
        throw AWSConfigError(
            kind: .profileNotFound,
            message: "profile '\(name)' (from \(sourceDescription)) not found in \(files.configPath) or \(files.credentialsPath)")
    }
}
