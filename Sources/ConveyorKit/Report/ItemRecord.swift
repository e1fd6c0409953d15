import AWSCore
import Foundation

/// How one item ended.
public enum ItemStatus: String, Sendable, Equatable, CaseIterable {
    case succeeded
    case failed
    /// Not called: the output existed (`onExisting: skip`), or the item was left out on purpose.
    case skipped
}

/// Why an item failed: an error code (`ValidationException`, `ThrottlingException`,
/// `AccessDenied`, `InvalidInput`, ...) and its message.
public struct ItemError: Sendable, Equatable {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// What the runner knows about one finished item: one line of the manifest, and what
/// ``RunStats`` counts.
///
/// `attempts` counts model calls (throttled ones included; 0 when the model was not called),
/// `throttled` how many of them were throttled, `latencyMs` the whole item (first attempt to
/// last answer), `costUSD` the estimate for its tokens (not written to the manifest).
public struct ItemRecord: Sendable, Equatable {
    public var id: String
    /// The input location (`s3://...`, a path, with `#LINE` for a record), if the item has one.
    public var input: String?
    /// Where the output was (or would have been) written.
    public var output: String?
    public var status: ItemStatus
    public var attempts: Int
    public var throttled: Int
    public var latencyMs: Double?
    public var inputTokens: Int
    public var outputTokens: Int
    public var error: ItemError?
    public var costUSD: Double
    /// Follow-up calls after answers that did not fit `output.schema` (counted in `attempts` too).
    public var schemaRetries = 0

    public init(id: String, input: String? = nil, output: String? = nil, status: ItemStatus, attempts: Int = 0,
                throttled: Int = 0, latencyMs: Double? = nil, inputTokens: Int = 0, outputTokens: Int = 0,
                error: ItemError? = nil, costUSD: Double = 0) {
        self.id = id
        self.input = input
        self.output = output
        self.status = status
        self.attempts = attempts
        self.throttled = throttled
        self.latencyMs = latencyMs
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.error = error
        self.costUSD = costUSD
    }

    public static func succeeded(id: String, input: String? = nil, output: String? = nil, attempts: Int = 1,
                                 throttled: Int = 0, latencyMs: Double?, inputTokens: Int, outputTokens: Int,
                                 costUSD: Double = 0) -> ItemRecord {
        ItemRecord(id: id, input: input, output: output, status: .succeeded, attempts: attempts, throttled: throttled,
                   latencyMs: latencyMs, inputTokens: inputTokens, outputTokens: outputTokens, costUSD: costUSD)
    }

    public static func failed(id: String, input: String? = nil, output: String? = nil, code: String, message: String,
                              attempts: Int = 0, throttled: Int = 0, latencyMs: Double? = nil, inputTokens: Int = 0,
                              outputTokens: Int = 0, costUSD: Double = 0) -> ItemRecord {
        ItemRecord(id: id, input: input, output: output, status: .failed, attempts: attempts, throttled: throttled,
                   latencyMs: latencyMs, inputTokens: inputTokens, outputTokens: outputTokens,
                   error: ItemError(code: code, message: message), costUSD: costUSD)
    }

    public static func skipped(id: String, input: String? = nil, output: String? = nil) -> ItemRecord {
        ItemRecord(id: id, input: input, output: output, status: .skipped)
    }

    // MARK: The manifest line

    /// One manifest line (without its newline): `id, input, output, status, attempts, latencyMs,
    /// usage {inputTokens, outputTokens}, error {code, message} | null`, then `throttled`.
    public var manifestJSON: JSONValue {
        var object = JSONObject()
        object["id"] = .string(id)
        object["input"] = input.map(JSONValue.string) ?? .null
        object["output"] = output.map(JSONValue.string) ?? .null
        object["status"] = .string(status.rawValue)
        object["attempts"] = .integer(Int64(attempts))
        object["latencyMs"] = latencyMs.map { .integer(Int64($0.rounded())) } ?? .null
        object["usage"] = .object(["inputTokens": .integer(Int64(inputTokens)), "outputTokens": .integer(Int64(outputTokens))])
        object["error"] = error.map { .object(["code": .string($0.code), "message": .string($0.message)]) } ?? .null
        object["throttled"] = .integer(Int64(throttled))
        if schemaRetries > 0 { object["schemaRetries"] = .integer(Int64(schemaRetries)) }
        return .object(object)
    }

    public var manifestLine: Data {
        var data = manifestJSON.serialized()
        data.append(0x0A)
        return data
    }

    /// Reads a manifest line's object: `id` and `status` are required, the rest default.
    public init(manifest object: JSONObject) throws(ManifestError) {
        guard let id = object["id"]?.stringValue else { throw ManifestError(message: "the line has no string \"id\"") }
        guard let statusText = object["status"]?.stringValue else {
            throw ManifestError(message: "item \(id): the line has no string \"status\"")
        }
        guard let status = ItemStatus(rawValue: statusText) else {
            throw ManifestError(message: "item \(id): unknown status \"\(statusText)\" (succeeded, failed or skipped)")
        }
        var error: ItemError?
        if let e = object["error"]?.objectValue {
            error = ItemError(code: e["code"]?.stringValue ?? "", message: e["message"]?.stringValue ?? "")
        }
        let usage = object["usage"]?.objectValue
        self.init(id: id, input: object["input"]?.stringValue, output: object["output"]?.stringValue, status: status,
                  attempts: object["attempts"]?.intValue ?? 0, throttled: object["throttled"]?.intValue ?? 0,
                  latencyMs: object["latencyMs"]?.doubleValue, inputTokens: usage?["inputTokens"]?.intValue ?? 0,
                  outputTokens: usage?["outputTokens"]?.intValue ?? 0, error: error)
        schemaRetries = object["schemaRetries"]?.intValue ?? 0
    }
}

/// A manifest that cannot be written or read.
public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
