import ArgumentParser
import ConverseEmulator
import Dispatch
import Foundation

/// `conveyor-emulator`: a local Bedrock Converse endpoint for tests, the demo, benchmarks, and
/// for rehearsing a job for free.
struct EmulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor-emulator",
        abstract: "A local Amazon Bedrock Converse endpoint with quotas, latency and faults.",
        discussion: """
            Serves POST /model/{modelId}/converse like Bedrock Runtime, on loopback only. Answers are \
            deterministic ("Echo: " and the last user message, after a note of each document or image in it: \
            [document NAME (pdf, BYTES bytes, fnv HASH)]; a toolUse matching the tool's schema when toolChoice \
            names a tool). Documents and images are checked as Bedrock does (formats, names, sizes) and \
            charged by size and pixels. GET /__stats reports counters; POST /__reset clears them and refills \
            the quotas. Point a client at it with AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://HOST:PORT.

            Directives in the last user message steer one call: [[error:CODE]] answers with that Bedrock \
            error, [[latency:MS]] sets the latency, [[tool-input:JSON]] fixes the toolUse input, \
            [[wrong-tool-input:N]] makes the first N answers of a conversation break the tool's schema \
            (counted by the tool results sent back).

            Batch inference: POST /model-invocation-job, GET /model-invocation-job/{id}, POST \
            /model-invocation-job/{id}/stop and GET /model-invocation-jobs, as Bedrock's control plane \
            (AWS_ENDPOINT_URL_BEDROCK=http://HOST:PORT). Jobs read their JSONL records from --s3-endpoint with \
            the keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), answer each record as \
            Converse would, and write <output>/<jobId>/<file>.jsonl.out and manifest.json.out.
            """)

    @Option(help: "Port to listen on; 0 picks a free one (printed on the first line).")
    var port: Int = 0

    @Option(help: "Loopback address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Requests per minute the quota allows (default: no request quota).")
    var rpm: Double?

    @Option(help: "Tokens per minute the quota allows: input + maxTokens × burndown reserved per call.")
    var tpm: Double?

    @Option(help: "Seconds of quota each bucket holds (the burst allowance).")
    var burst: Double = 1

    @Option(help: "Mean latency of a call in milliseconds.")
    var latencyMs: Double = 0

    @Option(help: "Extra milliseconds per output token.")
    var msPerToken: Double = 0

    @Option(help: "Latency varies by up to this fraction either way.")
    var jitter: Double = 0.2

    @Option(help: "Fraction of calls answered with a 500, 503 or 408 error.")
    var faultRate: Double = 0

    @Option(help: "Fraction of calls whose connection is closed in the middle of the response.")
    var dropRate: Double = 0

    @Option(help: "How many times output tokens count against the token quota (Claude 4 models: 5).")
    var burndown: Double = 1

    @Option(help: "maxTokens when a request does not set it.")
    var defaultMaxTokens: Int = 4096

    @Option(help: "Access key id that signed requests must use (with --secret-key).")
    var accessKey: String?

    @Option(help: "Secret key to check signatures with (with --access-key).")
    var secretKey: String?

    @Option(help: "Seed of the fault and jitter draws.")
    var seed: UInt64 = 1

    @Option(help: "S3 endpoint (such as moto's) batch jobs read their records from and write their results to.")
    var s3Endpoint: String?

    @Option(help: "Region of the batch jobs' ARNs and of their S3 signatures.")
    var region: String = "us-east-1"

    @Option(help: "Fewest records a batch job may have (Bedrock's quota, commonly 100).")
    var batchMinRecords: Int = 100

    @Option(help: "Most submitted and in-progress batch jobs per model.")
    var batchMaxJobs: Int = 10

    @Option(help: "Event loop threads.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard batchMinRecords >= 1, batchMaxJobs >= 1 else {
            throw ValidationError("--batch-min-records and --batch-max-jobs must be at least 1")
        }
        if let s3Endpoint, !(s3Endpoint.hasPrefix("http://127.") || s3Endpoint.hasPrefix("http://localhost")) {
            throw ValidationError("--s3-endpoint must be a loopback http:// URL (moto's), not \(s3Endpoint)")
        }
        for (name, value) in [("--fault-rate", faultRate), ("--drop-rate", dropRate), ("--jitter", jitter)] {
            guard (0...1).contains(value) else { throw ValidationError("\(name) must be between 0 and 1") }
        }
        if let rpm, rpm <= 0 { throw ValidationError("--rpm must be positive") }
        if let tpm, tpm <= 0 { throw ValidationError("--tpm must be positive") }
        guard burst > 0 else { throw ValidationError("--burst must be positive") }
        guard (accessKey == nil) == (secretKey == nil) else {
            throw ValidationError("--access-key and --secret-key go together")
        }
    }

    func run() throws {
        var config = EmulatorConfiguration()
        config.host = host
        config.port = port
        config.requestsPerMinute = rpm
        config.tokensPerMinute = tpm
        config.burstSeconds = burst
        config.latencyMs = latencyMs
        config.msPerOutputToken = msPerToken
        config.jitter = jitter
        config.faultRate = faultRate
        config.dropRate = dropRate
        config.burndown = burndown
        config.defaultMaxTokens = defaultMaxTokens
        config.accessKey = accessKey
        config.secretKey = secretKey
        config.seed = seed
        config.batch.s3Endpoint = s3Endpoint
        config.batch.region = region
        config.batch.minRecords = batchMinRecords
        config.batch.maxActiveJobsPerModel = batchMaxJobs
        let environment = ProcessInfo.processInfo.environment
        config.batch.s3AccessKey = environment["AWS_ACCESS_KEY_ID"]
        config.batch.s3SecretKey = environment["AWS_SECRET_ACCESS_KEY"]
        config.batch.s3SessionToken = environment["AWS_SESSION_TOKEN"]
        let server = ConverseEmulatorServer(configuration: config, threads: threads)
        let bound = try server.start()
        FileHandle.standardOutput.write(Data("listening on \(host):\(bound)\n".utf8))
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let stopper = DispatchQueue(label: "emulator.signals")
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: sig, queue: stopper)
            source.setEventHandler { try? server.stop() }
            source.resume()
            sources.append(source)
        }
        try server.wait()
        _ = sources
    }
}

EmulatorCommand.main()
