import AWSCore
import Foundation

/// A private instance of Tests/servers/credentials_server.py (STS, container endpoint, IMDS) and
/// a private signature-checking proxy in front of moto that knows exactly the temporary keys the
/// stand-in hands out. A request the proxy accepts was therefore signed with a key, secret and
/// session token that came from the stand-in.
public struct CredentialStandIn: Sendable {
    /// The stand-in's base URL.
    public let url: URL
    /// The proxy that accepts only the issued keys.
    public let proxyURL: URL
    /// The keys handed out, in the order they are handed out (then again from the first).
    public let issued: [Credentials]
    /// A long-term key the stand-in accepts as the signer of AssumeRole (the proxy does not know it).
    public let source: Credentials
    public let webIdentityToken: String
    public let containerToken: String

    /// Starts both servers. Every instance has keys of its own.
    public static func start(keys: Int = 3, expiresIn: Int = 3600) throws -> CredentialStandIn {
        let tag = UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).uppercased()
        let issued = (1...keys).map { n in
            Credentials(accessKeyId: "ASIA\(tag)\(n)", secretAccessKey: "issued-zzsecretzz-\(tag)-\(n)",
                        sessionToken: "issued-zztokenzz-\(tag)-\(n)", source: "stand-in")
        }
        let source = Credentials(accessKeyId: "AKIA\(tag)SRC", secretAccessKey: "source-zzsecretzz-\(tag)",
                                 source: "stand-in source")
        let webIdentityToken = "web-identity-zztokenzz-\(tag)"
        let containerToken = "container-zztokenzz-\(tag)"
        let table = issued.map { "\($0.accessKeyId):\($0.secretAccessKey):\($0.sessionToken!)" }.joined(separator: ",")
        let url = try TestServers.launch(script: "credentials_server.py", arguments: [
            "--issue", table, "--source", "\(source.accessKeyId):\(source.secretAccessKey)",
            "--web-identity-token", webIdentityToken, "--container-token", containerToken,
            "--expires-in", String(expiresIn),
        ])
        let proxy = try TestServers.launch(script: "sigv4_proxy.py", arguments: [
            "--upstream", try TestAWS.motoURL().absoluteString, "--credentials", table,
        ])
        return CredentialStandIn(url: url, proxyURL: proxy, issued: issued, source: source,
                                 webIdentityToken: webIdentityToken, containerToken: containerToken)
    }

    /// The stand-in as an endpoint URL string (for `AWS_ENDPOINT_URL_STS` and the like).
    public var endpoint: String {
        url.absoluteString.hasSuffix("/") ? String(url.absoluteString.dropLast()) : url.absoluteString
    }

    /// How many times each call was answered: `AssumeRole`, `AssumeRoleWithWebIdentity`,
    /// `container`, `imds-token`, `imds-role`, `imds-credentials`, `imds-region`, and
    /// `NAME:rejected` for refused ones.
    public func calls() async throws -> [String: Int] {
        let object = try await get(url, "/__stand-in/stats")
        return object["calls"] as? [String: Int] ?? [:]
    }

    /// What the last answered call of `name` carried (STS parameters, the signing key, ...).
    public func last(_ name: String) async throws -> [String: String] {
        let object = try await get(url, "/__stand-in/stats")
        let last = (object["last"] as? [String: Any])?[name] as? [String: Any] ?? [:]
        return last.compactMapValues { value in
            if let text = value as? String { return text }
            if let number = value as? NSNumber { return number.stringValue }
            return nil
        }
    }

    /// Changes the stand-in's behaviour: `expiresIn`, `webIdentityToken`, `containerToken`,
    /// `imdsTokenStatus`, `imdsV1`.
    public func configure(_ settings: [String: any Sendable]) async throws {
        try await post(url, "/__stand-in/config", settings)
    }

    /// Makes the proxy answer `ExpiredToken` to requests signed with `accessKeyId`.
    public func expire(_ accessKeyId: String) async throws {
        try await post(proxyURL, "/__proxy/rules", ["expiredKeys": [accessKeyId]])
    }

    /// The proxy's counters: requests accepted per key, and expired-token answers given.
    public func proxyStats() async throws -> (acceptedByKey: [String: Int], rejected: Int, expiredAnswers: Int) {
        let object = try await get(proxyURL, "/__proxy/stats")
        return (object["accepted_by_key"] as? [String: Int] ?? [:], object["rejected"] as? Int ?? 0,
                object["expired_answers"] as? Int ?? 0)
    }

    private func get(_ base: URL, _ path: String) async throws -> [String: Any] {
        let endpoint = Endpoint(url: base.absoluteString)!
        let response = try await CurlTransport.shared.execute(HTTPRequest(method: "GET", endpoint: endpoint, path: path))
        guard response.status == 200 else { throw TestServerError(message: "GET \(path): \(response.status)") }
        return try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
    }

    private func post(_ base: URL, _ path: String, _ object: [String: any Sendable]) async throws {
        let endpoint = Endpoint(url: base.absoluteString)!
        let body = try JSONSerialization.data(withJSONObject: object)
        let response = try await CurlTransport.shared.execute(
            HTTPRequest(method: "POST", endpoint: endpoint, path: path, headers: ["Content-Type": "application/json"],
                        body: body))
        guard response.status == 200 else {
            let answer = String(decoding: response.body, as: UTF8.self)
            throw TestServerError(message: "POST \(path) refused: \(response.status) \(answer)")
        }
    }
}
