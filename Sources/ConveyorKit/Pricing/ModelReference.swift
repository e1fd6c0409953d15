import Foundation

/// What the job's `model.id` names, as far as pricing is concerned: a base model id, with the
/// cross-Region inference profile prefix (if any) and the Region of an ARN (if any).
///
/// - `anthropic.claude-sonnet-4-20250514-v1:0` → id, no prefix;
/// - `us.anthropic.claude-…`, `eu.`, `apac.`, `jp.`, `au.` (geographic), `global.`, `us-gov.` → the id
///   after the prefix, and the prefix; any other first component is taken as part of the id (so
///   `ca.x` is the unknown model `ca.x`);
/// - `arn:aws:bedrock:REGION:ACCOUNT:foundation-model/ID` and `…:inference-profile/ID` → as above,
///   with REGION;
/// - other ARNs (application inference profiles, provisioned, custom or imported models, other
///   partitions or services) → nil: the model behind them cannot be known from the string.
public struct ModelReference: Sendable, Equatable, Hashable {
    /// The base model id, prefix removed: `anthropic.claude-haiku-4-5-20251001-v1:0`.
    public var modelId: String
    /// `us`, `eu`, `apac`, `jp`, `au`, `global` or `us-gov`; nil for a bare model id.
    public var profilePrefix: String?
    /// The Region in an ARN.
    public var arnRegion: String?

    /// Geographic cross-Region inference prefixes.
    public static let geographicPrefixes: Set<String> = ["us", "eu", "apac", "jp", "au"]
    /// Every prefix recognised: the geographic ones, `global` and `us-gov`.
    public static let knownPrefixes: Set<String> = geographicPrefixes.union(["global", "us-gov"])

    public init(modelId: String, profilePrefix: String? = nil, arnRegion: String? = nil) {
        self.modelId = modelId
        self.profilePrefix = profilePrefix
        self.arnRegion = arnRegion
    }

    public init?(parsing reference: String) {
        let text = reference.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        var id = Substring(text)
        var region: String?
        if text.hasPrefix("arn:") {
            // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (a model id may itself hold ':').
            let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, parts[1] == "aws", parts[2] == "bedrock" else { return nil }
            let resource = parts[5]
            if let rest = Self.dropPrefix(resource, "foundation-model/") {
                id = rest
            } else if let rest = Self.dropPrefix(resource, "inference-profile/") {
                id = rest
            } else {
                return nil
            }
            region = parts[3].isEmpty ? nil : String(parts[3])
        }
        var prefix: String?
        if let dot = id.firstIndex(of: "."), Self.knownPrefixes.contains(String(id[..<dot])) {
            prefix = String(id[..<dot])
            id = id[id.index(after: dot)...]
        }
        guard !id.isEmpty else { return nil }
        self.init(modelId: String(id), profilePrefix: prefix, arnRegion: region)
    }

    /// Whether the prefix is a geographic cross-Region profile (`us.`, `eu.`, `apac.`, `jp.`, `au.`).
    public var isGeographic: Bool { profilePrefix.map(Self.geographicPrefixes.contains) ?? false }

    private static func dropPrefix(_ s: Substring, _ prefix: String) -> Substring? {
        s.hasPrefix(prefix) ? s.dropFirst(prefix.count) : nil
    }
}

extension ModelReference {
    /// The Claude version in an Anthropic model id: `anthropic.claude-3-5-haiku-…` → 3.5,
    /// `anthropic.claude-sonnet-4-20250514-v1:0` → 4.0, `anthropic.claude-opus-4-8` → 4.8. Nil for
    /// other models. Single-digit components count; dates (8 digits) and `v1` do not.
    public var claudeVersion: (major: Int, minor: Int)? {
        guard modelId.hasPrefix("anthropic.claude-") else { return nil }
        let parts = modelId.dropFirst("anthropic.claude-".count).split(separator: "-")
        var numbers: [Int] = []
        for part in parts {
            if part.count <= 2, let n = Int(part) {
                numbers.append(n)
                if numbers.count == 2 { break }
            } else if !numbers.isEmpty {
                break
            }
        }
        guard let major = numbers.first else { return nil }
        return (major, numbers.count > 1 ? numbers[1] : 0)
    }
}
