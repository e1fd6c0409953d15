import AWSCore
import Foundation

/// One unit of work: an input object, a record of one, or an explicit prompt.
public struct WorkItem: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A whole object is the item's text (read when the item runs).
        case object(StorageURI, size: Int)
        /// A jsonl line or csv row: its raw text is `{{input}}`, its fields `{{record.*}}`.
        case record(raw: String, fields: TemplateRecord)
        /// A form B prompt, with an optional input object.
        case prompt(id: String, input: StorageURI?)
        /// A record that could not be read: the item fails with this problem.
        case unreadable(InputProblem)
    }

    public var index: Int
    public var id: String
    /// The full input key (S3 key or local path), if the item has an input.
    public var key: String?
    public var source: Source
    /// The input location it came from (for reports), as `s3://bucket/key` or a path.
    public var inputURI: String?

    public init(index: Int, id: String, key: String?, source: Source, inputURI: String?) {
        self.index = index
        self.id = id
        self.key = key
        self.source = source
        self.inputURI = inputURI
    }

    /// The stable hash that assigns the item to a shard (FNV-1a over its id).
    public var shardHash: UInt64 { StableHash.fnv1a(id) }
}


/// `--shard I/N`: this process runs the items whose hash falls in shard I of N (0 ≤ I < N).
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws(ConfigurationError) {
        guard count >= 1, index >= 0, index < count else {
            throw ConfigurationError("--shard \(index)/\(count) is not valid: write I/N with 0 ≤ I < N")
        }
        self.index = index
        self.count = count
    }

    public static func parse(_ text: String) throws(ConfigurationError) -> Shard {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw ConfigurationError("--shard takes I/N (for example 0/4), got '\(text)'")
        }
        return try Shard(index: i, count: n)
    }

    public func contains(_ item: WorkItem) -> Bool { contains(id: item.id) }

    /// Whether the item with this id belongs to the shard.
    public func contains(id: String) -> Bool { count == 1 || Int(StableHash.fnv1a(id) % UInt64(count)) == index }

    public var description: String { "\(index)/\(count)" }
}
