import Foundation

/// Where a service is reached: scheme, host, optional port and a base path, parsed from a URL such
/// as `https://bedrock-runtime.eu-west-1.amazonaws.com` or `http://127.0.0.1:5000`.
public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?
    public var basePath: String
    /// True when the endpoint came from configuration (an `AWS_ENDPOINT_URL*` variable or the config
    /// file) rather than from the AWS host pattern; S3 then uses path-style addressing.
    public var isCustom: Bool

    public init(scheme: String, host: String, port: Int? = nil, basePath: String = "", isCustom: Bool = false) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
        self.isCustom = isCustom
    }

    /// Parses `scheme://host[:port][/path]`; nil when it is not an http(s) URL with a host, or
    /// when it holds blanks or control characters.
    public init?(url: String, isCustom: Bool = true) {
        let text = url.trimmingCharacters(in: .whitespaces)
        // Blanks or control characters inside (`http://h:9000 # note`) make it no URL.
        guard !text.contains(where: { $0.isWhitespace || ($0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false) })
        else { return nil }
        guard let schemeEnd = text.range(of: "://") else { return nil }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        var rest = text[schemeEnd.upperBound...]
        var basePath = ""
        if let slash = rest.firstIndex(of: "/") {
            basePath = String(rest[slash...])
            rest = rest[..<slash]
        }
        if rest.contains("?") || rest.contains("#") || rest.contains("@") { return nil }
        var host = String(rest)
        var port: Int?
        if host.hasPrefix("[") {  // IPv6 literal
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            } else if !after.isEmpty {
                return nil
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { return nil }
        if basePath == "/" { basePath = "" }
        self.init(scheme: scheme, host: host.lowercased(), port: port, basePath: basePath, isCustom: isCustom)
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(h)\(port.map { ":\($0)" } ?? "")\(basePath)"
    }
}
