import AWSCore
import Foundation

/// Text from a job file with where it was written, so that later checks (templates) can point
/// at the exact line and column. `locate` maps a character offset in `text` to its place.
public struct LocatedText: Sendable, Equatable {
    public var text: String
    public var location: SourceLocation
    /// For block scalars (`|`), the column the content starts at; lines follow one another.
    public var blockIndent: Int?
    /// For quoted scalars, 1 (the quote before the text); else 0.
    public var quoteOffset: Int

    public init(text: String, location: SourceLocation, blockIndent: Int? = nil, quoteOffset: Int = 0) {
        self.text = text
        self.location = location
        self.blockIndent = blockIndent
        self.quoteOffset = quoteOffset
    }

    /// The place of the character at `offset` (in characters) within `text`: exact for single-line
    /// and literal block scalars, the scalar's own start otherwise.
    public func locate(_ offset: Int) -> SourceLocation {
        // offsets count Unicode scalars, as libyaml's columns do
        let prefix = String(String.UnicodeScalarView(text.unicodeScalars.prefix(offset)))
        let newlines = prefix.unicodeScalars.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
        if let indent = blockIndent {
            let column = prefix.split(separator: "\n", omittingEmptySubsequences: false).last.map(\.unicodeScalars.count) ?? 0
            return SourceLocation(file: location.file, line: location.line + newlines, column: indent + column)
        }
        if newlines == 0 {
            return SourceLocation(file: location.file, line: location.line,
                                  column: location.column + quoteOffset + prefix.unicodeScalars.count)
        }
        return location
    }

    public static func == (a: LocatedText, b: LocatedText) -> Bool { a.text == b.text && a.location == b.location }
}

/// Where text comes from: written in the job (a template), an SSM parameter (decrypted), or an
/// S3 object.
public enum TextSource: Sendable, Equatable {
    case inline(LocatedText)
    case ssm(name: String, at: SourceLocation)
    case s3(uri: String, at: SourceLocation)
}

public struct ModelSettings: Sendable, Equatable {
    public var id: String
    public var region: String?
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var stopSequences: [String]?
    public var additionalFields: JSONValue?
    public var pricing: PricingOverride?
    public var location: SourceLocation
}

public struct MessageSpec: Sendable, Equatable {
    public enum Role: String, Sendable { case user, assistant }
    public var role: Role
    public var text: LocatedText
}

public enum InputFormat: String, Sendable, Equatable, CaseIterable {
    case text, jsonl, csv
}

public struct InputsSpec: Sendable, Equatable {
    /// Each an input location as written (may be a prefix ending in '/').
    public var locations: [LocatedText]
    public var include: [String]
    public var exclude: [String]
    public var format: InputFormat
    public var idField: String?
    public var maxBytes: Int
    public var location: SourceLocation
    /// `as: document | image`: each object is attached as that block instead of being the text
    /// of `{{input}}`; nil for `as: text`.
    public var attachAs: AttachmentKind? = nil
}

public struct PromptItemSpec: Sendable, Equatable {
    public var id: String
    public var prompt: LocatedText
    public var input: LocatedText?
    public var output: LocatedText?
    public var location: SourceLocation
}

public enum OutputFormat: String, Sendable, Equatable, CaseIterable {
    /// `jsonl`: output records as with json, and every item's value collected into `output.collect`.
    case json, text, jsonl
}

public enum OnExisting: String, Sendable, Equatable, CaseIterable {
    case skip, overwrite, fail
}

public struct OutputSpec: Sendable, Equatable {
    public var location: LocatedText
    public var format: OutputFormat
    public var onExisting: OnExisting
    public var schema: JSONValue?
    /// Follow-up calls allowed after answers that do not fit `schema`.
    public var schemaRetries: Int = 2
    /// With format jsonl: where every item's value is collected, one JSON line each (a per-run template).
    public var collect: LocatedText?
}

/// A count of failures, or a share of the items.
public enum FailureLimit: Sendable, Equatable {
    case count(Int)
    case percent(Double)

    /// Whether `failed` failures out of `total` items exceed the limit.
    public func isExceeded(failed: Int, total: Int) -> Bool {
        switch self {
        case .count(let n): return failed > n
        case .percent(let p): return total > 0 && Double(failed) > Double(total) * p / 100
        }
    }
}

public struct Limits: Sendable, Equatable {
    public var concurrency: Int = 16
    public var requestsPerMinute: Double?
    public var tokensPerMinute: Double?
    public var maxAttempts: Int = 10
    public var connectTimeout: Duration = .seconds(5)
    public var readTimeout: Duration = .seconds(60)
    public var maxFailures: FailureLimit?
    public var budgetUSD: Double?
    /// Whose limits these are when the job runs in shards.
    public var scope: LimitScope = .job
    /// Until one item has succeeded end to end, items go one at a time (`CallScheduler`); false
    /// opens the pool at once.
    public var probe = true

    public init() {}

    /// The limits one shard of `shard.count` paces to: with scope `job`, the request, token and
    /// budget caps are shared out equally (the shards cannot see each other's use); concurrency,
    /// attempts, timeouts and maxFailures are each process's own.
    public func share(for shard: Shard?) -> Limits {
        guard let shard, shard.count > 1, scope == .job else { return self }
        var share = self
        let n = Double(shard.count)
        share.requestsPerMinute = requestsPerMinute.map { $0 / n }
        share.tokensPerMinute = tokensPerMinute.map { $0 / n }
        share.budgetUSD = budgetUSD.map { $0 / n }
        return share
    }
}

/// `limits.scope`: `job` (the caps are the whole job's, shared among its shards) or `shard`.
public enum LimitScope: String, Sendable, Equatable, CaseIterable {
    case job, shard
}

public enum Engine: String, Sendable, Equatable, CaseIterable {
    case ondemand, batch
}

public struct BatchSettings: Sendable, Equatable {
    public var roleArn: String?
    public var staging: LocatedText?
    public var minRecords: Int = 100
    public var timeoutHours: Int = 24
    /// Bedrock's quotas, as the account has them: records per job, bytes per input file (one
    /// file per job, so also the job size), and submitted + in-progress jobs per model.
    public var maxRecords: Int = 50_000
    public var maxFileMB: Int = 1024
    public var maxJobs: Int = 10
    /// The first wait between status checks; it doubles up to 10 minutes.
    public var pollInterval: Duration = .seconds(60)

    public init() {}
}

/// A job file, read and checked: everything typed, every value with its place in the file.
public struct Job: Sendable, Equatable {
    public var path: String
    public var version: Int
    public var name: String
    public var description: String?
    public var model: ModelSettings
    public var system: TextSource?
    public var prompt: TextSource?
    public var messages: [MessageSpec]?
    public var inputs: InputsSpec?
    public var prompts: [PromptItemSpec]
    public var output: OutputSpec
    public var report: LocatedText?
    public var limits: Limits
    /// `vars:` with `--var` overrides applied.
    public var vars: [String: String]
    public var engine: Engine
    public var batch: BatchSettings?
    /// The job's templates, compiled.
    public var templates: JobTemplates
    /// Warnings found while loading (the job is valid).
    public var warnings: [Diagnostic] = []

    /// The directory relative paths in the job are resolved against (the job file's).
    public var baseDirectory: String { (path as NSString).deletingLastPathComponent }
}
