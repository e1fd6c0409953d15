import AWSCore
import Foundation
import Logging
import Synchronization

/// Log lines on standard error, as text for people or JSON lines for collectors (CloudWatch,
/// Loki, ...). Metadata values are written as given: callers never put secrets in them.
public struct ConveyorLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let format: Format
    static let output = Mutex<Void>(())

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = RunIdentity.iso8601(Date())
        let line: String
        switch format {
        case .text:
            let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quoted("\($0.value)"))" }.joined(separator: " ")
            line = "\(time) \(event.level) \(event.message)" + (fields.isEmpty ? "" : " " + fields)
        case .json:
            var object: [(String, String)] = [("time", time), ("level", "\(event.level)"), ("logger", label),
                                              ("message", "\(event.message)")]
            for (key, value) in all.sorted(by: { $0.key < $1.key }) { object.append((key, "\(value)")) }
            line = "{" + object.map { "\(Self.jsonString($0.0)): \(Self.jsonString($0.1))" }.joined(separator: ", ") + "}"
        }
        Self.output.withLock { _ in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    /// Writes one JSON line on standard error: the usual time, level, logger and message, then
    /// `members` as they are (numbers stay numbers), as CloudWatch's Embedded Metric Format needs.
    /// Written whatever the log level: the caller asked for these lines.
    public static func writeJSON(_ members: JSONObject, message: String, level: Logger.Level = .info,
                                 label: String = "conveyor") {
        var object = JSONObject([("time", .string(RunIdentity.iso8601(Date()))), ("level", .string("\(level)")),
                                 ("logger", .string(label)), ("message", .string(message))])
        for (key, value) in members { object[key] = value }
        let line = PrettyJSON.compact(.object(object))
        output.withLock { _ in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    static func quoted(_ value: String) -> String {
        value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? jsonString(value) : value
    }

    static func jsonString(_ value: String) -> String {
        PrettyJSON.compact(.string(value))
    }
}
