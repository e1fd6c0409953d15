import AWSCore
import AWSServices
import ArgumentParser
import ConveyorKit
import Foundation

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a readable summary of a run report.",
        discussion: "REPORT_URI is s3://bucket/key, file:///path or a local path. Exit 0, or 2 when the report cannot be read.",
        subcommands: [Show.self, Merge.self], defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Summarise one report (the default).")

        @Argument(help: "The report's location.")
        var report: String

        @OptionGroup var aws: AWSOptions

        func run() async throws {
            let loaded = try await loadReport(report, aws: aws)
            print(loaded.render())
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Combine shard reports into one (printed as JSON on stdout, or written with --output).",
            discussion: """
                Give the shard reports' locations, or --job JOB.yaml --run-id ID --shards N to find them from the                 job's report location (each shard writes REPORT.shard-I-of-N.json): the merged report is then                 written to the job's report location unless --output says otherwise. Exit 0, or 2 when a report                 cannot be read or the reports do not belong together.
                """)

        @Argument(help: "The shard reports' locations.")
        var reports: [String] = []

        @Option(help: "Where to write the merged report (else stdout, or the job's report location with --job).")
        var output: String?

        @Option(help: "Find the shard reports from this job file's report location (with --run-id and --shards).")
        var job: String?

        @Option(help: "With --job: the run id the shards shared (else CONVEYOR_RUN_ID).")
        var runId: String?

        @Option(help: "With --job: how many shards the run had.")
        var shards: Int?

        @Option(name: .customLong("var"), help: "With --job: set a variable, NAME=VALUE, as the run did (repeatable).")
        var vars: [String] = []

        @OptionGroup var aws: AWSOptions

        func validate() throws {
            if job == nil {
                if reports.isEmpty { throw ValidationError("give the shard reports' locations, or --job JOB.yaml --run-id ID --shards N") }
                if runId != nil || shards != nil || !vars.isEmpty {
                    throw ValidationError("--run-id, --shards and --var go with --job")
                }
            } else {
                if !reports.isEmpty { throw ValidationError("give either report locations or --job, not both") }
                if shards == nil { throw ValidationError("--job needs --shards N, the number of shards the run had") }
            }
        }

        func run() async throws {
            var locations = reports
            var destination = output
            if let jobPath = job {
                let found = try locateShardReports(jobPath: jobPath)
                locations = found.shards.map(\.description)
                destination = destination ?? found.merged.description
            }
            var parts: [RunReport] = []
            for uri in locations { parts.append(try await loadReport(uri, aws: aws)) }
            let merged: RunReport
            do {
                merged = try RunReport.merge(parts)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(ExitStatus.invalid)
            }
            if let destination {
                let storage = try storageFor([destination], aws: aws)
                let uri = try parseLocation(destination)
                _ = try await storage.put(uri, data: merged.encoded(), contentType: "application/json", ifAbsent: false)
                print(merged.render())
            } else {
                FileHandle.standardOutput.write(merged.encoded())
            }
        }

        /// The shard reports of `--run-id` in `--shards` shards, from the job's report location.
        private func locateShardReports(jobPath: String) throws -> ShardReports {
            guard let id = givenRunID(runId) else {
                throw ValidationError("--job needs the run id the shards shared: --run-id ID (or CONVEYOR_RUN_ID)")
            }
            let overrides = try parseVars(vars)
            let loaded: Job
            do {
                loaded = try JobLoader.load(path: jobPath, overrides: overrides)
            } catch {
                report(error.diagnostics)
                throw ExitCode(ExitStatus.invalid)
            }
            do {
                return try ShardReports.locate(job: loaded, runID: try RunIdentity.given(id).id, count: shards ?? 1)
            } catch {
                FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
                throw ExitCode(ExitStatus.invalid)
            }
        }
    }
}

func parseLocation(_ text: String) throws -> StorageURI {
    do {
        return try StorageURI.parse(text).resolved(against: FileManager.default.currentDirectoryPath)
    } catch {
        FileHandle.standardError.write(Data("error: \(text): \(error.message)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    }
}

/// A store that can read these locations: S3 configured as the SDKs do when any is s3://.
func storageFor(_ locations: [String], aws: AWSOptions) throws -> Storage {
    guard locations.contains(where: { $0.hasPrefix("s3://") }) else { return Storage(s3: nil) }
    do {
        let configuration = try AWSConfiguration.resolve(profile: aws.profile, region: aws.region)
        return Storage(s3: S3Client(client: try AWSClient(service: S3Client.serviceInfo, configuration: configuration,
                                                          transport: CurlTransport.shared, region: aws.region)))
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    }
}

func loadReport(_ text: String, aws: AWSOptions) async throws -> RunReport {
    let uri = try parseLocation(text)
    let storage = try storageFor([text], aws: aws)
    do {
        return try RunReport.load(from: try await storage.get(uri, maxBytes: 64 * 1024 * 1024))
    } catch {
        FileHandle.standardError.write(Data("error: cannot read the report \(uri): \(error)\n".utf8))
        throw ExitCode(ExitStatus.invalid)
    }
}
