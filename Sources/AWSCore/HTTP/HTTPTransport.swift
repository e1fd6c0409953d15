import Dispatch
import Foundation

/// A failure of the network itself: nothing (or nothing complete) came back from the server.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The host name did not resolve.
        case dns
        /// The connection was refused or could not be made.
        case connect
        /// Connecting took longer than the connect timeout.
        case connectTimeout
        /// The server went silent for longer than the read timeout.
        case readTimeout
        /// The TLS handshake or certificate check failed.
        case tls
        /// The connection was reset or closed before a complete response arrived.
        case reset
        /// The request was cancelled by the caller or the transport was shut down.
        case cancelled
        /// Anything else (a malformed URL, an internal libcurl error).
        case other
    }

    public var kind: Kind
    /// libcurl's CURLcode, or 0 when the error did not come from libcurl.
    public var code: Int32
    public var message: String
    /// False when it is certain that no byte of the request reached the server (DNS failure,
    /// refused or timed-out connect), so that even a non-idempotent request may be sent again.
    public var requestSent: Bool

    public init(kind: Kind, code: Int32 = 0, message: String, requestSent: Bool) {
        self.kind = kind
        self.code = code
        self.message = message
        self.requestSent = requestSent
    }

    /// Whether a retry may succeed: everything but cancellation and local/bad-URL errors.
    public var isTransient: Bool {
        switch kind {
        case .dns, .connect, .connectTimeout, .readTimeout, .reset: return true
        case .tls: return code == 35  // handshake failure; a certificate problem (60) is not transient
        case .cancelled, .other: return false
        }
    }

    /// Whether the failure was a timeout (botocore charges these 10 retry-quota tokens).
    public var isTimeout: Bool { kind == .connectTimeout || kind == .readTimeout }

    public var description: String { "\(kind.rawValue) error: \(message)" }
}

/// Sends HTTP requests. Implementations must carry many requests at once without a thread each.
public protocol HTTPTransport: Sendable {
    /// Starts `request`; `completion` runs exactly once, on `queue`.
    func execute(
        _ request: HTTPRequest, timeouts: HTTPTimeouts, queue: DispatchQueue,
        completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void
    )

    /// Sends `request` and suspends until the response (or a transport error) arrives. A
    /// requirement, so that a transport can resume the caller without a hop through a completion
    /// queue (the default below makes one).
    func execute(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws(TransportError) -> HTTPResponse
}

extension HTTPTransport {
    /// Sends `request` and suspends until the response (or a transport error) arrives.
    public func execute(_ request: HTTPRequest, timeouts: HTTPTimeouts) async throws(TransportError) -> HTTPResponse {
        let result: Result<HTTPResponse, TransportError> = await withCheckedContinuation { continuation in
            execute(request, timeouts: timeouts, queue: transportCompletionQueue) { result in
                continuation.resume(returning: result)
            }
        }
        return try result.get()
    }
}

extension HTTPTransport {
    /// `execute(_:timeouts:)` with the default timeouts.
    public func execute(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse {
        try await execute(request, timeouts: .default)
    }
}

/// Completions of the async wrapper only resume continuations; one shared concurrent queue is enough.
let transportCompletionQueue = DispatchQueue(label: "conveyor.transport.completions", attributes: .concurrent)
