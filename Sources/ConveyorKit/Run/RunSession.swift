import AWSCore
import Foundation
import Logging

/// Feeds each result to the report's statistics, the manifest and the progress line.
final class ReportingRecorder: RunRecorder {
    let stats: RunStats
    let manifest: ManifestWriter?

    init(stats: RunStats, manifest: ManifestWriter?) {
        self.stats = stats
        self.manifest = manifest
    }

    func record(_ result: ItemResult) {
        var record: ItemRecord
        switch result.status {
        case .succeeded:
            record = .succeeded(id: result.id, input: result.input, output: result.output, attempts: result.attempts,
                                throttled: result.throttles, latencyMs: result.latencyMs.map(Double.init),
                                inputTokens: result.usage?.inputTokens ?? 0, outputTokens: result.usage?.outputTokens ?? 0,
                                costUSD: result.costUSD)
        case .failed:
            record = .failed(id: result.id, input: result.input, output: result.output, code: result.errorCode ?? "Failed",
                             message: result.errorMessage ?? "", attempts: result.attempts, throttled: result.throttles,
                             latencyMs: result.latencyMs.map(Double.init), inputTokens: result.usage?.inputTokens ?? 0,
                             outputTokens: result.usage?.outputTokens ?? 0, costUSD: result.costUSD)
        case .skipped:
            record = .skipped(id: result.id, input: result.input, output: result.output)
        }
        record.schemaRetries = result.schemaRetries
        stats.record(record)
        manifest?.append(record)
    }
}

/// A whole run as cron sees it: take the job's lock, run, write the manifest and the report,
/// release the lock. The report is written on success, failure, abort and interrupt alike.
public final class RunSession: Sendable {
    public let runner: Runner
    public let reportURI: StorageURI?
    public let lockURI: StorageURI?
    let stats: RunStats
    let manifest: ManifestWriter?
    let lock: RunLock?
    let logger: Logger
    let job: Job
    let services: RunServices

    /// The lock sits beside the report (or, without one, beside the outputs): `JOB.lock`, one per
    /// shard when sharded.
    public static func lockLocation(job: Job, report: StorageURI?, builder: RequestBuilder, shard: Shard?) throws -> StorageURI? {
        let name = job.name + (shard.map(\.nameSuffix) ?? "") + ".lock"
        let folder: StorageURI?
        if let report {
            switch report {
            case .s3(let bucket, let key): folder = .s3(bucket: bucket, key: (key as NSString).deletingLastPathComponent)
            case .file(let path): folder = .file(path: (path as NSString).deletingLastPathComponent)
            }
        } else {
            folder = try ExistingOutputs.listablePrefix(job: job, builder: builder)
        }
        guard let folder else { return nil }
        switch folder {
        // the outputs' listed prefix ends with '/'; a report's folder does not
        case .s3(let bucket, let key):
            return .s3(bucket: bucket, key: key.isEmpty ? name : (key.hasSuffix("/") ? key : key + "/") + name)
        case .file(let path): return .file(path: (path.hasSuffix("/") ? path : path + "/") + name)
        }
    }

    public init(job: Job, services: RunServices, options: RunOptions = RunOptions(), identity: RunIdentity = .new(),
                logger: Logger, pacing: (any CallPacing)? = nil, conveyorVersion: String) throws {
        self.job = job
        self.services = services
        self.logger = logger
        stats = RunStats()
        let runValues = TemplateValues.Run(jobName: job.name, runID: identity.id, startedAt: identity.startedAt, vars: job.vars)
        let builder = RequestBuilder(job: job, prompts: ResolvedPrompts(system: nil, prompt: nil, ssmParameters: [], s3Objects: []),
                                     run: runValues)
        do {
            // each shard writes its own report (and manifest) beside the others, whatever the run id
            reportURI = try builder.report().map { options.shard?.located($0) ?? $0 }
        } catch {
            throw ConfigurationError("report: \(error)")
        }
        manifest = try reportURI.map { try ManifestWriter(destination: ManifestWriter.location(besideReport: $0, runId: identity.id + (options.shard.map { $0.count > 1 ? $0.nameSuffix : "" } ?? ""))) }
        lockURI = try Self.lockLocation(job: job, report: reportURI, builder: builder, shard: options.shard)
        lock = lockURI.map {
            RunLock(uri: $0, storage: services.storage, runId: identity.id, startedAt: identity.startedAt,
                    conveyorVersion: conveyorVersion, options: RunLock.Options(heartbeatInterval: options.lockHeartbeat, breakLock: options.breakLock))
        }
        runner = Runner(job: job, services: services, options: options, identity: identity,
                        recorder: ReportingRecorder(stats: stats, manifest: manifest), logger: logger, pacing: pacing)
        context = RunContext(job: job.name, runId: identity.id, model: job.model.id, startedAt: identity.startedAt,
                             shard: options.shard, conveyorVersion: conveyorVersion, host: ProcessInfo.processInfo.hostName,
                             previousReport: options.retry?.previousReport)
    }

    let context: RunContext

    /// The counts so far, for progress lines.
    public var snapshot: RunStats.Snapshot { stats.snapshot }

    /// Runs the job to its end. Throws `LockHeld` (exit 3) when another run holds the lock, and
    /// `ConfigurationError` (exit 2) when the job cannot start; otherwise returns the report.
    ///
    /// - Parameter onStart: called once the run holds the job's lock, before any item starts.
    public func run(onStart: @Sendable () -> Void = {}) async throws -> RunReport {
        if let lock {
            let acquisition = try await lock.acquire()
            if let warning = acquisition.warning { logger.warning("\(warning)") }
            let runner = self.runner
            let logger = self.logger
            await lock.startHeartbeat(onEvent: { event in
                if case .lost(let lost) = event {
                    logger.error("the job's lock was taken by another run: \(lost)")
                    runner.abort(.fatal("the job's lock was taken by another run"))
                }
            })
        }
        onStart()
        var failure: (any Error)?
        do {
            try await runner.run()
        } catch {
            failure = error
        }
        let ending: RunEnding
        switch (runner.stopReason, failure) {
        case (.interrupted, _): ending = .interrupted(message: "interrupted by a signal; calls in flight were drained")
        case (.maxFailures(let m), _): ending = .aborted(.maxFailures, message: m)
        case (.budget(let m), _): ending = .aborted(.budget, message: m)
        case (.fatal(let m), _): ending = .aborted(.fatal, message: m)
        case (nil, let error?): ending = .aborted(.fatal, message: "\(error)")
        case (nil, nil): ending = .completed
        }
        if let error = failure as? ConfigurationError, runner.stopReason == nil, stats.snapshot.finished == 0 {
            _ = try? await lock?.release()
            throw error
        }
        stats.setTotal(runner.seen)
        var manifestURI: String?
        if let manifest {
            do {
                manifestURI = try await manifest.finish(storage: services.storage).uri.description
            } catch {
                logger.error("the manifest could not be written: \(error)")
            }
        }
        var report = stats.report(run: context, finishedAt: Date(), ending: ending, manifest: manifestURI)
        if let missing = runner.retryNotFound { report.setRetryNotFound(missing) }
        report.batchJobs = runner.batch.jobArns
        if runner.batch.detached, runner.stopReason == nil, failure == nil { report.status = .detached }
        if let reportURI {
            do {
                _ = try await services.storage.put(reportURI, data: report.encoded(), contentType: "application/json",
                                                   ifAbsent: false)
                logger.info("report written", metadata: ["report": "\(reportURI)"])
            } catch {
                logger.error("the report could not be written to \(reportURI): \(error)")
            }
        }
        if let lock {
            do { _ = try await lock.release() } catch { logger.warning("the job's lock could not be released: \(error)") }
        }
        return report
    }
}
