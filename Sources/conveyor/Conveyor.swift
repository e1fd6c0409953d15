import ArgumentParser

@main
struct Conveyor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor",
        abstract: "Run batches of prompts through Amazon Bedrock, from S3 to S3.",
        discussion: """
            Conveyor reads a YAML job file, pulls its inputs from S3, calls Bedrock's Converse API with \
            rate-limit-aware concurrency and writes every result and a run report back to S3.

            The job commands (run, validate, plan, schema, report, doctor) are being built; this build \
            carries the AWS layer they stand on.
            """,
        version: ConveyorVersion.current
    )
}

enum ConveyorVersion {
    static let current = "0.1.0-dev"
}
