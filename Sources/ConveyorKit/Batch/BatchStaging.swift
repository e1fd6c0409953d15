import AWSCore
import AWSServices
import Foundation
import Synchronization

/// Engine batch's progress, for the report: the batch jobs' ARNs and whether the run detached.
public final class BatchProgress: Sendable {
    struct State {
        var jobArns: [String] = []
        var detached = false
        var used = false
    }

    let state = Mutex(State())

    /// The jobs' ARNs when the run used engine batch, else nil.
    public var jobArns: [String]? { state.withLock { $0.used ? $0.jobArns : nil } }
    /// The run submitted its jobs and returned without waiting for them (`--detach`).
    public var detached: Bool { state.withLock { $0.detached } }

    func use(_ arns: [String]) { state.withLock { $0.used = true; $0.jobArns = arns } }
    func detach() { state.withLock { $0.detached = true } }
}

/// One item sent as a batch record, or one that ended before: what is needed to map its answer
/// back to the item's output and report line.
struct BatchEntry: Sendable, Equatable {
    var recordId: String?
    var id: String
    var index: Int
    var key: String?
    var input: String?
    var output: String?
    /// For items that ended before the batch (skipped, or failed reading their input).
    var status: ItemResult.Status?
    var code: String?
    var message: String?

    /// `recordId`: a stable hash of the item id, 16 hexadecimal digits (alphanumeric, as Bedrock wants).
    static func recordId(for itemId: String) -> String {
        let hash = String(StableHash.fnv1a(itemId), radix: 16)
        return String(repeating: "0", count: 16 - hash.count) + hash
    }

    init(item: WorkItem, output: String?) {
        recordId = Self.recordId(for: item.id)
        id = item.id
        index = item.index
        key = item.key
        input = item.inputURI
        self.output = output
    }

    init(ended result: ItemResult, key: String?) {
        id = result.id
        index = result.index
        self.key = key
        input = result.input
        output = result.output
        status = result.status
        code = result.errorCode
        message = result.errorMessage
    }

    /// A work item with the fields the output record names (id, key, index).
    var item: WorkItem { WorkItem(index: index, id: id, key: key, source: .prompt(id: id, input: nil), inputURI: input) }

    var result: ItemResult {
        ItemResult(id: id, index: index, input: input, output: output, status: status ?? .failed, errorCode: code,
                   errorMessage: message)
    }

    var json: JSONValue {
        var o = JSONObject()
        if let recordId { o["recordId"] = .string(recordId) }
        o["id"] = .string(id)
        o["index"] = .integer(Int64(index))
        if let key { o["key"] = .string(key) }
        if let input { o["input"] = .string(input) }
        if let output { o["output"] = .string(output) }
        if let status { o["status"] = .string(status.rawValue) }
        if let code { o["code"] = .string(code) }
        if let message { o["message"] = .string(message) }
        return .object(o)
    }

    init(json: JSONValue) throws(ConfigurationError) {
        guard let id = json["id"]?.stringValue, let index = json["index"]?.intValue else {
            throw ConfigurationError("a batch staging entry has no id or index")
        }
        self.id = id
        self.index = index
        recordId = json["recordId"]?.stringValue
        key = json["key"]?.stringValue
        input = json["input"]?.stringValue
        output = json["output"]?.stringValue
        status = json["status"]?.stringValue.flatMap(ItemResult.Status.init)
        code = json["code"]?.stringValue
        message = json["message"]?.stringValue
    }
}

/// A run's place under `batch.staging`: `STAGING/JOB/RUNID/` holds `state.json`, each chunk's
/// records (`chunk-0000.jsonl`) and item map (`chunk-0000.items.jsonl`), the items that ended
/// before the batch (`ended.jsonl`), and `output/`, where Bedrock writes `JOBID/chunk-0000.jsonl.out`.
/// `STAGING/JOB/detached.json` names a detached run until `conveyor collect` finishes it. A
/// shard's folder and marker carry its suffix (`RUNID.shard-0-of-4/`, `detached.shard-0-of-4.json`).
struct BatchStaging: Sendable {
    let bucket: String
    /// The run's folder, ending in '/'.
    let folder: String
    let jobFolder: String

    /// The run's key: its id, and a shard's suffix (`RUNID.shard-0-of-4`), so that shards of one
    /// run keep apart folders, tokens and markers.
    let runKey: String
    let markerName: String

    init(staging: String, jobName: String, runId: String, shard: Shard?) throws(ConfigurationError) {
        guard case .s3(let bucket, let key)? = try? StorageURI.parse(staging) else {
            throw ConfigurationError("batch.staging '\(staging)' is not an s3:// prefix: Bedrock reads and writes only S3")
        }
        self.bucket = bucket
        let base = key.isEmpty || key.hasSuffix("/") ? key : key + "/"
        let suffix = shard.map { $0.count > 1 ? $0.nameSuffix : "" } ?? ""
        runKey = runId + suffix
        jobFolder = base + jobName + "/"
        folder = jobFolder + runKey + "/"
        markerName = "detached" + suffix + ".json"
    }

    func uri(_ name: String) -> StorageURI { .s3(bucket: bucket, key: folder + name) }
    var state: StorageURI { uri("state.json") }
    var ended: StorageURI { uri("ended.jsonl") }
    var output: StorageURI { uri("output/") }
    var detachedMarker: StorageURI { .s3(bucket: bucket, key: jobFolder + markerName) }
    func records(_ chunk: Int) -> StorageURI { uri(String(format: "chunk-%04d.jsonl", chunk)) }
    func items(_ chunk: Int) -> StorageURI { uri(String(format: "chunk-%04d.items.jsonl", chunk)) }

    /// Bedrock's answers for a chunk: `output/JOBID/chunk-0000.jsonl.out`.
    func answers(_ chunk: Int, jobId: String) -> StorageURI {
        uri("output/\(jobId)/" + String(format: "chunk-%04d.jsonl.out", chunk))
    }

    static func jsonLines(_ values: [JSONValue]) -> Data {
        var data = Data()
        for value in values {
            data.append(value.serialized())
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }

    static func parseLines(_ data: Data, _ uri: StorageURI) throws -> [JSONValue] {
        var values: [JSONValue] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do {
                values.append(try JSONValue.parse(Data(line)))
            } catch {
                throw ConfigurationError("\(uri) line \(n + 1) is not JSON: \(error)")
            }
        }
        return values
    }
}

/// What a batch run has sent, saved in staging after each change so that `conveyor collect`
/// (and a rerun with the same run id) can pick it up.
struct BatchRunState: Sendable, Equatable {
    struct Chunk: Sendable, Equatable {
        var index: Int
        var records: Int
        var token: String
        var jobArn: String?
        var finished = false
    }

    var job: String
    var runId: String
    var startedAt: Date
    var model: String
    var chunks: [Chunk]
    var detached = false

    var json: JSONValue {
        [
            "job": .string(job), "runId": .string(runId), "startedAt": .string(RunIdentity.iso8601(startedAt)),
            "model": .string(model), "detached": .bool(detached),
            "chunks": .array(chunks.map { c in
                var o: JSONObject = ["index": .integer(Int64(c.index)), "records": .integer(Int64(c.records)),
                                     "clientRequestToken": .string(c.token), "finished": .bool(c.finished)]
                if let arn = c.jobArn { o["jobArn"] = .string(arn) }
                return .object(o)
            }),
        ]
    }

    init(job: String, runId: String, startedAt: Date, model: String, chunks: [Chunk]) {
        self.job = job
        self.runId = runId
        self.startedAt = startedAt
        self.model = model
        self.chunks = chunks
    }

    init(json: JSONValue, at uri: StorageURI) throws(ConfigurationError) {
        let formatter = ISO8601DateFormatter()
        guard let job = json["job"]?.stringValue, let runId = json["runId"]?.stringValue,
              let started = json["startedAt"]?.stringValue.flatMap(formatter.date(from:)),
              let model = json["model"]?.stringValue, let chunks = json["chunks"]?.arrayValue else {
            throw ConfigurationError("\(uri) is not a Conveyor batch state (job, runId, startedAt, model, chunks)")
        }
        var parsed: [Chunk] = []
        for c in chunks {
            guard let index = c["index"]?.intValue, let records = c["records"]?.intValue,
                  let token = c["clientRequestToken"]?.stringValue else {
                throw ConfigurationError("\(uri): a chunk has no index, records or clientRequestToken")
            }
            parsed.append(Chunk(index: index, records: records, token: token, jobArn: c["jobArn"]?.stringValue,
                                finished: c["finished"]?.boolValue ?? false))
        }
        self.init(job: job, runId: runId, startedAt: started, model: model, chunks: parsed)
        detached = json["detached"]?.boolValue ?? false
    }

    /// `clientRequestToken` of a chunk: run id and chunk number hashed, so that resubmitting the
    /// same chunk of the same run is the same request to Bedrock (and creates no second job).
    static func token(runId: String, job: String, chunk: Int) -> String {
        let a = String(StableHash.fnv1a("\(job)\u{0}\(runId)\u{0}\(chunk)"), radix: 16)
        let b = String(StableHash.fnv1a("\(chunk)\u{0}\(runId)\u{0}\(job)"), radix: 16)
        return "conveyor-\(a)-\(b)-\(chunk)"
    }

    /// `jobName`: Bedrock's pattern allows letters, digits and '-', up to 63 characters.
    static func jobName(job: String, runId: String, chunk: Int) -> String {
        let run = runId.map { $0.isLetter || $0.isNumber ? $0 : "-" }
        var name = "\(job)-\(String(run))"
        let suffix = "-" + String(format: "%04d", chunk)
        name = String(name.prefix(63 - suffix.count))
        while name.hasSuffix("-") { name.removeLast() }
        return name + suffix
    }
}
