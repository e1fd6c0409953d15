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
/// then `AWS_DEFAULT_REGION`, then the profile's `region`, and as the last resort the EC2 instance
/// metadata's `placement/region` (when an `InstanceMetadataClient` is given and not disabled).
///
/// botocore reads only `AWS_DEFAULT_REGION`; the other SDKs and Conveyor's contract read
/// `AWS_REGION` first (reference/aws-protocols.md §6.2).
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
    ///   - instanceMetadata: asked (about a second at most when nothing answers) only when no other
    ///     source has a region.
    public static func resolve(override: (value: String, source: String)?, environment: AWSEnvironment,
                               profileName: String, files: SharedConfigFiles,
                               instanceMetadata: InstanceMetadataClient? = nil) throws(AWSConfigError) -> ResolvedRegion {
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
        var tried = candidates.map { "\($0.source) (\($0.missing))" }
        if let instanceMetadata {
            let source = "instance metadata \(instanceMetadata.endpoint)"
            if instanceMetadata.disabled {
                tried.append("instance metadata (disabled by AWS_EC2_METADATA_DISABLED)")
            } else if let region = instanceMetadata.regionBlocking(), isValid(region) {
                return ResolvedRegion(name: region, source: source)
            } else {
                tried.append("\(source) (no answer)")
            }
        }
        throw AWSConfigError(kind: .noRegion,
                             message: "no AWS region configured; tried: " + tried.joined(separator: ", ")
                                 + ". Set AWS_REGION or pass --region")
    }
}
