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
        subcommands: [Validate.self, Schema.self]
    )
}

enum ConveyorVersion {
    static let current = "0.1.0-dev"
}

/// Exit codes of the contract.
enum ExitStatus {
    static let invalid: Int32 = 2
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
                _ = job
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
