import AWSCore
import Foundation

/// A Bedrock batch inference job as CreateModelInvocationJob takes it (`modelInvocationType`
/// Converse: each record's `modelInput` is a Converse body).
public struct ModelInvocationJobRequest: Sendable, Equatable {
    public var jobName: String
    public var roleArn: String
    public var modelId: String
    /// `s3://bucket/prefix/` or `s3://bucket/file.jsonl`.
    public var inputS3Uri: String
    /// `s3://bucket/prefix/`: Bedrock writes under `<prefix><jobId>/`.
    public var outputS3Uri: String
    /// Same token, same job: a resubmission returns the first job's ARN.
    public var clientRequestToken: String?
    public var timeoutDurationInHours: Int?
    public var modelInvocationType: String

    public init(jobName: String, roleArn: String, modelId: String, inputS3Uri: String, outputS3Uri: String,
                clientRequestToken: String? = nil, timeoutDurationInHours: Int? = nil,
                modelInvocationType: String = "Converse") {
        self.jobName = jobName
        self.roleArn = roleArn
        self.modelId = modelId
        self.inputS3Uri = inputS3Uri
        self.outputS3Uri = outputS3Uri
        self.clientRequestToken = clientRequestToken
        self.timeoutDurationInHours = timeoutDurationInHours
        self.modelInvocationType = modelInvocationType
    }

    public var bodyJSON: JSONValue {
        var o: JSONObject = [
            "jobName": .string(jobName), "roleArn": .string(roleArn), "modelId": .string(modelId),
            "inputDataConfig": ["s3InputDataConfig": ["s3Uri": .string(inputS3Uri), "s3InputFormat": "JSONL"]],
            "outputDataConfig": ["s3OutputDataConfig": ["s3Uri": .string(outputS3Uri)]],
            "modelInvocationType": .string(modelInvocationType),
        ]
        if let clientRequestToken { o["clientRequestToken"] = .string(clientRequestToken) }
        if let timeoutDurationInHours { o["timeoutDurationInHours"] = .integer(Int64(timeoutDurationInHours)) }
        return .object(o)
    }

    public init(json: JSONValue) throws(ConverseDecodingError) {
        func text(_ value: JSONValue?, _ name: String) throws(ConverseDecodingError) -> String {
            guard let s = value?.stringValue, !s.isEmpty else { throw ConverseDecodingError("\(name) is required") }
            return s
        }
        self.init(jobName: try text(json["jobName"], "jobName"), roleArn: try text(json["roleArn"], "roleArn"),
                  modelId: try text(json["modelId"], "modelId"),
                  inputS3Uri: try text(json["inputDataConfig"]?["s3InputDataConfig"]?["s3Uri"],
                                       "inputDataConfig.s3InputDataConfig.s3Uri"),
                  outputS3Uri: try text(json["outputDataConfig"]?["s3OutputDataConfig"]?["s3Uri"],
                                        "outputDataConfig.s3OutputDataConfig.s3Uri"),
                  clientRequestToken: json["clientRequestToken"]?.stringValue,
                  timeoutDurationInHours: json["timeoutDurationInHours"]?.intValue,
                  modelInvocationType: json["modelInvocationType"]?.stringValue ?? "InvokeModel")
    }
}

/// A batch inference job as GetModelInvocationJob describes it.
public struct ModelInvocationJob: Sendable, Equatable {
    /// The status enum; Completed, PartiallyCompleted, Failed, Stopped and Expired are final.
    public enum Status: String, Sendable, Equatable, CaseIterable {
        case submitted = "Submitted", validating = "Validating", scheduled = "Scheduled", inProgress = "InProgress"
        case completed = "Completed", partiallyCompleted = "PartiallyCompleted", failed = "Failed"
        case stopping = "Stopping", stopped = "Stopped", expired = "Expired"

        public var isFinal: Bool { [.completed, .partiallyCompleted, .failed, .stopped, .expired].contains(self) }
    }

    public var jobArn: String
    public var jobName: String
    public var modelId: String
    public var status: Status
    /// The reason of a failure.
    public var message: String?
    public var outputS3Uri: String?
    public var inputS3Uri: String?
    public var totalRecordCount: Int?
    public var processedRecordCount: Int?
    public var successRecordCount: Int?
    public var errorRecordCount: Int?

    public init(jobArn: String, jobName: String, modelId: String, status: Status, message: String? = nil,
                outputS3Uri: String? = nil, inputS3Uri: String? = nil, totalRecordCount: Int? = nil,
                processedRecordCount: Int? = nil, successRecordCount: Int? = nil, errorRecordCount: Int? = nil) {
        self.jobArn = jobArn
        self.jobName = jobName
        self.modelId = modelId
        self.status = status
        self.message = message
        self.outputS3Uri = outputS3Uri
        self.inputS3Uri = inputS3Uri
        self.totalRecordCount = totalRecordCount
        self.processedRecordCount = processedRecordCount
        self.successRecordCount = successRecordCount
        self.errorRecordCount = errorRecordCount
    }

    /// The last segment of the ARN: the folder Bedrock writes the job's outputs in.
    public var jobId: String { String(jobArn.split(separator: "/").last ?? Substring(jobArn)) }

    public init(json: JSONValue) throws(ConverseDecodingError) {
        guard let arn = json["jobArn"]?.stringValue else { throw ConverseDecodingError("jobArn is missing") }
        guard let raw = json["status"]?.stringValue, let status = Status(rawValue: raw) else {
            throw ConverseDecodingError("status '\(json["status"]?.stringValue ?? "")' is not a batch job status")
        }
        self.init(jobArn: arn, jobName: json["jobName"]?.stringValue ?? "", modelId: json["modelId"]?.stringValue ?? "",
                  status: status, message: json["message"]?.stringValue,
                  outputS3Uri: json["outputDataConfig"]?["s3OutputDataConfig"]?["s3Uri"]?.stringValue,
                  inputS3Uri: json["inputDataConfig"]?["s3InputDataConfig"]?["s3Uri"]?.stringValue,
                  totalRecordCount: json["totalRecordCount"]?.intValue,
                  processedRecordCount: json["processedRecordCount"]?.intValue,
                  successRecordCount: json["successRecordCount"]?.intValue,
                  errorRecordCount: json["errorRecordCount"]?.intValue)
    }
}

/// The Bedrock control-plane operations of batch inference. The engine depends on this protocol only.
public protocol BedrockBatchAPI: Sendable {
    /// Returns the job's ARN; with a `clientRequestToken` already used, the first job's.
    func createModelInvocationJob(_ request: ModelInvocationJobRequest) async throws -> String
    func getModelInvocationJob(_ identifier: String) async throws -> ModelInvocationJob
    func stopModelInvocationJob(_ identifier: String) async throws
}

/// Bedrock's control plane (`bedrock.{region}.amazonaws.com`, AWS_ENDPOINT_URL_BEDROCK) over
/// REST-JSON, signed with the service name `bedrock`.
public final class BedrockClient: BedrockBatchAPI {
    public static let serviceInfo = ServiceInfo(
        serviceId: "Bedrock", signingName: "bedrock", endpointPrefix: "bedrock",
        wireProtocol: .restJSON, signerOptions: .default)

    public let client: AWSClient

    public init(client: AWSClient) {
        self.client = client
    }

    /// `/model-invocation-job/{jobIdentifier}` with the ARN encoded as one path segment.
    public static func jobPath(_ identifier: String) -> String {
        "/model-invocation-job/\(AWSPercentEncoding.encode(identifier, allowSlash: false))"
    }

    public func createModelInvocationJob(_ request: ModelInvocationJobRequest) async throws -> String {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/json")
        let body = try await call(HTTPRequest(method: "POST", endpoint: client.endpoint, path: "/model-invocation-job",
                                              headers: headers, body: request.bodyJSON.serialized()),
                                  operation: "CreateModelInvocationJob")
        guard let arn = body["jobArn"]?.stringValue else {
            throw malformed("CreateModelInvocationJob", "no jobArn in the answer")
        }
        return arn
    }

    public func getModelInvocationJob(_ identifier: String) async throws -> ModelInvocationJob {
        let body = try await call(HTTPRequest(method: "GET", endpoint: client.endpoint, path: Self.jobPath(identifier)),
                                  operation: "GetModelInvocationJob")
        do {
            return try ModelInvocationJob(json: body)
        } catch {
            throw malformed("GetModelInvocationJob", "\(error)")
        }
    }

    public func stopModelInvocationJob(_ identifier: String) async throws {
        _ = try await call(HTTPRequest(method: "POST", endpoint: client.endpoint, path: Self.jobPath(identifier) + "/stop"),
                           operation: "StopModelInvocationJob")
    }

    func call(_ request: HTTPRequest, operation: String) async throws -> JSONValue {
        let response = try await client.send(request, operation: operation)
        if response.body.isEmpty { return .object([:]) }
        do {
            return try JSONValue.parse(response.body)
        } catch {
            throw malformed(operation, "the answer is not JSON: \(error)")
        }
    }

    func malformed(_ operation: String, _ message: String) -> AWSError {
        AWSError(kind: .service, service: client.service.serviceId, operation: operation, status: 200,
                 code: "MalformedResponse", message: message, requestId: nil)
    }
}
