import ArgumentParser
import ConveyorKit
import Foundation

@main
struct Conveyor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor",
        abstract: "Run batches of prompts through Amazon Bedrock, from S3 to S3.",
        discussion: """
            Conveyor reads a YAML job file, pulls its inputs from S3, calls Bedrock's Converse API with \
            rate-limit-aware concurrency and writes every result and a run report back to S3.

            Exit codes: 0 all items succeeded or were skipped; 1 some items failed; 2 invalid job, \
            arguments or configuration; 3 another run holds the job's lock; 4 aborted; 130 interrupted.
            """,
        version: ConveyorVersion.current,
        subcommands: [Run.self, Collect.self, Validate.self, Plan.self, Schema.self, Report.self, DoctorCommand.self]
    )
}

extension Conveyor {
    /// Parses and runs like ArgumentParser's own `main`, but a bad argument exits 2 (the
    /// contract's "invalid job, arguments or configuration"), not 64.
    static func main() async {
        MallocSettings.apply()  // before the threads start: resident memory stays flat over long runs
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.invalid)
            }
            exit(withError: error)
        }
    }
}

enum ConveyorVersion {
    static let current = "0.1.0-dev"
}

/// Exit codes of the contract.
enum ExitStatus {
    static let succeeded: Int32 = 0
    static let someFailed: Int32 = 1
    static let invalid: Int32 = 2
    static let locked: Int32 = 3
    static let aborted: Int32 = 4
    static let interrupted: Int32 = 130
}

/// Prints diagnostics to standard error, as compilers do.
func report(_ diagnostics: [Diagnostic]) {
    for diagnostic in diagnostics {
        FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check job files offline: schema, templates, URIs and limits.",
        discussion: "Reads no inputs and calls nothing. Prints every problem as FILE:LINE:COL: error: MESSAGE. Exit 0 when all files are valid, 2 otherwise.")

    @Argument(help: "Job files to check.")
    var jobs: [String]

    @Option(name: .customLong("var"), help: "Set a variable: NAME=VALUE (repeatable).")
    var vars: [String] = []

    func run() throws {
        let overrides = try parseVars(vars)
        var failed = false
        for path in jobs {
            do {
                let job = try JobLoader.load(path: path, overrides: overrides)
                report(job.warnings)
                print("\(path): ok")
            } catch {
                report(error.diagnostics)
                let count = error.errors.count
                FileHandle.standardError.write(Data("\(path): \(count) error\(count == 1 ? "" : "s")\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.invalid) }
    }
}

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the JSON Schema of job files (for yaml-language-server and other editors).",
        discussion: "Add `# yaml-language-server: $schema=PATH` at the top of a job file, or map the schema to jobs/*.yaml in your editor.")

    func run() throws {
        print(JobFormat.jsonSchemaText())
    }
}

/// `--var NAME=VALUE` pairs.
func parseVars(_ pairs: [String]) throws -> [String: String] {
    var vars: [String: String] = [:]
    for pair in pairs {
        guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
            throw ValidationError("--var takes NAME=VALUE, got '\(pair)'")
        }
        vars[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
    }
    return vars
}

/// Options every command that reads AWS shares.
struct AWSOptions: ParsableArguments {
    @Option(help: "AWS profile (else AWS_PROFILE, then default).")
    var profile: String?

    @Option(help: "AWS region for S3 and SSM (else AWS_REGION, AWS_DEFAULT_REGION, the profile); the model's region is model.region, else this.")
    var region: String?

    @Flag(name: .customLong("allow-http"), help: "Allow plain-HTTP endpoints (AWS_ENDPOINT_URL*, endpoint_url) on hosts other than loopback.")
    var allowHTTP = false
}

/// Options that select a job's items.
struct ItemOptions: ParsableArguments {
    @Option(name: .customLong("var"), help: "Set a variable: NAME=VALUE (repeatable).")
    var vars: [String] = []

    @Option(help: ArgumentHelp("Run only shard I of N (0 ≤ I < N), by a stable hash of item ids.", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Run one of N shards, its index from AWS_BATCH_JOB_ARRAY_INDEX or JOB_COMPLETION_INDEX.",
                               valueName: "N"))
    var shards: Int?

    @Option(help: ArgumentHelp("The run's id (else CONVEYOR_RUN_ID, else a new one): give all shards of one run the same id.",
                               valueName: "ID"))
    var runId: String?

    @Option(help: "Stop after this many items.")
    var maxItems: Int?

    func parsedShard() throws -> Shard? {
        try Shard.resolve(shard: shard, shards: shards, environment: ProcessInfo.processInfo.environment)
    }

    /// `--run-id`, else `CONVEYOR_RUN_ID`, else a new id.
    func runIdentity() throws -> RunIdentity {
        try givenRunID(runId).map { id throws(ConfigurationError) in try RunIdentity.given(id) } ?? .new()
    }
}

/// The run id the caller chose: the `--run-id` option, else a non-empty `CONVEYOR_RUN_ID`.
func givenRunID(_ option: String?) -> String? {
    option ?? ProcessInfo.processInfo.environment["CONVEYOR_RUN_ID"].flatMap { $0.isEmpty ? nil : $0 }
}

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a run would do and cost, without calling a model or writing anything (= run --dry-run).",
        discussion: "Lists the items as a stream, renders the first prompts, resolves SSM parameters (values never shown), estimates tokens and cost, and checks that inputs are readable. Exit 0, or 2 when the job cannot run.")

    @Argument(help: "The job file.")
    var job: String

    @OptionGroup var items: ItemOptions
    @OptionGroup var aws: AWSOptions

    @Option(help: "How many rendered prompts to show.")
    var show: Int = 3

    @Flag(help: "Check that every input is readable (default: a sample of 5).")
    var checkAll = false

    func run() async throws {
        try await runDryRun(jobPath: job, items: items, aws: aws, show: show, checkAll: checkAll)
    }
}

/// `--retry-failed REPORT_URI`: the failed items of that report (exit 2 when it cannot be used).
func loadRetrySelection(_ report: String?, job: Job, storage: Storage) async throws -> RetrySelection? {
    guard let report else { return nil }
    do {
        return try await RetrySelection.load(report: try parseLocation(report), job: job, storage: storage)
    } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    }
}

/// The dry run, shared by `plan` and `run --dry-run`.
func runDryRun(jobPath: String, items: ItemOptions, aws: AWSOptions, show: Int, checkAll: Bool,
               retryFailed: String? = nil) async throws {
    let job: Job
    let overrides = try parseVars(items.vars)
    do {
        job = try JobLoader.load(path: jobPath, overrides: overrides)
    } catch {
        report(error.diagnostics)
        throw ExitCode(ExitStatus.invalid)
    }
    report(job.warnings)
    do {
        let services = try RunServices.make(for: job, profile: aws.profile, region: aws.region, model: false,
                                            allowHTTP: aws.allowHTTP)
        let retry = try await loadRetrySelection(retryFailed, job: job, storage: services.storage)
        let summary = try await DryRun.plan(job, services: services, run: try items.runIdentity(),
                                            options: DryRunOptions(show: show, checkAll: checkAll, shard: try items.parsedShard(),
                                                                   maxItems: items.maxItems, retry: retry))
        print(summary.rendered())
        if !summary.canRun { throw ExitCode(ExitStatus.invalid) }
    } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    } catch let error as StorageError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    }
}
