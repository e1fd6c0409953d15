import AWSCore
import Foundation

/// The Bedrock Runtime operations Conveyor uses. The engine depends on this protocol only.
public protocol BedrockRuntimeAPI: Sendable {
    /// Calls Converse. With `retry` false the client makes one attempt and the caller owns
    /// retrying (the runner does, so that a throttle is paced rather than slept through).
    func converse(_ request: ConverseRequest, retry: Bool) async throws -> ConverseResult
}

extension BedrockRuntimeAPI {
    public func converse(_ request: ConverseRequest) async throws -> ConverseResponse {
        try await converse(request, retry: true).response
    }
}

/// A Converse answer with the number of attempts it took.
public struct ConverseResult: Sendable, Equatable {
    public var response: ConverseResponse
    public var attempts: Int
    public init(response: ConverseResponse, attempts: Int) {
        self.response = response
        self.attempts = attempts
    }
}

/// Bedrock Runtime over REST-JSON, signed with the service name `bedrock`.
public final class BedrockRuntimeClient: BedrockRuntimeAPI {
    public static let serviceInfo = ServiceInfo(
        serviceId: "Bedrock Runtime", signingName: "bedrock", endpointPrefix: "bedrock-runtime",
        wireProtocol: .restJSON, signerOptions: .default)

    public let client: AWSClient

    public init(client: AWSClient) {
        self.client = client
    }

    /// `/model/{modelId}/converse` with the id encoded as one path segment (`:` → `%3A`, `/` → `%2F`).
    public static func conversePath(modelId: String) -> String {
        "/model/\(AWSPercentEncoding.encode(modelId, allowSlash: false))/converse"
    }

    /// The HTTP request for a Converse call, before signing.
    public func httpRequest(for request: ConverseRequest) -> HTTPRequest {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/json")
        return HTTPRequest(method: "POST", endpoint: client.endpoint, path: Self.conversePath(modelId: request.modelId),
                           headers: headers, body: request.bodyJSON.serialized())
    }

    public func converse(_ request: ConverseRequest, retry: Bool = true) async throws -> ConverseResult {
        let outcome = try await client.sendCounting(httpRequest(for: request), operation: "Converse", retry: retry)
        let response = outcome.value
        let requestId = response.headers["x-amzn-RequestId"]
        do {
            let body = try JSONValue.parse(response.body)
            return ConverseResult(response: try ConverseResponse(body: body, requestId: requestId),
                                  attempts: outcome.attempts)
        } catch {
            throw AWSError(kind: .service, service: client.service.serviceId, operation: "Converse",
                           status: response.status, code: "MalformedResponse",
                           message: "the answer could not be read: \(error)", requestId: requestId)
        }
    }
}
