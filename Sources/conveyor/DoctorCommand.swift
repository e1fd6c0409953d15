import AWSCore
import ArgumentParser
import ConveyorKit
import Foundation

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check credentials, region, endpoints and, with a job, its inputs, outputs, SSM parameters and model.",
        discussion: """
            Read-only: lists one key, HEADs objects and reads SSM parameters without decryption (names and types \
            only); never calls the model and never writes, so write permission is not tested. Shows no secret: of \
            the credentials only their source, the access key id's last four characters and the expiry.

            Each check is a line: ok, warn or fail, with a hint. Exit 0 when no check fails (warnings allowed), 1 \
            when one fails, 2 for invalid arguments or an invalid job.

            --policy prints instead the least-privilege IAM policy the job needs (JSON), from the job file and the \
            calls Conveyor makes; ARNs hold --account, else *.
            """)

    @Argument(help: "A job file to check (optional; required with --policy).")
    var job: String?

    @OptionGroup var aws: AWSOptions

    @Option(name: .customLong("var"), help: "Set a variable: NAME=VALUE (repeatable).")
    var vars: [String] = []

    @Flag(help: "Print the checks as JSON, for scripts.")
    var json = false

    @Flag(help: "Print the IAM policy the job needs instead of checking.")
    var policy = false

    @Option(help: "The AWS account id for the policy's ARNs (else *).")
    var account: String?

    func validate() throws {
        if policy && job == nil { throw ValidationError("--policy needs a job file: conveyor doctor --policy JOB.yaml") }
        if let account, account.count != 12 || !account.allSatisfy(\.isNumber) {
            throw ValidationError("--account takes a 12-digit AWS account id, got '\(account)'")
        }
        if account != nil && !policy { throw ValidationError("--account goes with --policy") }
        if json && policy { throw ValidationError("--policy prints JSON already; leave out --json") }
    }

    func run() async throws {
        var loaded: Job?
        if let path = job {
            do {
                loaded = try JobLoader.load(path: path, overrides: try parseVars(vars))
            } catch let error as DiagnosticsError {
                report(error.diagnostics)
                throw ExitCode(ExitStatus.invalid)
            }
        }
        if policy, let loaded {
            printPolicy(loaded)
            return
        }
        let result = await Doctor.run(job: loaded, profile: aws.profile, region: aws.region, allowHTTP: aws.allowHTTP)
        print(json ? Self.json(result) : Self.text(result))
        if !result.passed { throw ExitCode(ExitStatus.someFailed) }
    }

    /// The policy on standard output, its notes on standard error.
    func printPolicy(_ job: Job) {
        // regions as the run picks them (RunServices); unknown ones become * in the ARNs
        let configured = (try? AWSConfiguration.resolve(profile: aws.profile, region: aws.region))
            .flatMap { try? $0.region.name }
        let options = JobPolicy.Options(account: account, dataRegion: aws.region ?? configured ?? job.model.region,
                                        modelRegion: job.model.region ?? aws.region ?? configured)
        let generated = JobPolicy(job: job, options: options)
        print(generated.policy.jsonText())
        for note in generated.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
    }

    static func text(_ result: DoctorReport) -> String {
        let width = max(12, (result.checks.map(\.section.count).max() ?? 0) + 2)
        var lines: [String] = []
        for check in result.checks {
            let status = check.status.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            lines.append(status + check.section.padding(toLength: width, withPad: " ", startingAt: 0) + check.message)
            if let hint = check.hint { lines.append(String(repeating: " ", count: 6 + width) + "hint: " + hint) }
        }
        func count(_ status: DoctorCheck.Status) -> Int { result.checks.filter { $0.status == status }.count }
        lines.append("")
        lines.append("doctor: \(count(.ok)) ok, \(count(.warn)) warning\(count(.warn) == 1 ? "" : "s"), \(count(.fail)) failed")
        return lines.joined(separator: "\n")
    }

    struct JSONReport: Encodable {
        var job: String?
        var passed: Bool
        var checks: [DoctorCheck]
    }

    static func json(_ result: DoctorReport) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(JSONReport(job: result.job, passed: result.passed, checks: result.checks))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
