import AWSCore
import Foundation

/// A run's id and start: `20261130T020000Z-3f9a` (UTC start, then four hex digits so that two
/// runs started in the same second differ), and the UTC date for `{{run.date}}`.
public struct RunIdentity: Sendable, Equatable {
    public var id: String
    public var startedAt: Date

    public init(id: String, startedAt: Date) {
        self.id = id
        self.startedAt = startedAt
    }

    public static func new(at date: Date = Date()) -> RunIdentity {
        let suffix = String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        return RunIdentity(id: "\(compact(date))-\(suffix)", startedAt: date)
    }

    /// A run id the caller chose (`--run-id`, `CONVEYOR_RUN_ID`), so that the shards of one run
    /// share it: it names the run in reports, logs and `{{run.id}}`. It goes into object keys, so
    /// it is 1 to 128 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
    public static func given(_ id: String, at date: Date = Date()) throws(ConfigurationError) -> RunIdentity {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard let first = id.first, first.isASCII, first.isLetter || first.isNumber, id.count <= 128,
              id.allSatisfy({ allowed.contains($0) }) else {
            throw ConfigurationError("run id '\(id)' is not usable in object keys: write 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit (an AWS Batch job id: ${AWS_BATCH_JOB_ID%%:*})")
        }
        return RunIdentity(id: id, startedAt: date)
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    public static func compact(_ date: Date) -> String { Timestamp.compact(date) }

    /// ISO 8601 with seconds, UTC: `2026-11-30T02:00:04Z`.
    public static func iso8601(_ date: Date) -> String { Timestamp.iso8601(date) }

    public var date: String { TemplateValues.Run.utcDate(startedAt) }
}
