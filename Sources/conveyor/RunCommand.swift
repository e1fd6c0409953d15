import AWSCore
import ArgumentParser
import ConveyorKit
import Dispatch
import Foundation
import Logging
import Synchronization

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a job: every item through the model, every result and the report to the outputs.",
        discussion: """
            Exit codes: 0 all items succeeded or were skipped; 1 the run finished with failed items; 2 invalid job, \
            arguments or configuration (nothing was run); 3 another run holds the job's lock; 4 aborted \
            (maxFailures, budget, or a fatal error such as access denied on the output bucket); 130 interrupted by \
            SIGINT or SIGTERM (calls in flight drained, report written). A second signal exits at once.
            """)

    @Argument(help: "The job file.")
    var job: String

    @Flag(help: "Plan only: list items, render prompts, estimate; call no model, write nothing (= conveyor plan).")
    var dryRun = false

    @OptionGroup var items: ItemOptions
    @OptionGroup var aws: AWSOptions

    @Option(help: "Most model calls in flight (overrides limits.concurrency).")
    var concurrency: Int?

    @OptionGroup var session: SessionOptions

    @Option(help: ArgumentHelp("Run only the items that failed in this report of the job (its manifest lists them); the new report links to it.",
                               valueName: "REPORT_URI"))
    var retryFailed: String?

    @Option(help: ArgumentHelp("Write Prometheus metrics (node_exporter's textfile-collector format) to this file when the run starts, every --metrics-interval seconds and at its end; replaced atomically.", valueName: "PATH"))
    var metricsFile: String?

    @Option(help: ArgumentHelp("Seconds between metrics updates during a run: the --metrics-file, and CloudWatch EMF lines with --log-format json.", valueName: "SECONDS"))
    var metricsInterval: Int = 60

    @Option(help: "Engine: ondemand (Converse calls) or batch (Bedrock batch inference, half price); overrides the job's engine.")
    var engine: Engine?

    @Flag(help: "Engine batch: return once the batch jobs are submitted; finish with `conveyor collect JOB RUN_ID`.")
    var detach = false

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let max = items.maxItems, max < 0 { throw ValidationError("--max-items must be 0 or more") }
        if metricsInterval < 1 { throw ValidationError("--metrics-interval must be at least 1 (seconds)") }
        if detach && engine == .ondemand { throw ValidationError("--detach is for --engine batch") }
    }

    func run() async throws {
        if dryRun {
            try await runDryRun(jobPath: job, items: items, aws: aws, show: 3, checkAll: false, retryFailed: retryFailed)
            return
        }
        let logger = session.bootstrapLogging()
        let job: Job
        let overrides = try parseVars(items.vars)
        do {
            job = try JobLoader.load(path: self.job, overrides: overrides)
        } catch {
            report(error.diagnostics)
            throw ExitCode(ExitStatus.invalid)
        }
        report(job.warnings)
        if let keys = ProcessInfo.processInfo.environment["SSLKEYLOGFILE"], !keys.isEmpty {
            // libcurl honours it: TLS stays verified, but the traffic can be decrypted from the file
            logger.warning("SSLKEYLOGFILE is set: this run's TLS session keys are written to \(keys), and whoever can read that file can decrypt its traffic; unset it")
        }
        let services: RunServices
        let shard: Shard?
        let identity: RunIdentity
        do {
            shard = try items.parsedShard()
            identity = try items.runIdentity()
            let batch = (engine ?? job.engine) == .batch
            if detach && !batch { throw ConfigurationError("--detach is for engine batch: add --engine batch") }
            services = try RunServices.make(for: job, profile: aws.profile, region: aws.region, model: true, batch: batch,
                                            allowHTTP: aws.allowHTTP, concurrency: concurrency)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(ExitStatus.invalid)
        }
        let retry = try await loadRetrySelection(retryFailed, job: job, storage: services.storage)
        do {
            try retry?.check(newRunID: identity.id)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(ExitStatus.invalid)
        }
        try await execute(job: job, services: services,
                          options: RunOptions(shard: shard, maxItems: items.maxItems, concurrency: concurrency,
                                              breakLock: session.breakLock, retry: retry, engine: engine, detach: detach),
                          identity: identity, logger: logger, progress: session.progress,
                          metrics: .init(file: metricsFile, embeddedMetricFormat: session.logFormat == .json,
                                         interval: .seconds(metricsInterval)))
    }
}

/// Options of the commands that run a job's session (`run`, `collect`).
struct SessionOptions: ParsableArguments {
    @Option(help: "Log format: text or json (JSON lines for collectors).")
    var logFormat: ConveyorLogHandler.Format = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Progress: auto (a live line on a terminal), always, or never (a summary line every 30 s).")
    var progress: ProgressMode = .auto

    @Flag(help: "Take the job's lock even if another run holds it.")
    var breakLock = false

    /// Sends the process's logs through Conveyor's handler in the chosen format and level.
    func bootstrapLogging() -> Logger {
        let format = logFormat
        let level = logLevel
        LoggingSystem.bootstrap { label in ConveyorLogHandler(label: label, format: format, level: level) }
        return Logger(label: "conveyor")
    }
}

/// Runs a job's session to its end as `run` and `collect` do: signals, progress, the report on
/// stdout, the exit code.
func execute(job: Job, services: RunServices, options: RunOptions, identity: RunIdentity, logger: Logger,
             progress: ProgressMode, metrics metricsOptions: MetricsPublisher.Options) async throws {
    let session: RunSession
    let metrics: MetricsPublisher
    do {
        session = try RunSession(job: job, services: services, options: options,
                                 identity: identity, logger: logger, conveyorVersion: ConveyorVersion.current)
        metrics = try MetricsPublisher(options: metricsOptions, job: job.name, shard: options.shard, identity: identity,
                                       logger: logger)
    } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    }
    let runner = session.runner
    let signals = SignalWatcher { runner.interrupt() }
    defer { signals.cancel() }
    logger.info("run started", metadata: ["job": "\(job.name)", "run": "\(runner.identity.id)", "model": "\(job.model.id)"])
    let reporter = ProgressReporter(mode: progress, label: job.name)
    let started = Date()
    let feed = Task {
        while !Task.isCancelled {
            let s = session.snapshot
            let (inFlight, _, _) = await runner.scheduler.snapshot()
            reporter.update(progressSnapshot(s, total: runner.knownTotal, inFlight: inFlight, since: started))
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
    reporter.startTicking()
    let finalReport: RunReport
    do {
        finalReport = try await session.run(onStart: { metrics.start(snapshot: { session.snapshot }) })
    } catch let held as LockHeld {
        feed.cancel()
        reporter.clearLine()
        FileHandle.standardError.write(Data("error: \(held)\n".utf8))
        throw ExitCode(ExitStatus.locked)
    } catch let error as ConfigurationError {
        feed.cancel()
        reporter.clearLine()
        metrics.finish(counts: session.snapshot, at: Date(), ending: .init(exitCode: ExitStatus.invalid, status: nil))
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    } catch {
        // the lock could not be taken or read (no such bucket, access denied, clock skew):
        // nothing ran, nothing was spent
        feed.cancel()
        reporter.clearLine()
        FileHandle.standardError.write(Data("error: the run could not start: \(error)\n".utf8))
        throw ExitCode(ExitStatus.aborted)
    }
    feed.cancel()
    metrics.finish(finalReport)
    let s = session.snapshot
    reporter.finish(progressSnapshot(s, total: runner.knownTotal, inFlight: 0, since: started))
    print(finalReport.render())
    logger.info("run finished", metadata: ["status": "\(finalReport.status.rawValue)", "exit": "\(finalReport.exitCode)"])
    if finalReport.exitCode != 0 { throw ExitCode(finalReport.exitCode) }
}

/// A progress line's figures from the run's statistics.
func progressSnapshot(_ s: RunStats.Snapshot, total: Int?, inFlight: Int, since started: Date) -> ProgressSnapshot {
    ProgressSnapshot(done: s.finished, total: total, succeeded: s.succeeded, failed: s.failed, skipped: s.skipped,
                     inFlight: inFlight, throttled: s.throttled, inputTokens: s.inputTokens, outputTokens: s.outputTokens,
                     costUSD: s.costUSD, elapsed: Date().timeIntervalSince(started))
}

extension ProgressMode: ExpressibleByArgument {}

extension Engine: ExpressibleByArgument {}

extension ConveyorLogHandler.Format: ExpressibleByArgument {}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// SIGINT and SIGTERM: the first asks the run to stop and drain; the second exits at once (130).
final class SignalWatcher {
    let sources: [any DispatchSourceSignal]

    init(onFirst: @escaping @Sendable () -> Void) {
        let queue = EventQueues.serial("conveyor.signals")
        let count = Mutex(0)
        var made: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                // signals that arrive before the handler runs are coalesced: `data` counts them
                let n = count.withLock { c -> Int in
                    c += max(1, Int(source.data))
                    return c
                }
                if n == 1 {
                    FileHandle.standardError.write(Data("conveyor: stopping (a second signal exits at once)\n".utf8))
                    onFirst()
                } else {
                    // the run's own report is not written: the manifest's spool file stays in $TMPDIR
                    FileHandle.standardError.write(Data("conveyor: second signal, exiting\n".utf8))
                    exit(ExitStatus.interrupted)
                }
            }
            source.resume()
            made.append(source)
        }
        sources = made
    }

    func cancel() { for source in sources { source.cancel() } }
}
