import AWSCore
import AWSServices
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// How the emulator plays Bedrock's batch inference control plane: where it reads the records
/// and writes the results (an S3 endpoint such as moto's), and the quotas it holds jobs to.
public struct BatchEmulation: Sendable, Equatable {
    /// The S3 endpoint of the jobs' input and output (`http://127.0.0.1:PORT`); without one,
    /// every job fails as Bedrock's does when it cannot read its input.
    public var s3Endpoint: String?
    public var s3AccessKey: String?
    public var s3SecretKey: String?
    public var s3SessionToken: String?
    /// The region in job ARNs and in the S3 signatures.
    public var region = "us-east-1"
    public var account = "123456789012"
    /// "Minimum number of records per batch inference job": a job with fewer fails validation.
    public var minRecords = 100
    /// "Records per batch inference job".
    public var maxRecords = 50_000
    /// Submitted plus in-progress jobs per model; one more is refused with ServiceQuotaExceededException.
    public var maxActiveJobsPerModel = 10

    public init() {}
}

/// The batch jobs the emulator knows, and their processing: each job reads its JSONL records
/// from S3, answers every record with the emulated model (the same answers as Converse gives),
/// and writes `<output>/<jobId>/<file>.out` and `manifest.json.out` as Bedrock does.
final class BatchJobStore: Sendable {
    struct Job {
        var request: ModelInvocationJobRequest
        var arn: String
        var status: ModelInvocationJob.Status
        var message: String?
        var submitTime: Date
        var lastModifiedTime: Date
        var endTime: Date?
        var stopRequested = false
        var total = 0
        var processed = 0
        var succeeded = 0
        var errors = 0
    }

    struct State {
        var jobs: [String: Job] = [:]
        var order: [String] = []
        var byToken: [String: String] = [:]
        var created = 0
    }

    let settings: BatchEmulation
    let defaultMaxTokens: Int
    let state = Mutex(State())
    let executor = QueueExecutor(label: "conveyor-emulator.batch-jobs")

    init(settings: BatchEmulation, defaultMaxTokens: Int) {
        self.settings = settings
        self.defaultMaxTokens = defaultMaxTokens
    }

    /// Jobs created (a resubmission with a used clientRequestToken creates none).
    var created: Int { state.withLock { $0.created } }

    // MARK: The operations

    /// CreateModelInvocationJob: the job's ARN; the first job's for a token already used.
    func create(_ body: JSONValue) throws(EmulatedError) -> String {
        let request: ModelInvocationJobRequest
        do {
            request = try ModelInvocationJobRequest(json: body)
        } catch {
            throw .validation(error.message)
        }
        guard request.jobName.range(of: "^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}$", options: .regularExpression) != nil else {
            throw .validation("1 validation error detected: Value '\(request.jobName)' at 'jobName' failed to satisfy constraint")
        }
        if let token = request.clientRequestToken,
           token.range(of: "^[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}$", options: .regularExpression) == nil {
            throw .validation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint")
        }
        if let hours = request.timeoutDurationInHours, !(24...168).contains(hours) {
            throw .validation("timeoutDurationInHours must be between 24 and 168")
        }
        guard request.modelInvocationType == "Converse" || request.modelInvocationType == "InvokeModel" else {
            throw .validation("modelInvocationType must be InvokeModel or Converse")
        }
        guard request.modelInvocationType == "Converse" else {
            throw .validation("this emulator answers Converse batch jobs only (modelInvocationType: Converse)")
        }
        let maxActive = settings.maxActiveJobsPerModel
        let outcome = state.withLock { s -> Result<(String, Bool), EmulatedError> in
            if let token = request.clientRequestToken, let arn = s.byToken[token] { return .success((arn, false)) }
            let active = s.jobs.values.filter { $0.request.modelId == request.modelId && !$0.status.isFinal }.count
            if active >= maxActive {
                return .failure(EmulatedError(code: "ServiceQuotaExceededException", status: 400,
                                              message: "You have reached the maximum number of submitted and in-progress batch inference jobs for \(request.modelId) (\(maxActive))."))
            }
            s.created += 1
            let id = Self.jobId(s.created)
            let arn = "arn:aws:bedrock:\(settings.region):\(settings.account):model-invocation-job/\(id)"
            let now = Date()
            s.jobs[arn] = Job(request: request, arn: arn, status: .submitted, submitTime: now, lastModifiedTime: now)
            s.order.append(arn)
            if let token = request.clientRequestToken { s.byToken[token] = arn }
            return .success((arn, true))
        }
        let (arn, isNew) = try outcome.get()
        if isNew {
            // on the store's own queue: the process's cooperative threads may all be blocked
            // (a test waiting for a CLI child that polls this very job)
            Task(executorPreference: executor) { await self.process(arn) }
        }
        return arn
    }

    /// GetModelInvocationJob by ARN or job id.
    func get(_ identifier: String) throws(EmulatedError) -> JSONValue {
        let found = state.withLock { s in s.jobs[identifier] ?? s.jobs.values.first { $0.arn.hasSuffix("/" + identifier) } }
        guard let found else { throw Self.notFound(identifier) }
        return Self.describe(found)
    }

    /// StopModelInvocationJob: a job not yet final stops after the record in hand.
    func stop(_ identifier: String) throws(EmulatedError) {
        let outcome = state.withLock { s -> Result<Void, EmulatedError> in
            guard let arn = s.jobs[identifier]?.arn ?? s.jobs.values.first(where: { $0.arn.hasSuffix("/" + identifier) })?.arn
            else { return .failure(Self.notFound(identifier)) }
            guard !s.jobs[arn]!.status.isFinal else {
                return .failure(.validation("The job \(arn) has ended (\(s.jobs[arn]!.status.rawValue)) and cannot be stopped."))
            }
            s.jobs[arn]!.stopRequested = true
            s.jobs[arn]!.status = .stopping
            s.jobs[arn]!.lastModifiedTime = Date()
            return .success(())
        }
        try outcome.get()
    }

    /// ListModelInvocationJobs, oldest first, filtered by `statusEquals` and `nameContains`.
    func list(query: [String: String]) -> JSONValue {
        let jobs = state.withLock { s in s.order.compactMap { s.jobs[$0] } }
        let matching = jobs.filter { job in
            (query["statusEquals"].map { $0 == job.status.rawValue } ?? true)
                && (query["nameContains"].map { job.request.jobName.contains($0) } ?? true)
        }
        return ["invocationJobSummaries": .array(matching.map(Self.describe))]
    }

    static func notFound(_ identifier: String) -> EmulatedError {
        EmulatedError(code: "ResourceNotFoundException", status: 404, message: "The batch inference job \(identifier) does not exist.")
    }

    /// Twelve lowercase letters and digits, as Bedrock's job ids are.
    static func jobId(_ n: Int) -> String {
        let digits = String(StableHash.fnv1a("batch-job-\(n)-\(UUID().uuidString)"), radix: 36)
        return String((digits + "000000000000").prefix(12))
    }

    static func describe(_ job: Job) -> JSONValue {
        var o: JSONObject = [
            "jobArn": .string(job.arn), "jobName": .string(job.request.jobName), "modelId": .string(job.request.modelId),
            "roleArn": .string(job.request.roleArn), "status": .string(job.status.rawValue),
            "submitTime": .string(iso(job.submitTime)), "lastModifiedTime": .string(iso(job.lastModifiedTime)),
            "inputDataConfig": ["s3InputDataConfig": ["s3Uri": .string(job.request.inputS3Uri), "s3InputFormat": "JSONL"]],
            "outputDataConfig": ["s3OutputDataConfig": ["s3Uri": .string(job.request.outputS3Uri)]],
            "timeoutDurationInHours": .integer(Int64(job.request.timeoutDurationInHours ?? 24)),
            "modelInvocationType": .string(job.request.modelInvocationType),
            "totalRecordCount": .integer(Int64(job.total)), "processedRecordCount": .integer(Int64(job.processed)),
            "successRecordCount": .integer(Int64(job.succeeded)), "errorRecordCount": .integer(Int64(job.errors)),
        ]
        if let token = job.request.clientRequestToken { o["clientRequestToken"] = .string(token) }
        if let message = job.message { o["message"] = .string(message) }
        if let end = job.endTime { o["endTime"] = .string(iso(end)) }
        return .object(o)
    }

    static func iso(_ date: Date) -> String { Timestamp.iso8601(date) }

    // MARK: Processing

    func update(_ arn: String, _ body: (inout Job) -> Void) {
        state.withLock { s in
            if var job = s.jobs[arn] {
                body(&job)
                job.lastModifiedTime = Date()
                s.jobs[arn] = job
            }
        }
    }

    func end(_ arn: String, _ status: ModelInvocationJob.Status, message: String? = nil) {
        update(arn) { job in
            job.status = status
            job.message = message
            job.endTime = Date()
        }
    }

    /// Runs one job to its end: Submitted → Validating → InProgress → Completed (or Failed, Stopped).
    func process(_ arn: String) async {
        guard let request = state.withLock({ $0.jobs[arn]?.request }) else { return }
        update(arn) { $0.status = .validating }
        guard let s3 = s3Client() else {
            end(arn, .failed, message: "The emulator has no S3 endpoint to read \(request.inputS3Uri) from (start it with --s3-endpoint).")
            return
        }
        do {
            guard let input = S3Location(request.inputS3Uri), let output = S3Location(request.outputS3Uri) else {
                end(arn, .failed, message: "inputDataConfig and outputDataConfig must be s3:// URIs.")
                return
            }
            // the input files: one object, or every .jsonl under a prefix
            var keys: [String] = []
            if input.key.isEmpty || input.key.hasSuffix("/") {
                for try await object in s3.listObjects(bucket: input.bucket, prefix: input.key) where object.key.hasSuffix(".jsonl") {
                    keys.append(object.key)
                }
            } else {
                keys = [input.key]
            }
            var files: [(key: String, lines: [JSONValue])] = []
            for key in keys {
                let body = try await s3.getObject(bucket: input.bucket, key: key).body
                var lines: [JSONValue] = []
                for (n, line) in body.split(separator: UInt8(ascii: "\n")).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
                    guard let record = try? JSONValue.parse(Data(line)), record["modelInput"]?.objectValue != nil else {
                        end(arn, .failed, message: "Invalid JSONL in \(key) line \(n + 1): each line needs a modelInput object.")
                        return
                    }
                    lines.append(record)
                }
                files.append((key, lines))
            }
            let total = files.reduce(0) { $0 + $1.lines.count }
            update(arn) { $0.total = total }
            if total < settings.minRecords {
                end(arn, .failed, message: "The number of records (\(total)) is below the minimum of \(settings.minRecords) records per batch inference job for \(request.modelId).")
                return
            }
            if total > settings.maxRecords {
                end(arn, .failed, message: "The number of records (\(total)) is above the maximum of \(settings.maxRecords) records per batch inference job.")
                return
            }
            update(arn) { $0.status = .inProgress }
            let jobId = String(arn.split(separator: "/").last!)
            let folder = (output.key.isEmpty || output.key.hasSuffix("/") ? output.key : output.key + "/") + jobId + "/"
            var inputTokens = 0
            var outputTokens = 0
            var stopped = false
            for file in files {
                var out = Data()
                for (n, record) in file.lines.enumerated() {
                    if state.withLock({ $0.jobs[arn]?.stopRequested ?? false }) {
                        stopped = true
                        break
                    }
                    let recordId = record["recordId"]?.stringValue ?? String(format: "%011d", n)
                    let modelInput = record["modelInput"] ?? .object([:])
                    // [[latency:MS]] holds the job on this record (until stopped), as a slow model would
                    if let request = try? ConverseRequest(modelId: request.modelId, body: modelInput),
                       let ms = EmulatedModel.directive("latency", in: EmulatedModel.lastUserText(request)).flatMap(Double.init) {
                        let until = Date().addingTimeInterval(ms / 1000)
                        while Date() < until, !state.withLock({ $0.jobs[arn]?.stopRequested ?? true }) {
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                    if state.withLock({ $0.jobs[arn]?.stopRequested ?? false }) {
                        stopped = true
                        break
                    }
                    var line: JSONObject = ["recordId": .string(recordId), "modelInput": modelInput]
                    switch answer(modelId: request.modelId, modelInput) {
                    case .success(let response):
                        inputTokens += response.usage.inputTokens
                        outputTokens += response.usage.outputTokens
                        line["modelOutput"] = response.bodyJSON
                        update(arn) { $0.processed += 1; $0.succeeded += 1 }
                    case .failure(let error):
                        line["error"] = ["errorCode": .integer(Int64(error.status)), "errorMessage": .string(error.message)]
                        update(arn) { $0.processed += 1; $0.errors += 1 }
                    }
                    out.append(JSONValue.object(line).serialized())
                    out.append(UInt8(ascii: "\n"))
                }
                let name = (file.key as NSString).lastPathComponent
                _ = try await s3.putObject(bucket: output.bucket, key: folder + name + ".out", body: out,
                                           contentType: "application/jsonl")
                if stopped { break }
            }
            let counts = state.withLock { s in s.jobs[arn].map { ($0.total, $0.processed, $0.succeeded, $0.errors) } ?? (0, 0, 0, 0) }
            let manifest: JSONValue = [
                "totalRecordCount": .integer(Int64(counts.0)), "processedRecordCount": .integer(Int64(counts.1)),
                "successRecordCount": .integer(Int64(counts.2)), "errorRecordCount": .integer(Int64(counts.3)),
                "inputTokenCount": .integer(Int64(inputTokens)), "outputTokenCount": .integer(Int64(outputTokens)),
            ]
            _ = try await s3.putObject(bucket: output.bucket, key: folder + "manifest.json.out", body: manifest.serialized(),
                                       contentType: "application/json")
            end(arn, stopped ? .stopped : .completed)
        } catch {
            end(arn, .failed, message: "The job could not read its input or write its output: \(error)")
        }
    }

    /// One record's answer, by the same checks and model as a Converse call. Batch jobs of type
    /// Converse take no tools.
    func answer(modelId: String, _ modelInput: JSONValue) -> Result<ConverseResponse, EmulatedError> {
        do {
            let request: ConverseRequest
            do {
                request = try ConverseRequest(modelId: modelId, body: modelInput)
            } catch {
                throw EmulatedError.validation("Malformed input request: \(error)")
            }
            if request.toolConfig != nil {
                throw EmulatedError.validation("Converse batch inference jobs do not support toolConfig.")
            }
            try EmulatedModel.validate(request, defaultMaxTokens: defaultMaxTokens)
            return .success(try EmulatedModel.answer(request, defaultMaxTokens: defaultMaxTokens, latencyMs: 0))
        } catch let error as EmulatedError {
            return .failure(error)
        } catch {
            return .failure(.validation("\(error)"))
        }
    }

    func s3Client() -> S3Client? {
        guard let url = settings.s3Endpoint, let endpoint = Endpoint(url: url),
              let access = settings.s3AccessKey, let secret = settings.s3SecretKey else { return nil }
        let credentials = Credentials(accessKeyId: access, secretAccessKey: secret, sessionToken: settings.s3SessionToken,
                                      source: "emulator")
        return S3Client(client: AWSClient(service: S3Client.serviceInfo, region: settings.region, endpoint: endpoint,
                                          credentials: StaticCredentialProvider(credentials), transport: CurlTransport.shared))
    }
}

/// Runs tasks on a serial Dispatch queue of its own, apart from Swift's cooperative pool.
final class QueueExecutor: TaskExecutor {
    let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

/// `s3://bucket/key` split.
struct S3Location {
    var bucket: String
    var key: String

    init?(_ uri: String) {
        guard uri.hasPrefix("s3://") else { return nil }
        let rest = uri.dropFirst("s3://".count)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bucket = parts.first, !bucket.isEmpty else { return nil }
        self.bucket = String(bucket)
        key = parts.count > 1 ? String(parts[1]) : ""
    }
}

extension EmulatorHandler {
    /// The batch inference control plane's routes.
    func batchOperation(context: ChannelHandlerContext, head: HTTPRequestHead, path: String, query: String, body: Data) {
        guard signatureIsValid(context: context, head: head, rawPath: path, query: query, body: body) else { return }
        let jobs = state.batchJobs
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // ["", "model-invocation-job", id?, "stop"?]
        do throws(EmulatedError) {
            let answer: JSONValue
            switch (head.method, segments.count) {
            case (.POST, 2) where segments[1] == "model-invocation-job":
                let request: JSONValue
                do {
                    request = try JSONValue.parse(body)
                } catch {
                    throw EmulatedError.validation("The request body is not JSON: \(error)")
                }
                answer = ["jobArn": .string(try jobs.create(request))]
            case (.GET, 2) where segments[1] == "model-invocation-jobs":
                var parameters: [String: String] = [:]
                for pair in query.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    parameters[AWSPercentEncoding.decode(parts[0])] = parts.count > 1 ? AWSPercentEncoding.decode(parts[1]) : ""
                }
                answer = jobs.list(query: parameters)
            case (.GET, 3) where segments[1] == "model-invocation-job":
                answer = try jobs.get(AWSPercentEncoding.decode(segments[2]))
            case (.POST, 4) where segments[1] == "model-invocation-job" && segments[3] == "stop":
                try jobs.stop(AWSPercentEncoding.decode(segments[2]))
                answer = .object([:])
            default:
                throw EmulatedError(code: "UnknownOperationException", status: 404, message: "Unknown operation \(head.method) \(path)")
            }
            respond(context: context, head: head, status: .ok, headers: [("Content-Type", "application/json")],
                    body: answer.serialized())
        } catch {
            fail(context: context, head: head, error)
        }
    }
}
