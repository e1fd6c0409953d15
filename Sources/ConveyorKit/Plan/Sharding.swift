import Foundation

/// Where a shard's index comes from, and what a shard changes in a run's locations.
extension Shard {
    /// The environment variables that carry a shard index, in the order they are read: AWS Batch
    /// array jobs set the first, Kubernetes Indexed Jobs the second. Both count from 0.
    public static let indexVariables = ["AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"]

    /// The shard a process runs: `--shard I/N` as given, or `--shards N` with the index from
    /// `AWS_BATCH_JOB_ARRAY_INDEX` or `JOB_COMPLETION_INDEX`; nil when neither option is given.
    /// Two index variables that disagree are an error rather than a guess.
    public static func resolve(shard: String?, shards: Int?,
                               environment: [String: String]) throws(ConfigurationError) -> Shard? {
        if shard != nil && shards != nil {
            throw ConfigurationError("give either --shard I/N or --shards N (with the index from \(indexVariables.joined(separator: " or "))), not both")
        }
        if let shard { return try parse(shard) }
        guard let count = shards else { return nil }
        guard count >= 1 else { throw ConfigurationError("--shards must be at least 1, got \(count)") }
        let found = indexVariables.compactMap { name in environment[name].map { (name, $0) } }
        guard let (name, text) = found.first else {
            throw ConfigurationError("--shards \(count) takes this process's index from \(indexVariables.joined(separator: " or ")), and neither is set; set one, or give --shard I/\(count)")
        }
        guard let index = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError("\(name)='\(text)' is not a shard index (a whole number from 0)")
        }
        for (other, otherText) in found.dropFirst() where Int(otherText.trimmingCharacters(in: .whitespaces)) != index {
            throw ConfigurationError("\(name)=\(text) and \(other)=\(otherText) disagree about this process's shard index; unset one")
        }
        guard index < count else {
            throw ConfigurationError("\(name)=\(index) is not below --shards \(count): the array or Job runs more copies than there are shards; make them equal")
        }
        return try Shard(index: index, count: count)
    }

    /// `.shard-I-of-N`, which names a shard's lock, report and manifest apart from its siblings'.
    public var nameSuffix: String { ".shard-\(index)-of-\(count)" }

    /// A shard's own copy of a run-wide location: `reports/RUN.json` becomes
    /// `reports/RUN.shard-0-of-4.json` (the suffix goes before the last extension of the last
    /// path component, or at the end when it has none). With one shard the location is unchanged.
    public func located(_ uri: StorageURI) -> StorageURI {
        guard count > 1 else { return uri }
        switch uri {
        case .s3(let bucket, let key): return .s3(bucket: bucket, key: insertingSuffix(into: key))
        case .file(let path): return .file(path: insertingSuffix(into: path))
        }
    }

    private func insertingSuffix(into path: String) -> String {
        let nameStart = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let name = path[nameStart...]
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            return String(path[..<dot]) + nameSuffix + String(path[dot...])
        }
        return path + nameSuffix
    }
}
