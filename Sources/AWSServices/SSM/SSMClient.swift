import Foundation

/// A Parameter Store parameter. Its description never shows the value of a SecureString.
public struct SSMParameter: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum ParameterType: String, Sendable, Equatable {
        case string = "String"
        case stringList = "StringList"
        case secureString = "SecureString"
    }

    public var name: String
    public var type: ParameterType
    public var value: String
    public var version: Int
    public var arn: String?
    public var lastModified: Date?
    public var dataType: String?
    public var selector: String?

    public var isSecure: Bool { type == .secureString }

    public var description: String {
        "SSMParameter(\(name), \(type.rawValue), version \(version), value: \(isSecure ? "<redacted>" : value))"
    }

    public var debugDescription: String { description }
}

/// The result of GetParameters: the parameters found and the names that were not.
public struct SSMParameters: Sendable, Equatable {
    public var parameters: [SSMParameter]
    public var invalidNames: [String]
}

/// The Parameter Store operations Conveyor uses. The engine depends on this protocol only.
public protocol SSMAPI: Sendable {
    func getParameter(name: String, withDecryption: Bool) async throws -> SSMParameter
    func getParameters(names: [String], withDecryption: Bool) async throws -> SSMParameters
    func getParametersByPathPage(path: String, recursive: Bool, withDecryption: Bool, nextToken: String?,
                                 maxResults: Int?) async throws -> (parameters: [SSMParameter], nextToken: String?)
}

extension SSMAPI {
    /// Every parameter under `path`, a page at a time as the sequence is consumed.
    public func getParametersByPath(path: String, recursive: Bool = true, withDecryption: Bool = true)
        -> SSMParameterListing
    {
        SSMParameterListing(ssm: self, path: path, recursive: recursive, withDecryption: withDecryption)
    }
}

/// A lazily paged GetParametersByPath. A page may be empty while more follow; the sequence goes on
/// until the service stops returning a NextToken.
public struct SSMParameterListing: AsyncSequence, Sendable {
    public typealias Element = SSMParameter
    let ssm: any SSMAPI
    let path: String
    let recursive: Bool
    let withDecryption: Bool

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listing: SSMParameterListing
        var buffer: [SSMParameter] = []
        var position = 0
        var token: String?
        var started = false

        public mutating func next() async throws -> SSMParameter? {
            while position >= buffer.count {
                if started && token == nil { return nil }
                let page = try await listing.ssm.getParametersByPathPage(
                    path: listing.path, recursive: listing.recursive, withDecryption: listing.withDecryption,
                    nextToken: token, maxResults: nil)
                started = true
                buffer = page.parameters
                position = 0
                token = page.nextToken
            }
            defer { position += 1 }
            return buffer[position]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listing: self) }
}

/// SSM over AWS JSON 1.1 with SigV4.
public final class SSMClient: SSMAPI {
    public static let serviceInfo = ServiceInfo(
        serviceId: "SSM", signingName: "ssm", endpointPrefix: "ssm", wireProtocol: .json, signerOptions: .default)

    public let client: AWSClient

    public init(client: AWSClient) {
        self.client = client
    }

    public func getParameter(name: String, withDecryption: Bool = true) async throws -> SSMParameter {
        let object = try await call("GetParameter", ["Name": name, "WithDecryption": withDecryption])
        guard let parameter = (object["Parameter"] as? [String: Any]).flatMap(Self.parameter) else {
            throw malformed("GetParameter", "the answer has no Parameter")
        }
        return parameter
    }

    /// Looks up any number of names, ten per call as the service allows; names that do not exist
    /// come back in `invalidNames` rather than as an error.
    public func getParameters(names: [String], withDecryption: Bool = true) async throws -> SSMParameters {
        var result = SSMParameters(parameters: [], invalidNames: [])
        var start = 0
        while start < names.count {
            let chunk = Array(names[start..<min(start + 10, names.count)])
            start += 10
            let object = try await call("GetParameters", ["Names": chunk, "WithDecryption": withDecryption])
            result.parameters += (object["Parameters"] as? [[String: Any]] ?? []).compactMap(Self.parameter)
            result.invalidNames += object["InvalidParameters"] as? [String] ?? []
        }
        return result
    }

    public func getParametersByPathPage(path: String, recursive: Bool = true, withDecryption: Bool = true,
                                        nextToken: String? = nil, maxResults: Int? = nil) async throws
        -> (parameters: [SSMParameter], nextToken: String?)
    {
        var input: [String: Any] = ["Path": path, "Recursive": recursive, "WithDecryption": withDecryption]
        if let nextToken { input["NextToken"] = nextToken }
        if let maxResults { input["MaxResults"] = maxResults }
        let object = try await call("GetParametersByPath", input)
        let parameters = (object["Parameters"] as? [[String: Any]] ?? []).compactMap(Self.parameter)
        let token = (object["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return (parameters, token)
    }

    func call(_ operation: String, _ input: [String: Any]) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: input, options: [.sortedKeys])
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/x-amz-json-1.1")
        headers.add("X-Amz-Target", "AmazonSSM.\(operation)")
        let request = HTTPRequest(method: "POST", endpoint: client.endpoint, path: "/", headers: headers, body: body)
        let response = try await client.send(request, operation: operation)
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            throw malformed(operation, "the answer is not a JSON object")
        }
        return object
    }

    static func parameter(_ object: [String: Any]) -> SSMParameter? {
        guard let name = object["Name"] as? String, let value = object["Value"] as? String else { return nil }
        let type = (object["Type"] as? String).flatMap(SSMParameter.ParameterType.init(rawValue:)) ?? .string
        var modified: Date?
        if let seconds = object["LastModifiedDate"] as? Double {
            modified = Date(timeIntervalSince1970: seconds)
        } else if let text = object["LastModifiedDate"] as? String {
            modified = HTTPDate.parseISO8601(text)
        }
        return SSMParameter(
            name: name, type: type, value: value, version: (object["Version"] as? Int) ?? 0,
            arn: object["ARN"] as? String, lastModified: modified, dataType: object["DataType"] as? String,
            selector: object["Selector"] as? String)
    }

    func malformed(_ operation: String, _ message: String) -> AWSError {
        AWSError(kind: .service, service: "SSM", operation: operation, status: nil, code: "MalformedResponse",
                 message: message)
    }
}
