import Foundation

/// The wire protocols of the services Conveyor calls, as far as errors are concerned.
public enum AWSProtocol: Sendable, Equatable {
    /// S3: `<Error><Code>…</Code><Message>…</Message></Error>`; HEAD errors have no body.
    case restXML
    /// SSM (AWS JSON 1.1): `{"__type": "…", "message": "…"}`.
    case json
    /// Bedrock: `x-amzn-ErrorType` header, then the body's `code`, then `__type`.
    case restJSON
    /// STS (query protocol): `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>`.
    case query
}

enum AWSErrorParser {
    /// Extra `<Error>` children that are safe to keep. `CanonicalRequest` and `StringToSign` are
    /// deliberately absent: they echo signed header values, including the session token.
    static let safeDetailNames: Set<String> = [
        "Region", "Endpoint", "Bucket", "BucketName", "Key", "Condition", "Resource", "ArgumentName",
        "ArgumentValue", "MaxSizeAllowed", "ProposedSize", "MinSizeAllowed", "UploadId", "PartNumber",
        "RequestTime", "ServerTime", "MaxAllowedSkewMilliseconds", "HostId", "originalStatusCode", "resourceName",
    ]

    /// Reads the error carried by a non-2xx (or S3 200-with-Error) response.
    static func parse(_ response: HTTPResponse, protocol proto: AWSProtocol, service: String, operation: String)
        -> AWSError
    {
        let status = response.status
        var code = String(status)
        var message = reasonPhrase(status)
        var details: [String: String] = [:]
        var requestId = response.headers["x-amzn-RequestId"] ?? response.headers["x-amz-request-id"]
            ?? response.headers["x-amzn-requestid"]
        let body = response.body
        let looksLikeHTML = body.prefix(64).range(of: Data("<html".utf8)) != nil
            || body.prefix(64).range(of: Data("<!DOCTYPE html".utf8)) != nil

        if body.isEmpty || (status >= 500 && looksLikeHTML) {
            // generic error: the status is the code (HEAD answers, load balancer pages)
        } else {
            switch proto {
            case .restXML, .query:
                if let root = try? XMLElement.parse(body) {
                    let error = root.localName == "Error" ? root : (root.child("Error") ?? root)
                    if let c = error.text(of: "Code"), !c.isEmpty { code = c }
                    if let m = error.text(of: "Message") { message = m }
                    if requestId == nil { requestId = error.text(of: "RequestId") }
                    for child in error.children where safeDetailNames.contains(child.localName) {
                        details[child.localName] = child.text
                    }
                }
            case .json, .restJSON:
                let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
                if let m = (object["message"] ?? object["Message"]) as? String { message = withoutCanonicalRequest(m) }
                var found: String?
                if proto == .restJSON {
                    found = response.headers["x-amzn-ErrorType"] ?? (object["code"] ?? object["Code"]) as? String
                        ?? object["__type"] as? String
                } else {
                    found = object["__type"] as? String ?? response.headers["x-amzn-ErrorType"]
                }
                if let found, !found.isEmpty { code = sanitize(found) }
                for (key, value) in object where safeDetailNames.contains(key) {
                    if let s = value as? String { details[key] = s } else if let n = value as? NSNumber {
                        details[key] = n.stringValue
                    }
                }
            }
        }
        if let region = response.headers["x-amz-bucket-region"] { details["Region"] = region }
        return AWSError(
            kind: AWSError.classify(code: code, status: status), service: service, operation: operation,
            status: status, code: code, message: message, requestId: requestId, details: details,
            retryAfter: retryAfter(response.headers))
    }

    /// JSON services answer a signature mismatch with the canonical request and string to sign in
    /// the message (`The Canonical String for this request should have been ...`); the canonical
    /// request holds signed header values, the session token among them, so that part is cut.
    static func withoutCanonicalRequest(_ message: String) -> String {
        guard let cut = message.range(of: "The Canonical String for this request") else { return message }
        return message[..<cut.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            + " (the canonical request the service computed is left out: it holds signed header values)"
    }

    /// `ThrottlingException:http://internal…` → `ThrottlingException`; `com.amazonaws.ssm#X` → `X`.
    static func sanitize(_ code: String) -> String {
        var c = Substring(code)
        if let colon = c.firstIndex(of: ":") { c = c[..<colon] }
        if let hash = c.lastIndex(of: "#") { c = c[c.index(after: hash)...] }
        return String(c).trimmingCharacters(in: .whitespaces)
    }

    /// `x-amz-retry-after` (milliseconds) or `Retry-After` (seconds), capped at 20 minutes.
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        if let ms = headers["x-amz-retry-after"].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), ms >= 0 {
            return .milliseconds(min(ms, 1_200_000))
        }
        if let s = headers["Retry-After"].flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), s >= 0 {
            return .milliseconds(Int(min(s, 1200) * 1000))
        }
        return nil
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Payload Too Large"
        case 416: return "Range Not Satisfiable"
        case 424: return "Failed Dependency"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "HTTP \(status)"
        }
    }
}
