import AWSCore
import AWSServices
import Foundation
import Testing
import TestSupport
@testable import ConverseEmulator

/// BedrockRuntimeClient against the emulator over real HTTP.
@Suite struct ConverseClientTests {
    /// Starts an emulator, runs `body` with a client pointed at it, stops the emulator.
    func withEmulator(_ configure: (inout EmulatorConfiguration) -> Void = { _ in },
                      credentials: Credentials = Credentials(accessKeyId: "AKIDEMU", secretAccessKey: "emu-secret"),
                      retry: RetryConfiguration = RetryConfiguration(mode: .standard, maxAttempts: 3),
                      timeouts: HTTPTimeouts = .default,
                      clock: @escaping @Sendable () -> Double = AdaptiveRateLimiter.monotonicSeconds,
                      _ body: (BedrockRuntimeClient, ConverseEmulatorServer) async throws -> Void) async throws {
        var config = EmulatorConfiguration()
        config.accessKey = "AKIDEMU"
        config.secretKey = "emu-secret"
        configure(&config)
        let server = ConverseEmulatorServer(configuration: config, threads: 1, clock: clock)
        let port = try server.start()
        defer { try? server.stop() }
        let client = AWSClient(
            service: BedrockRuntimeClient.serviceInfo, region: "us-east-1",
            endpoint: Endpoint(url: "http://127.0.0.1:\(port)")!, credentials: StaticCredentialProvider(credentials),
            transport: CurlTransport.shared, timeouts: timeouts,
            retryHandler: RetryHandler(configuration: retry, sleep: { _ in }))
        try await body(BedrockRuntimeClient(client: client), server)
    }

    @Test func textConversation() async throws {
        try await withEmulator { bedrock, server in
            let result = try await bedrock.converse(ConverseRequest(
                modelId: "anthropic.claude-3-haiku-20240307-v1:0",
                messages: [.user("Summarise: the printer is on fire")], system: [.text("You are terse.")],
                inferenceConfig: InferenceConfiguration(maxTokens: 100, temperature: 0.2)), retry: true)
            #expect(result.response.text == "Echo: Summarise: the printer is on fire")
            #expect(result.response.stopReason == .endTurn)
            #expect(result.response.usage.inputTokens > 0)
            #expect(result.response.requestId?.isEmpty == false)
            #expect(result.attempts == 1)
            #expect(server.stats.accepted == 1)
        }
    }

    @Test(arguments: [
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
    ])
    func modelIdsArriveIntact(modelId: String) async throws {
        try await withEmulator { bedrock, _ in
            let request = ConverseRequest(modelId: modelId, messages: [.user("hi")],
                                          inferenceConfig: InferenceConfiguration(maxTokens: 10))
            let response = try await bedrock.client.send(bedrock.httpRequest(for: request), operation: "Converse")
            #expect(response.headers["x-conveyor-emulator-model"] == modelId)
        }
    }

    @Test func multiTurnWithImagesDocumentsAndToolResults() async throws {
        try await withEmulator { bedrock, _ in
            let tools = ToolConfiguration(tools: [.toolSpec(ToolSpecification(
                name: "lookup", inputSchema: ["type": "object", "properties": ["q": ["type": "string"]]]))])
            let request = ConverseRequest(
                modelId: "m",
                messages: [
                    Message(role: .user, content: [
                        .text("look at these"), .image(ImageBlock(format: "png", source: .bytes(Data([0x89, 0x50])))),
                        .document(DocumentBlock(format: "txt", name: "notes", source: .bytes(Data("notes".utf8)))),
                    ]),
                    Message(role: .assistant, content: [.toolUse(ToolUseBlock(toolUseId: "t1", name: "lookup", input: ["q": "x"]))]),
                    Message(role: .user, content: [
                        .toolResult(ToolResultBlock(toolUseId: "t1", content: [.json(["found": true])])),
                        .text("and now?"), .cachePoint(CachePointBlock()),
                    ]),
                ],
                inferenceConfig: InferenceConfiguration(maxTokens: 50), toolConfig: tools,
                additionalModelRequestFields: ["top_k": 5], requestMetadata: ["job": "test"])
            let response = try await bedrock.converse(request)
            #expect(response.text == "Echo: and now?")
        }
    }

    @Test func forcedToolAnswersWithSchemaConformingInput() async throws {
        try await withEmulator { bedrock, _ in
            let schema: JSONValue = ["type": "object", "required": ["label"],
                                     "properties": ["label": ["enum": ["positive", "negative"]]]]
            let response = try await bedrock.converse(ConverseRequest(
                modelId: "m", messages: [.user("I love it")], inferenceConfig: InferenceConfiguration(maxTokens: 50),
                toolConfig: ToolConfiguration(tools: [.toolSpec(ToolSpecification(name: "classify", inputSchema: schema))],
                                              toolChoice: .tool(name: "classify"))))
            #expect(response.stopReason == .toolUse)
            let label = response.toolUses.first?.input["label"]?.stringValue
            #expect(label == "positive" || label == "negative")
        }
    }

    @Test func validationErrorsAreNotRetried() async throws {
        try await withEmulator { bedrock, server in
            let error = await capture {
                _ = try await bedrock.converse(ConverseRequest(
                    modelId: "m", messages: [.user("a"), .assistant("b")]), retry: true)
            }
            #expect(error?.kind == .invalidRequest)
            #expect(error?.code == "ValidationException")
            #expect(error?.status == 400)
            #expect(error?.service == "Bedrock Runtime")
            #expect(server.stats.validationErrors == 1)  // one attempt only
        }
    }

    @Test(arguments: [
        ("ModelErrorException", AWSError.Kind.service, 424), ("ResourceNotFoundException", .notFound, 404),
        ("AccessDeniedException", .accessDenied, 403), ("ModelTimeoutException", .service, 408),
        ("ValidationException", .invalidRequest, 400), ("UnrecognizedClientException", .accessDenied, 403),
        ("ExpiredTokenException", .accessDenied, 403),
    ])
    func errorsMapToTheirClasses(code: String, kind: AWSError.Kind, status: Int) async throws {
        try await withEmulator { bedrock, server in
            let error = await capture {
                _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("x [[error:\(code)]]")]))
            }
            #expect(error?.code == code)
            #expect(error?.kind == kind)
            #expect(error?.status == status)
            // none of these is retried, but an expired token: the credentials are fetched again
            // and the call sent once more (issue #7 item 3)
            #expect(server.stats.directedErrors == (code == "ExpiredTokenException" ? 2 : 1))
        }
    }

    @Test(arguments: ["InternalServerException", "ServiceUnavailableException", "ThrottlingException", "ModelNotReadyException"])
    func retryableErrorsAreRetriedUpToMaxAttempts(code: String) async throws {
        try await withEmulator({ _ in }, retry: RetryConfiguration(maxAttempts: 4)) { bedrock, server in
            let error = await capture {
                _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("[[error:\(code)]]")]))
            }
            #expect(error?.code == code)
            #expect(server.stats.directedErrors == 4)
        }
    }

    @Test func quotaThrottleIsTheModelledThrottlingException() async throws {
        // the quota's clock stands still: a minute between the calls (a sanitizer run) must not refill it
        try await withEmulator({ $0.requestsPerMinute = 1 }, retry: .disabled, clock: { 1000 }) { bedrock, _ in
            _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("first")]))
            let error = await capture { _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("second")])) }
            #expect(error?.kind == .throttled)
            #expect(error?.code == "ThrottlingException")
            #expect(error?.status == 429)
            #expect(error?.message == "Too many requests, please wait before trying again.")
        }
    }

    @Test func tokenQuotaThrottleSaysTokens() async throws {
        // the quota's clock stands still, so no refill can come between the calls however slow they are
        try await withEmulator({ $0.tokensPerMinute = 6 }, retry: .disabled, clock: { 1000 }) { bedrock, _ in
            // a bucket of one token: a call reserving 1 + 500 is admitted on a full bucket and
            // leaves it in debt (its unused reservation comes back, the 4 it used do not), so the
            // next one is refused for tokens
            _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("a")],
                                                           inferenceConfig: InferenceConfiguration(maxTokens: 500)))
            let error = await capture {
                _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("b")],
                                                               inferenceConfig: InferenceConfiguration(maxTokens: 500)))
            }
            #expect(error?.message == "Too many tokens, please wait before trying again.")
        }
    }

    /// The emulator's faults are 500, 503 and 408 in equal shares. Standard mode retries the 500s
    /// and 503s (botocore's transient statuses) and, like botocore, not ModelTimeoutException.
    @Test func faultsAreRetriedButModelTimeoutsSurface() async throws {
        try await withEmulator({ $0.faultRate = 0.4; $0.seed = 7 }, retry: RetryConfiguration(maxAttempts: 12)) { bedrock, server in
            var succeeded = 0
            var timedOut = 0
            var retried = 0
            for i in 0..<40 {
                do {
                    let result = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("n\(i)")]), retry: true)
                    #expect(result.response.text == "Echo: n\(i)")
                    succeeded += 1
                    retried += result.attempts - 1
                } catch let error as AWSError {
                    #expect(error.code == "ModelTimeoutException")
                    #expect(error.status == 408)
                    timedOut += 1
                }
            }
            #expect(succeeded + timedOut == 40)
            #expect(retried > 0)
            #expect(timedOut > 0)
            #expect(server.stats.accepted == succeeded)
            #expect(server.stats.faults >= retried + timedOut)
        }
    }

    @Test func droppedConnectionsAreTransportErrorsAndRetried() async throws {
        try await withEmulator({ $0.dropRate = 1 }, retry: RetryConfiguration(maxAttempts: 3)) { bedrock, server in
            let error = await capture { _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("x")])) }
            #expect(error?.kind == .transport)
            #expect(error?.transportError?.kind == .reset)
            #expect(server.stats.drops == 3)
        }
    }

    @Test func readTimeoutIsATransportErrorAndRetried() async throws {
        try await withEmulator({ _ in }, retry: RetryConfiguration(maxAttempts: 2),
                               timeouts: HTTPTimeouts(connect: .seconds(5), read: .seconds(1))) { bedrock, server in
            let error = await capture {
                _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("slow [[latency:4000]]")]))
            }
            #expect(error?.kind == .transport)
            #expect(error?.transportError?.kind == .readTimeout)
            #expect(server.stats.calls == 2)
        }
    }

    @Test func wrongSecretIsRefusedAndNeverShown() async throws {
        try await withEmulator({ _ in }, credentials: Credentials(accessKeyId: "AKIDEMU", secretAccessKey: "oops-secret")) {
            bedrock, server in
            let error = await capture { _ = try await bedrock.converse(ConverseRequest(modelId: "m", messages: [.user("x")])) }
            #expect(error?.code == "InvalidSignatureException")
            #expect(error?.kind == .accessDenied)
            #expect(error.map { "\($0)" }?.contains("oops-secret") == false)
            #expect(server.stats.signatureErrors == 1)
        }
    }

    func capture(_ body: () async throws -> Void) async -> AWSError? {
        do {
            try await body()
            return nil
        } catch let error as AWSError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }
}
