import AWSCore
import AWSServices
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A local Converse server with Bedrock's quotas, latency and faults, on loopback.
///
/// Routes: `POST /model/{modelId}/converse`, the batch inference control plane (`POST
/// /model-invocation-job`, `GET /model-invocation-job/{id}`, `POST /model-invocation-job/{id}/stop`,
/// `GET /model-invocation-jobs`; see BatchJobs.swift), `GET /__stats`, `POST /__reset`. Every answer is
/// scheduled on the connection's event loop after its latency; no thread ever sleeps.
public final class ConverseEmulatorServer: Sendable {
    public let configuration: EmulatorConfiguration
    let state: EmulatorState
    let group: MultiThreadedEventLoopGroup
    let channel = Mutex<(any Channel)?>(nil)

    /// `clock` drives the quota buckets' refill (seconds, monotonic); tests that must not depend
    /// on how long a call takes freeze it.
    public init(configuration: EmulatorConfiguration, threads: Int = System.coreCount,
                clock: @escaping @Sendable () -> Double = AdaptiveRateLimiter.monotonicSeconds) {
        self.configuration = configuration
        state = EmulatorState(configuration: configuration, clock: clock)
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    }

    /// Binds and starts serving; returns the port (the chosen one when the configuration says 0).
    @discardableResult
    public func start() throws -> Int {
        guard configuration.host.hasPrefix("127.") || configuration.host == "localhost" || configuration.host == "::1" else {
            throw EmulatorStartError(message: "the emulator listens on loopback addresses only, not \(configuration.host)")
        }
        let state = self.state
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(EmulatorHandler(state: state))
                }
            }
        let bound = try bootstrap.bind(host: configuration.host, port: configuration.port).wait()
        channel.withLock { $0 = bound }
        return bound.localAddress?.port ?? configuration.port
    }

    public var stats: EmulatorStats { state.stats }

    public func reset() { state.reset() }

    /// Stops listening, closes every connection and ends the event loop threads.
    public func stop() throws {
        let bound = channel.withLock { c -> (any Channel)? in
            defer { c = nil }
            return c
        }
        try bound?.close().wait()
        try group.syncShutdownGracefully()
    }

    /// Blocks until the server channel closes (for the executable).
    public func wait() throws {
        let bound = channel.withLock { $0 }
        try bound?.closeFuture.wait()
    }
}

public struct EmulatorStartError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// One connection's request handling.
final class EmulatorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: EmulatorState
    var head: HTTPRequestHead?
    var body = ByteBuffer()

    init(state: EmulatorState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let head else { return }
            self.head = nil
            handle(context: context, head: head, body: Data(body.readableBytesView))
        }
    }

    // MARK: Routing

    func handle(context: ChannelHandlerContext, head: HTTPRequestHead, body: Data) {
        let (path, query) = Self.split(head.uri)
        switch (head.method, path) {
        case (.GET, "/__stats"):
            let object = JSONValue.object(JSONObject(state.stats.json.sorted { $0.key < $1.key }
                .map { ($0.key, JSONValue.integer(Int64($0.value))) }))
            respond(context: context, head: head, status: .ok, headers: [("Content-Type", "application/json")],
                    body: object.serialized())
        case (.POST, "/__reset"):
            state.reset()
            respond(context: context, head: head, status: .ok, headers: [("Content-Type", "application/json")],
                    body: Data("{}".utf8))
        case (.POST, _) where path.hasPrefix("/model/") && path.hasSuffix("/converse"):
            let encoded = String(path.dropFirst("/model/".count).dropLast("/converse".count))
            guard !encoded.isEmpty, !encoded.contains("/") else {
                fail(context: context, head: head, EmulatedError(code: "UnknownOperationException", status: 404,
                                                                 message: "Unknown operation"))
                return
            }
            converse(context: context, head: head, rawPath: path, query: query,
                     modelId: AWSPercentEncoding.decode(encoded), body: body)
        case (_, _) where path.hasPrefix("/model-invocation-job"):
            batchOperation(context: context, head: head, path: path, query: query, body: body)
        default:
            fail(context: context, head: head, EmulatedError(code: "UnknownOperationException", status: 404,
                                                             message: "Unknown operation \(head.method) \(path)"))
        }
    }

    static func split(_ uri: String) -> (path: String, query: String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }

    // MARK: Converse

    func converse(context: ChannelHandlerContext, head: HTTPRequestHead, rawPath: String, query: String,
                  modelId: String, body: Data) {
        let config = state.configuration
        guard signatureIsValid(context: context, head: head, rawPath: rawPath, query: query, body: body) else { return }
        let request: ConverseRequest
        do {
            request = try ConverseRequest(modelId: modelId, body: try JSONValue.parse(body))
            try EmulatedModel.validate(request, defaultMaxTokens: config.defaultMaxTokens)
        } catch let error as EmulatedError {
            state.update { $0.validationErrors += 1 }
            fail(context: context, head: head, error)
            return
        } catch {
            state.update { $0.validationErrors += 1 }
            fail(context: context, head: head, .validation("Malformed input request: \(error)"))
            return
        }
        let input = EmulatedModel.inputTokens(request)
        let maxTokens = request.inferenceConfig?.maxTokens ?? config.defaultMaxTokens
        let reserved = Double(input) + Double(maxTokens) * config.burndown
        switch state.admit(reservedTokens: reserved) {
        case .admitted:
            break
        case .tooManyRequests:
            fail(context: context, head: head, EmulatedError(
                code: "ThrottlingException", status: 429, message: "Too many requests, please wait before trying again."))
            return
        case .tooManyTokens:
            fail(context: context, head: head, EmulatedError(
                code: "ThrottlingException", status: 429, message: "Too many tokens, please wait before trying again."))
            return
        }

        let draws = state.draws()
        let text = EmulatedModel.lastUserText(request)
        var latency = config.latencyMs * (1 + config.jitter * (2 * draws.jitter - 1))
        if let override = EmulatedModel.directive("latency", in: text).flatMap(Double.init) { latency = override }

        var outcome: Result<ConverseResponse, EmulatedError>
        if draws.fault < config.faultRate {
            let pick = Int(draws.fault / max(config.faultRate, 1e-12) * 3) % 3
            outcome = .failure([
                EmulatedError(code: "InternalServerException", status: 500, message: "The server encountered an internal error."),
                EmulatedError(code: "ServiceUnavailableException", status: 503, message: "The service is temporarily unavailable."),
                EmulatedError(code: "ModelTimeoutException", status: 408, message: "The model took too long to respond."),
            ][pick])
        } else {
            do {
                outcome = .success(try EmulatedModel.answer(request, defaultMaxTokens: config.defaultMaxTokens,
                                                            latencyMs: 0))
            } catch {
                outcome = .failure(error)
            }
        }
        var outputTokens = 0
        if case .success(let response) = outcome {
            outputTokens = response.usage.outputTokens
            latency += config.msPerOutputToken * Double(outputTokens)
        }
        let drop = draws.drop < config.dropRate
        let delay = max(0, latency)
        let state = self.state
        let finish: () -> Void = { [self] in
            switch outcome {
            case .success(var response):
                response.latencyMs = Int(delay.rounded())
                if drop {
                    state.finish(reservedTokens: reserved, usedTokens: 0) { $0.drops += 1 }
                    self.dropConnection(context: context, head: head, body: response.bodyJSON.serialized())
                } else {
                    let used = Double(input) + Double(outputTokens) * config.burndown
                    state.finish(reservedTokens: reserved, usedTokens: used) { s in
                        s.accepted += 1
                        s.inputTokens += input
                        s.outputTokens += outputTokens
                    }
                    self.respond(context: context, head: head, status: .ok,
                                 headers: [("Content-Type", "application/json"),
                                           ("x-conveyor-emulator-model", request.modelId)],
                                 body: response.bodyJSON.serialized())
                }
            case .failure(let error):
                state.finish(reservedTokens: reserved, usedTokens: 0) { s in
                    if ["InternalServerException", "ServiceUnavailableException", "ModelTimeoutException"]
                        .contains(error.code) && EmulatedModel.directive("error", in: text) == nil
                    {
                        s.faults += 1
                    } else {
                        s.directedErrors += 1
                    }
                }
                self.fail(context: context, head: head, error)
            }
        }
        if delay < 0.5 {
            finish()
        } else {
            context.eventLoop.assumeIsolated().scheduleTask(in: .microseconds(Int64(delay * 1000))) { finish() }
        }
    }

    /// With keys configured, checks the request's signature; a bad one is answered (false).
    func signatureIsValid(context: ChannelHandlerContext, head: HTTPRequestHead, rawPath: String, query: String,
                          body: Data) -> Bool {
        let config = state.configuration
        guard let access = config.accessKey, let secret = config.secretKey else { return true }
        guard let error = SignatureCheck.verify(head: head, rawPath: rawPath, query: query, body: body,
                                                accessKey: access, secretKey: secret) else { return true }
        state.update { $0.signatureErrors += 1 }
        fail(context: context, head: head, error)
        return false
    }

    // MARK: Writing

    func fail(context: ChannelHandlerContext, head: HTTPRequestHead, _ error: EmulatedError) {
        let body = JSONValue.object(["message": .string(error.message)]).serialized()
        respond(context: context, head: head, status: HTTPResponseStatus(statusCode: error.status),
                headers: [("Content-Type", "application/json"),
                          ("x-amzn-ErrorType", "\(error.code):http://internal.amazon.com/coral/com.amazon.bedrock/")],
                body: body)
    }

    func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus,
                 headers: [(String, String)], body: Data) {
        guard context.channel.isActive else { return }
        var responseHeaders = NIOHTTP1.HTTPHeaders(headers)
        responseHeaders.add(name: "x-amzn-RequestId", value: UUID().uuidString.lowercased())
        responseHeaders.add(name: "Content-Length", value: String(body.count))
        let keepAlive = head.isKeepAlive
        if !keepAlive { responseHeaders.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status,
                                                             headers: responseHeaders))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Sends the head and half of the body, then closes the connection: a response cut short.
    func dropConnection(context: ChannelHandlerContext, head: HTTPRequestHead, body: Data) {
        guard context.channel.isActive else { return }
        var headers = NIOHTTP1.HTTPHeaders([("Content-Type", "application/json")])
        headers.add(name: "Content-Length", value: String(body.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))),
                      promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count / 2)
        buffer.writeBytes(body.prefix(body.count / 2))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer)))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// Checks a request's SigV4 signature with the emulator's keys.
enum SignatureCheck {
    static func verify(head: HTTPRequestHead, rawPath: String, query: String, body: Data, accessKey: String,
                       secretKey: String) -> EmulatedError? {
        guard let authorization = head.headers.first(name: "Authorization") else {
            return EmulatedError(code: "MissingAuthenticationTokenException", status: 403, message: "Missing Authentication Token")
        }
        // AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex
        guard authorization.hasPrefix("AWS4-HMAC-SHA256 ") else {
            return EmulatedError(code: "IncompleteSignatureException", status: 400, message: "Unsupported authorization type")
        }
        var fields: [String: String] = [:]
        for part in authorization.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespaces)
            if let eq = trimmed.firstIndex(of: "=") {
                fields[String(trimmed[..<eq])] = String(trimmed[trimmed.index(after: eq)...])
            }
        }
        guard let credential = fields["Credential"], let signedHeaders = fields["SignedHeaders"],
              let signature = fields["Signature"]
        else {
            return EmulatedError(code: "IncompleteSignatureException", status: 400,
                                 message: "Authorization header requires Credential, SignedHeaders and Signature.")
        }
        let scope = credential.split(separator: "/").map(String.init)
        guard scope.count == 5, scope[4] == "aws4_request" else {
            return EmulatedError(code: "IncompleteSignatureException", status: 400, message: "Malformed credential scope.")
        }
        guard scope[0] == accessKey else {
            return EmulatedError(code: "UnrecognizedClientException", status: 403,
                                 message: "The security token included in the request is invalid.")
        }
        guard let amzDate = head.headers.first(name: "X-Amz-Date"), let date = parseAmzDate(amzDate) else {
            return EmulatedError(code: "IncompleteSignatureException", status: 400, message: "X-Amz-Date is missing.")
        }
        var headers = AWSCore.HTTPHeaders()
        for name in signedHeaders.split(separator: ";").map(String.init) {
            for value in head.headers[name] { headers.add(name, value) }
        }
        let pairs: [(name: String, value: String?)] = query.isEmpty ? [] : query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            return (AWSPercentEncoding.decode(parts[0]), parts.count > 1 ? AWSPercentEncoding.decode(parts[1]) : "")
        }
        let hostHeader = head.headers.first(name: "Host") ?? "localhost"
        let request = HTTPRequest(method: head.method.rawValue, scheme: "http", host: hostHeader, path: rawPath,
                                  query: pairs, headers: headers, body: body)
        let signer = SigV4Signer(credentials: Credentials(accessKeyId: accessKey, secretAccessKey: secretKey),
                                 region: scope[2], service: scope[3])
        let expected = signer.signingResult(forPreparedRequest: request, date: date)
        guard expected.signature == signature, expected.signedHeaders == signedHeaders else {
            return EmulatedError(
                code: "InvalidSignatureException", status: 403,
                message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
        }
        return nil
    }

    static func parseAmzDate(_ text: String) -> Date? { Timestamp.parseCompact(text) }
}
