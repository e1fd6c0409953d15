import ArgumentParser
import ConveyorKit
import Foundation
import Logging

struct Collect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Finish a batch run started with --detach: wait for its Bedrock batch jobs, write the outputs and the report.",
        discussion: """
            Reads the run's state from batch.staging (STAGING/JOB/RUN_ID/state.json), submits any chunk not yet \
            submitted, waits for the jobs (status checks every batch.pollInterval, doubling up to 10 minutes), maps \
            each answer back to its item's output key and writes the report and manifest as `run` does. It takes \
            the job's lock while it works. Exit codes as for `run`.
            """)

    @Argument(help: "The job file the run was started with.")
    var job: String

    @Argument(help: "The run id the detached run printed.")
    var runId: String

    @OptionGroup var aws: AWSOptions

    @Option(name: .customLong("var"), help: "Set a variable: NAME=VALUE (repeatable), as given to the run.")
    var vars: [String] = []

    @Option(help: ArgumentHelp("The shard the detached run was, if it was one.", valueName: "I/N"))
    var shard: String?

    @OptionGroup var session: SessionOptions

    func run() async throws {
        let logger = session.bootstrapLogging()
        let job: Job
        let overrides = try parseVars(vars)
        do {
            job = try JobLoader.load(path: self.job, overrides: overrides)
        } catch {
            report(error.diagnostics)
            throw ExitCode(ExitStatus.invalid)
        }
        let services: RunServices
        let identity: RunIdentity
        let parsedShard: Shard?
        do {
            identity = try RunIdentity.given(runId)
            parsedShard = try shard.map { text throws(ConfigurationError) in try Shard.parse(text) }
            services = try RunServices.make(for: job, profile: aws.profile, region: aws.region, model: true, batch: true)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode(ExitStatus.invalid)
        }
        try await execute(job: job, services: services,
                          options: RunOptions(shard: parsedShard, breakLock: session.breakLock, engine: .batch, collect: true),
                          identity: identity, logger: logger, progress: session.progress,
                          metrics: .init(file: nil, embeddedMetricFormat: session.logFormat == .json))
    }
}
