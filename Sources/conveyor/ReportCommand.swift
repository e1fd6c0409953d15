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
            abstract: "Combine shard reports into one (printed as JSON on stdout, or written with --output).")

        @Argument(help: "The shard reports' locations.")
        var reports: [String]

        @Option(help: "Where to write the merged report (else stdout).")
        var output: String?

        @OptionGroup var aws: AWSOptions

        func run() async throws {
            var parts: [RunReport] = []
            for uri in reports { parts.append(try await loadReport(uri, aws: aws)) }
            let merged: RunReport
            do {
                merged = try RunReport.merge(parts)
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(ExitStatus.invalid)
            }
            if let output {
                let storage = try storageFor([output], aws: aws)
                let uri = try parseLocation(output)
                _ = try await storage.put(uri, data: merged.encoded(), contentType: "application/json", ifAbsent: false)
                print(merged.render())
            } else {
                FileHandle.standardOutput.write(merged.encoded())
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
