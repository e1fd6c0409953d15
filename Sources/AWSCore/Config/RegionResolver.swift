import Foundation

/// A region and where it came from ("--region", "AWS_REGION", "profile 'dev' in /x/config").
public struct ResolvedRegion: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    public var description: String { "\(name) (from \(source))" }
}

/// Finds the region: an explicit override (the CLI's `--region`, a job file), then `AWS_REGION`,
/// then `AWS_DEFAULT_REGION`, then the profile's `region`.
///
/// botocore reads only `AWS_DEFAULT_REGION`; the other SDKs and Conveyor's contract read
/// `AWS_REGION` first (reference/aws-protocols.md §6.2). Instance metadata is not consulted.
public enum RegionResolver {
    /// A region must be non-empty lowercase letters, digits and hyphens (at most 63, not starting
    /// or ending with a hyphen): it goes into host names and the SigV4 scope.
    public static func isValid(_ region: String) -> Bool {
        !region.isEmpty && region.count <= 63 && !region.hasPrefix("-") && !region.hasSuffix("-")
            && region.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// - Parameters:
    ///   - override: an explicit region and the name of its source, e.g. `("eu-west-1", "--region")`.
    ///   - profileName: the selected profile, read from both files merged (the credentials file wins).
    public static func resolve(override: (value: String, source: String)?, environment: AWSEnvironment,
                               profileName: String, files: SharedConfigFiles) throws(AWSConfigError) -> ResolvedRegion {
        let profile = files.profile(named: profileName)
        let inCredentials = files.credentialsProfiles[profileName]?["region"] != nil
        let profileSource = "profile '\(profileName)' in \(inCredentials ? files.credentialsPath : files.configPath)"
        var candidates: [(value: String?, source: String, missing: String)] = []
        if let override {
            candidates.append((override.value, override.source, "not given"))
        }
        candidates.append((environment["AWS_REGION"], "AWS_REGION", "not set"))
        candidates.append((environment["AWS_DEFAULT_REGION"], "AWS_DEFAULT_REGION", "not set"))
        candidates.append((profile?["region"].flatMap { $0.isEmpty ? nil : $0 }, profileSource,
                           profile == nil ? "no such profile" : "no region"))
        for candidate in candidates {
            guard let value = candidate.value else { continue }
            guard isValid(value) else {
                throw AWSConfigError(
                    kind: .invalidRegion,
                    message: "region '\(value.prefix(70))' from \(candidate.source) is not a valid region name "
                        + "(expected lowercase letters, digits and hyphens, such as us-east-1)")
            }
            return ResolvedRegion(name: value, source: candidate.source)
        }
        let tried = candidates.map { "\($0.source) (\($0.missing))" }
        throw AWSConfigError(kind: .noRegion,
                             message: "no AWS region configured; tried: " + tried.joined(separator: ", ")
                                 + ". Set AWS_REGION or pass --region")
    }
}
