import Foundation

/// An ordered list of header fields. Names compare case-insensitively; the order and the
/// spelling given are kept for the wire.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var fields: [Field] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        for (name, value) in pairs { add(name, value) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name, value) }
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public var count: Int { fields.count }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        get { fields.first { $0.name.caseInsensitiveEquals(name) }?.value }
        set {
            if let newValue { replace(name, newValue) } else { remove(name) }
        }
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { $0.name.caseInsensitiveEquals(name) }
    }

    /// Appends a field, keeping any earlier ones of the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Sets `name` to a single value, in the position of its first occurrence.
    public mutating func replace(_ name: String, _ value: String) {
        guard let first = fields.firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) else {
            add(name, value)
            return
        }
        fields[first].value = value
        var index = fields.count - 1
        while index > first {
            if fields[index].name.caseInsensitiveEquals(name) { fields.remove(at: index) }
            index -= 1
        }
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.caseInsensitiveEquals(name) }
    }

    /// Header names and values, with the values of headers that carry secrets replaced.
    public var description: String {
        fields.map { "\($0.name): \(HTTPHeaders.isSensitive($0.name) ? "<redacted>" : $0.value)" }
            .joined(separator: "\n")
    }

    /// Headers whose values must never be logged.
    public static func isSensitive(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == "authorization" || lower == "x-amz-security-token"
            || lower == "x-aws-ec2-metadata-token" || lower.hasSuffix("-authorization-token")
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && lowercased() == other.lowercased()
    }
}

/// One HTTP request as it goes on the wire. `path` is already percent-encoded, exactly as it is
/// sent and (for S3) signed; `query` holds raw, unencoded names and values, which are encoded once
/// with the RFC 3986 unreserved set when the URL is built. A nil value is a bare name (`?uploads`).
public struct HTTPRequest: Sendable {
    public var method: String
    public var scheme: String
    public var host: String
    public var port: Int?
    public var path: String
    public var query: [(name: String, value: String?)]
    public var headers: HTTPHeaders
    public var body: Data

    public init(
        method: String, scheme: String = "https", host: String, port: Int? = nil, path: String = "/",
        query: [(name: String, value: String?)] = [], headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()
    ) {
        self.method = method
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path.isEmpty ? "/" : path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Builds a request from an endpoint URL such as `https://s3.eu-west-1.amazonaws.com` or
    /// `http://127.0.0.1:4566/base`, appending `path` (already encoded) to the endpoint's own path.
    public init(method: String, endpoint: Endpoint, path: String, query: [(name: String, value: String?)] = [],
                headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()) {
        var base = endpoint.basePath
        if base.hasSuffix("/") { base.removeLast() }
        let joined = base + (path.hasPrefix("/") ? path : "/" + path)
        self.init(method: method, scheme: endpoint.scheme, host: endpoint.host, port: endpoint.port, path: joined,
                  query: query, headers: headers, body: body)
    }

    /// The port when it differs from the scheme's default.
    public var explicitPort: Int? {
        guard let port else { return nil }
        if scheme == "https" && port == 443 { return nil }
        if scheme == "http" && port == 80 { return nil }
        return port
    }

    /// The Host header value: host, plus `:port` when the port is not the scheme's default.
    public var hostHeader: String {
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if let port = explicitPort { return "\(bracketed):\(port)" }
        return bracketed
    }

    /// The query as sent: each name and value encoded with the unreserved set, in the given order.
    public var encodedQuery: String {
        query.map { pair in
            let name = AWSPercentEncoding.encode(pair.name, allowSlash: false)
            guard let value = pair.value else { return name }
            return name + "=" + AWSPercentEncoding.encode(value, allowSlash: false)
        }.joined(separator: "&")
    }

    /// The full URL as sent.
    public var url: String {
        let q = encodedQuery
        return "\(scheme)://\(hostHeader)\(path)\(q.isEmpty ? "" : "?" + q)"
    }
}

/// A response: status, headers and the whole body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Connect and read timeouts of one request. `read` is the longest the connection may stay
/// silent once the request is sent (botocore's read_timeout), not a limit on the whole exchange.
public struct HTTPTimeouts: Sendable, Equatable {
    public var connect: Duration
    public var read: Duration

    public init(connect: Duration = .seconds(5), read: Duration = .seconds(60)) {
        self.connect = connect
        self.read = read
    }

    /// The seed's defaults, as botocore's: 5 s to connect, 60 s of silence.
    public static let `default` = HTTPTimeouts()
}
