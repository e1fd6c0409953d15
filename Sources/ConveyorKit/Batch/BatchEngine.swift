import AWSCore
import AWSServices
import Foundation
import Logging

/// Engine batch: the job's items become Bedrock batch inference jobs (CreateModelInvocationJob,
/// `modelInvocationType: Converse`) instead of Converse calls, at the batch price, and each
/// answer lands at the same output key, in the same report and manifest, as on demand.
///
/// 1. Each item is prepared as on demand (output exists? input read, request rendered); items
///    that end there (skipped, unreadable) are recorded as on demand.
/// 2. The rest become `{"recordId", "modelInput"}` lines, in chunks of at most `batch.maxRecords`
///    records and `batch.maxFileMB`, none below `batch.minRecords` (too few: exit 2, suggesting
///    on demand), uploaded to `batch.staging` with each chunk's item map and a state object.
/// 3. Each chunk is submitted with a `clientRequestToken` derived from run id and chunk, at most
///    `batch.maxJobs` at a time; the jobs are polled with a doubling wait (or, with --detach, left
///    to `conveyor collect`).
/// 4. Each ended job's `.jsonl.out` lines are joined to the items by recordId and written.
extension Runner {
    func runBatch() async throws {
        guard let control = services.bedrockBatch else {
            throw ConfigurationError("engine batch needs Bedrock's control plane client (bedrock), and none is configured")
        }
        guard let settings = job.batch, let roleArn = settings.roleArn, let stagingText = settings.staging?.text else {
            throw ConfigurationError("\(job.path): engine batch needs batch.roleArn (the role Bedrock assumes) and batch.staging (an s3:// prefix)")
        }
        if job.output.schema != nil {
            throw ConfigurationError("\(job.path): engine batch does not check answers against output.schema (a batch job cannot ask again): run this job on demand")
        }
        let staging = try BatchStaging(staging: stagingText, jobName: job.name, runId: identity.id, shard: options.shard)
        let storage = services.storage
        let (context, source) = try await start()
        var state: BatchRunState
        if options.collect {
            guard let data = try? await storage.get(staging.state) else {
                throw ConfigurationError("no batch run \(identity.id) of job \(job.name): \(staging.state) does not exist")
            }
            state = try BatchRunState(json: try JSONValue.parse(data), at: staging.state)
            guard state.detached else {
                throw ConfigurationError("batch run \(identity.id) of job \(job.name) was collected already (its report is the job's report for that run); nothing to collect")
            }
            // every job's answers again: those an interrupted wait wrote already count as skipped
            for i in state.chunks.indices { state.chunks[i].finished = false }
            for entry in try await loadEntries(staging.ended, storage) { recorder.record(entry.result) }
        } else if let data = try? await storage.get(staging.state) {
            // the same run id again (a rerun after a crash): carry on with what was sent
            state = try BatchRunState(json: try JSONValue.parse(data), at: staging.state)
            logger.notice("batch run \(identity.id) was started before: carrying on with its \(state.chunks.count) batch jobs")
            for entry in try await loadEntries(staging.ended, storage) { recorder.record(entry.result) }
        } else {
            if let marker = try? await storage.get(staging.detachedMarker),
               let other = (try? JSONValue.parse(marker))?["runId"]?.stringValue, other != identity.id {
                throw ConfigurationError("batch run \(other) of job \(job.name) is detached and not collected yet: run `conveyor collect \(job.path) \(other)\(options.shard.map { " --shard \($0)" } ?? "")` first (its items have no outputs until then), or delete \(staging.detachedMarker) to send them again")
            }
            guard let prepared = try await prepareBatch(context, source, settings: settings, staging: staging) else { return }
            state = prepared
        }
        batch.use(state.chunks.compactMap(\.jobArn))
        try await drive(&state, control: control, context: context, settings: settings, roleArn: roleArn, staging: staging)
    }

    // MARK: Compiling the records

    /// Prepares every item, uploads the chunks and the state; nil when nothing is left to send.
    func prepareBatch(_ context: ItemContext, _ source: ItemSource, settings: BatchSettings,
                      staging: BatchStaging) async throws -> BatchRunState? {
        var ended: [ItemResult] = []
        var endedEntries: [BatchEntry] = []
        var chunker = BatchChunker(maxRecords: settings.maxRecords, maxBytes: settings.maxFileMB * 1_048_576,
                                   minRecords: settings.minRecords)
        var seenIds: [String: String] = [:]
        var worstUSD = 0.0
        for try await item in source {
            if tally.stop != nil { break }
            tally.state.withLock { $0.seen += 1 }
            switch await prepare(item, context) {
            case .finished(let result):
                ended.append(result)
                endedEntries.append(BatchEntry(ended: result, key: item.key))
            case .ready(_, let output, let request):
                let entry = BatchEntry(item: item, output: output.description)
                let recordId = entry.recordId!
                if let other = seenIds[recordId] {
                    throw ConfigurationError("items '\(other)' and '\(item.id)' hash to the same batch recordId \(recordId): rename one")
                }
                seenIds[recordId] = item.id
                let line = JSONValue.object(["recordId": .string(recordId), "modelInput": request.bodyJSON]).serialized()
                chunker.add(entry, line: line)
                if let price {
                    worstUSD += price.cost(inputTokens: Self.estimateTokens(request),
                                           outputTokens: context.job.model.maxTokens ?? 4096, mode: .batch).usd
                }
            }
        }
        if tally.stop != nil {
            // interrupted while listing: nothing was sent
            for result in ended { recorder.record(result) }
            return nil
        }
        tally.state.withLock { $0.listingDone = true }
        let records = chunker.total
        if records > 0 && records < settings.minRecords {
            throw ConfigurationError("\(job.path): only \(records) item\(records == 1 ? "" : "s") to send, and a Bedrock batch job takes at least batch.minRecords (\(settings.minRecords)) records: run it on demand (--engine ondemand, the same outputs at the on-demand price), or lower batch.minRecords if your account's quota \"Minimum number of records per batch inference job\" allows")
        }
        if let budget = job.limits.budgetUSD, worstUSD > budget {
            for result in ended { recorder.record(result) }
            abort(.budget(String(format: "the batch's worst case ($%.2f at the batch price, every record at model.maxTokens) passes limits.budgetUSD ($%.2f); nothing was submitted", worstUSD, budget)))
            return nil
        }
        for result in ended { recorder.record(result) }
        if records == 0 { return nil }
        let chunks = try chunker.finish()
        var state = BatchRunState(job: job.name, runId: identity.id, startedAt: identity.startedAt, model: job.model.id,
                                  chunks: [])
        let storage = services.storage
        for (n, chunk) in chunks.enumerated() {
            _ = try await storage.put(staging.items(n), data: BatchStaging.jsonLines(chunk.entries.map(\.json)),
                                      contentType: "application/jsonl", ifAbsent: false)
            _ = try await storage.put(staging.records(n), data: chunk.data, contentType: "application/jsonl", ifAbsent: false)
            state.chunks.append(.init(index: n, records: chunk.entries.count,
                                      token: BatchRunState.token(runId: staging.runKey, job: job.name, chunk: n)))
        }
        _ = try await storage.put(staging.ended, data: BatchStaging.jsonLines(endedEntries.map(\.json)),
                                  contentType: "application/jsonl", ifAbsent: false)
        try await save(state, staging)
        logger.info("batch records staged", metadata: ["records": "\(records)", "jobs": "\(chunks.count)",
                                                       "staging": "s3://\(staging.bucket)/\(staging.folder)"])
        return state
    }

    func save(_ state: BatchRunState, _ staging: BatchStaging) async throws {
        _ = try await services.storage.put(staging.state, data: state.json.serialized(), contentType: "application/json",
                                           ifAbsent: false)
    }

    func loadEntries(_ uri: StorageURI, _ storage: Storage) async throws -> [BatchEntry] {
        try BatchStaging.parseLines(try await storage.get(uri), uri).map { value throws(ConfigurationError) in
            try BatchEntry(json: value)
        }
    }

    // MARK: Submitting, waiting, collecting

    func drive(_ state: inout BatchRunState, control: any BedrockBatchAPI, context: ItemContext,
               settings: BatchSettings, roleArn: String, staging: BatchStaging) async throws {
        let initialWait = Double(settings.pollInterval.components.seconds)
            + Double(settings.pollInterval.components.attoseconds) / 1e18
        var wait = initialWait
        while state.chunks.contains(where: { !$0.finished }) {
            // submit while under the in-flight limit (a resubmitted token returns the same job)
            var active = state.chunks.filter { $0.jobArn != nil && !$0.finished }.count
            for i in state.chunks.indices where state.chunks[i].jobArn == nil && active < settings.maxJobs {
                if tally.stop != nil { break }
                let chunk = state.chunks[i]
                let request = ModelInvocationJobRequest(
                    jobName: BatchRunState.jobName(job: job.name, runId: staging.runKey, chunk: chunk.index), roleArn: roleArn,
                    modelId: job.model.id, inputS3Uri: staging.records(chunk.index).description,
                    outputS3Uri: staging.output.description, clientRequestToken: chunk.token,
                    timeoutDurationInHours: settings.timeoutHours)
                do {
                    state.chunks[i].jobArn = try await control.createModelInvocationJob(request)
                } catch let error as AWSError where error.code == "ServiceQuotaExceededException" || error.kind == .throttled {
                    logger.notice("Bedrock holds no more batch jobs now; submitting the rest later", metadata: ["code": "\(error.code)"])
                    break
                } catch let error as AWSError {
                    throw ConfigurationError("CreateModelInvocationJob for chunk \(chunk.index) failed: \(error.code): \(error.message)")
                }
                active += 1
                logger.info("batch job submitted", metadata: ["job": "\(state.chunks[i].jobArn!)", "records": "\(chunk.records)"])
                batch.use(state.chunks.compactMap(\.jobArn))
                try await save(state, staging)
            }
            if options.detach {
                try await markDetached(&state, staging)
                batch.detach()
                logger.notice("detached: collect the results with `conveyor collect \(job.path) \(identity.id)\(options.shard.map { " --shard \($0)" } ?? "")`")
                return
            }
            // check every job in flight; collect the ended ones
            var progressed = false
            for i in state.chunks.indices where state.chunks[i].jobArn != nil && !state.chunks[i].finished {
                if tally.stop != nil { break }
                let described = try await control.getModelInvocationJob(state.chunks[i].jobArn!)
                guard described.status.isFinal else { continue }
                try await collect(state.chunks[i], described, context: context, staging: staging)
                state.chunks[i].finished = true
                try await save(state, staging)
                progressed = true
            }
            if tally.stop != nil {
                try await markDetached(&state, staging)
                logger.notice("stopped waiting: the batch jobs go on at Bedrock; `conveyor collect \(job.path) \(identity.id)\(options.shard.map { " --shard \($0)" } ?? "")` picks up their results")
                return
            }
            if !state.chunks.contains(where: { !$0.finished }) { break }
            if progressed { wait = initialWait }
            // wait in steps of at most a second, so that a signal is heard
            let until = clock() + wait
            while tally.stop == nil, clock() < until {
                try? await Task.sleep(for: .milliseconds(Int(min(1, until - clock()) * 1000) + 1))
            }
            wait = min(wait * 2, 600)
        }
        if state.detached {
            state.detached = false
            try await save(state, staging)
            try? await services.storage.delete(staging.detachedMarker)
        }
    }

    /// The run's jobs go on without it: the state and the job's marker say so until `collect`.
    func markDetached(_ state: inout BatchRunState, _ staging: BatchStaging) async throws {
        state.detached = true
        try await save(state, staging)
        _ = try await services.storage.put(staging.detachedMarker,
                                           data: JSONValue.object(["runId": .string(identity.id)]).serialized(),
                                           contentType: "application/json", ifAbsent: false)
    }

    /// Maps an ended job's answers back to its items: each `.jsonl.out` line by recordId to the
    /// item's output and result; a record without a line fails.
    func collect(_ chunk: BatchRunState.Chunk, _ described: ModelInvocationJob, context: ItemContext,
                 staging: BatchStaging) async throws {
        let entries = try await loadEntries(staging.items(chunk.index), services.storage)
        var pending: [String: BatchEntry] = [:]
        for entry in entries { if let id = entry.recordId { pending[id] = entry } }
        if [.completed, .partiallyCompleted, .stopped].contains(described.status),
           let data = try? await services.storage.get(staging.answers(chunk.index, jobId: described.jobId)) {
            for line in try BatchStaging.parseLines(data, staging.answers(chunk.index, jobId: described.jobId)) {
                guard let recordId = line["recordId"]?.stringValue, let entry = pending.removeValue(forKey: recordId) else {
                    continue
                }
                recorder.record(await answer(entry, line, context: context))
            }
        }
        let why = described.status == .completed || described.status == .partiallyCompleted
            ? "without an answer for this record"
            : "\(described.status.rawValue)" + (described.message.map { ": " + $0 } ?? "")
        let code = described.status == .completed || described.status == .partiallyCompleted
            ? "BatchRecordMissing" : "BatchJob" + described.status.rawValue
        for entry in pending.values.sorted(by: { $0.index < $1.index }) {
            recorder.record(entry.result.failed(code, "the batch job \(described.jobArn) ended \(why)"))
        }
        logger.info("batch job collected", metadata: ["job": "\(described.jobArn)", "status": "\(described.status.rawValue)"])
    }

    /// One `.jsonl.out` line: the answer written to the item's output, or the record's error.
    func answer(_ entry: BatchEntry, _ line: JSONValue, context: ItemContext) async -> ItemResult {
        var result = entry.result
        guard let outputText = entry.output, let output = try? StorageURI.parse(outputText) else {
            return result.failed("TemplateError", "no output location for the item")
        }
        if let error = line["error"] {
            let status = error["errorCode"]?.intValue ?? 0
            let message = error["errorMessage"]?.stringValue ?? "no message"
            result.attempts = 1
            return result.failed(Self.errorCode(status: status), "\(message) (batch record, error code \(status))")
        }
        let response: ConverseResponse
        do {
            response = try ConverseResponse(body: line["modelOutput"] ?? .null, requestId: nil)
        } catch {
            return result.failed("MalformedBatchOutput", "the record's modelOutput is not a Converse answer: \(error)")
        }
        result.attempts = 1
        result.latencyMs = response.latencyMs
        result.usage = response.usage
        if let price {
            result.costUSD = price.cost(inputTokens: response.usage.inputTokens, outputTokens: response.usage.outputTokens,
                                        mode: .batch).usd
        }
        return await writeOutput(response, value: nil, item: entry.item, to: output, result: result, context)
    }

    /// A failed record's HTTP status as Bedrock's error code, as the same failure on demand would be named.
    static func errorCode(status: Int) -> String {
        switch status {
        case 400: return "ValidationException"
        case 403: return "AccessDeniedException"
        case 404: return "ResourceNotFoundException"
        case 408: return "ModelTimeoutException"
        case 424: return "ModelErrorException"
        case 429: return "ThrottlingException"
        case 500: return "InternalServerException"
        case 503: return "ServiceUnavailableException"
        default: return "BatchRecordError\(status)"
        }
    }
}

/// Cuts records into batch jobs: at most `maxRecords` records and `maxBytes` per job, and none
/// below `minRecords` where that can be helped (the last two chunks are evened out). Holds the
/// current and the previous chunk.
struct BatchChunker {
    struct Chunk {
        var entries: [BatchEntry] = []
        var lines: [Data] = []
        var bytes = 0
        var data: Data { lines.reduce(into: Data()) { $0.append($1); $0.append(UInt8(ascii: "\n")) } }
    }

    let maxRecords: Int
    let maxBytes: Int
    let minRecords: Int
    var done: [Chunk] = []
    var current = Chunk()
    var total = 0

    mutating func add(_ entry: BatchEntry, line: Data) {
        if !current.entries.isEmpty && (current.entries.count >= maxRecords || current.bytes + line.count + 1 > maxBytes) {
            done.append(current)
            current = Chunk()
        }
        current.entries.append(entry)
        current.lines.append(line)
        current.bytes += line.count + 1
        total += 1
    }

    /// The chunks; the last one evened out with the one before when it is short.
    mutating func finish() throws(ConfigurationError) -> [Chunk] {
        var chunks = done
        if !current.entries.isEmpty { chunks.append(current) }
        if chunks.count >= 2, chunks[chunks.count - 1].entries.count < minRecords {
            let last = chunks.removeLast()
            let before = chunks.removeLast()
            let entries = before.entries + last.entries
            let lines = before.lines + last.lines
            let half = entries.count / 2
            var a = Chunk(), b = Chunk()
            for i in entries.indices {
                if i < half {
                    a.entries.append(entries[i]); a.lines.append(lines[i]); a.bytes += lines[i].count + 1
                } else {
                    b.entries.append(entries[i]); b.lines.append(lines[i]); b.bytes += lines[i].count + 1
                }
            }
            guard a.entries.count >= minRecords, b.entries.count >= minRecords, a.bytes <= maxBytes, b.bytes <= maxBytes else {
                throw ConfigurationError("the records cannot be cut into batch jobs of batch.minRecords (\(minRecords)) to batch.maxRecords (\(maxRecords)) records within batch.maxFileMB: raise batch.maxRecords or batch.maxFileMB")
            }
            chunks += [a, b]
        }
        return chunks
    }
}
