import AWSCore
import Foundation

/// A private instance of `Tests/servers/fault_proxy.py`: a loopback proxy that answers some
/// requests with errors, resets their connections, slows them or holds them, by rules set over
/// HTTP, and counts what it let through (PUTs per key among them).
public struct FaultProxy: Sendable {
    public let url: URL

    /// Starts a proxy in front of `upstream` (moto, the signature-checking proxy, ...).
    public static func start(upstream: URL) throws -> FaultProxy {
        FaultProxy(url: try TestServers.launch(script: "fault_proxy.py", arguments: ["--upstream", upstream.absoluteString]))
    }

    /// What a rule does to the requests it takes (see fault_proxy.py).
    public enum Action: String, Sendable {
        case error, reset, resetAfter = "reset-after", slow, hold
    }

    public struct Rule: Sendable {
        public var action: Action
        public var method: String?
        /// A regular expression searched in the request's decoded path.
        public var path: String?
        /// A regular expression searched in the request's decoded query.
        public var query: String?
        public var status = 500
        public var code = "InternalError"
        public var delayMs = 0
        /// The share of matching requests this rule takes.
        public var rate = 1.0
        /// Uses before the rule ends; nil for no limit.
        public var times: Int?

        public init(_ action: Action, method: String? = nil, path: String? = nil, query: String? = nil, status: Int = 500,
                    code: String = "InternalError", delayMs: Int = 0, rate: Double = 1, times: Int? = nil) {
            self.action = action
            self.method = method
            self.path = path
            self.query = query
            self.status = status
            self.code = code
            self.delayMs = delayMs
            self.rate = rate
            self.times = times
        }

        var json: [String: Any] {
            var object: [String: Any] = ["action": action.rawValue, "status": status, "code": code, "delayMs": delayMs,
                                         "rate": rate]
            if let method { object["method"] = method }
            if let path { object["path"] = path }
            if let query { object["query"] = query }
            if let times { object["times"] = times }
            return object
        }
    }

    /// Replaces the rules in force. `maxConsecutive` lets a request through after that many faults
    /// in a row on its method and path.
    public func configure(_ rules: [Rule], seed: Int = 1, maxConsecutive: Int? = nil) async throws {
        var object: [String: Any] = ["seed": seed, "rules": rules.map(\.json)]
        if let maxConsecutive { object["maxConsecutive"] = maxConsecutive }
        _ = try await call("POST", "/__fault/rules", body: try JSONSerialization.data(withJSONObject: object))
    }

    /// Ends every hold (the held requests' connections are reset, never forwarded).
    public func release() async throws {
        _ = try await call("POST", "/__fault/release")
    }

    public struct Stats: Sendable {
        public var requests: Int
        public var forwarded: Int
        public var faults: [String: Int]
        /// Requests held now, and ever.
        public var holding: Int
        public var held: Int
        /// PUT requests seen, and PUTs the upstream answered with 2xx (writes that took effect), by decoded path.
        public var puts: [String: Int]
        public var written: [String: Int]
        /// Requests each rule took, in order.
        public var matched: [Int]

        public var totalFaults: Int { faults.values.reduce(0, +) }
    }

    public func stats() async throws -> Stats {
        let body = try await call("GET", "/__fault/stats")
        let o = try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
        return Stats(requests: o["requests"] as? Int ?? 0, forwarded: o["forwarded"] as? Int ?? 0,
                     faults: o["faults"] as? [String: Int] ?? [:], holding: o["holding"] as? Int ?? 0,
                     held: o["held"] as? Int ?? 0, puts: o["puts"] as? [String: Int] ?? [:],
                     written: o["written"] as? [String: Int] ?? [:], matched: o["matched"] as? [Int] ?? [])
    }

    func call(_ method: String, _ path: String, body: Data = Data()) async throws -> Data {
        let endpoint = Endpoint(url: url.absoluteString)!
        let response = try await CurlTransport.shared.execute(
            HTTPRequest(method: method, endpoint: endpoint, path: path, headers: ["Content-Type": "application/json"],
                        body: body))
        guard response.status == 200 else {
            throw TestServerError(message: "fault proxy \(method) \(path): \(response.status) "
                                  + String(decoding: response.body, as: UTF8.self))
        }
        return response.body
    }
}
