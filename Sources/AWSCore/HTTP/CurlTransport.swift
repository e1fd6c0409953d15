import Dispatch
import Foundation
import Synchronization

/// HTTP over libcurl's `multi_socket` interface, driven from Dispatch: one multi handle, one serial
/// queue and one epoll set carry every request, so hundreds of requests in flight cost sockets, not
/// threads. Connections are kept and reused across requests (the multi handle's connection cache);
/// with HTTP/2, requests to one host share connections as streams.
///
/// One instance is meant to be shared by every client (`CurlTransport.shared`). TLS certificates and
/// host names are always verified.
///
/// Timeouts: `HTTPTimeouts.connect` limits each connection attempt (TLS handshake included; at
/// least 1 ms); `HTTPTimeouts.read` is the longest the transfer may stay silent — no byte received
/// or sent — once a connection is ready for it (zero or less: no read timeout). Time spent waiting
/// for a free connection (behind `maxConnectionsPerHost`) counts against neither. There is no limit
/// on the whole exchange.
///
/// What goes on the wire is the request's own headers plus `Host` and `Content-Length`: curl's
/// `Expect: 100-continue`, its form `Content-Type` for bodies and its `Accept: */*` are removed, and
/// the path is sent byte for byte (no dot-segment removal, no re-encoding). Header values are never
/// logged or put in error messages. Redirects are not followed; proxies come from the usual
/// `http_proxy`/`https_proxy`/`no_proxy` variables, as curl reads them.
///
/// `Sendable`: every stored property is immutable and Sendable; all mutable state lives in the
/// `CurlLoop`, which confines it to its serial queue.
public final class CurlTransport: HTTPTransport {
    /// Settings fixed for the life of a transport.
    public struct Options: Sendable, Equatable {
        /// Most connections open to one host at a time (`CURLMOPT_MAX_HOST_CONNECTIONS`); 0 means no
        /// limit. Requests beyond it wait for a connection (or, with HTTP/2, share one).
        public var maxConnectionsPerHost: Int
        /// HTTP/2 where the server offers it over TLS (ALPN), with requests multiplexed on shared
        /// connections; HTTP/1.1 otherwise. Plain `http://` is always HTTP/1.1.
        public var http2: Bool
        /// TCP keepalive probes on idle connections, so that long silent calls survive NAT timeouts.
        public var tcpKeepAlive: Bool
        public var tcpKeepAliveIdle: Duration
        public var tcpKeepAliveInterval: Duration
        /// A PEM file of CA certificates to trust instead of the system's (like `AWS_CA_BUNDLE`).
        public var caBundlePath: String?

        public init(
            maxConnectionsPerHost: Int = 32, http2: Bool = true, tcpKeepAlive: Bool = true,
            tcpKeepAliveIdle: Duration = .seconds(60), tcpKeepAliveInterval: Duration = .seconds(60),
            caBundlePath: String? = nil
        ) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.http2 = http2
            self.tcpKeepAlive = tcpKeepAlive
            self.tcpKeepAliveIdle = tcpKeepAliveIdle
            self.tcpKeepAliveInterval = tcpKeepAliveInterval
            self.caBundlePath = caBundlePath
        }
    }

    /// Cancels one request started with `start`.
    public struct Handle: Sendable {
        let loop: CurlLoop
        let id: UInt64

        /// Ends the request with `TransportError.Kind.cancelled`, unless it has already finished; its
        /// completion still runs exactly once.
        public func cancel() { loop.cancel(id) }
    }

    /// The process-wide transport with default options. It is never shut down by itself; a program
    /// that wants a clean exit calls `shutdown()` on it before `exit`.
    public static let shared = CurlTransport()

    public let options: Options
    let loop: CurlLoop

    public init(options: Options = Options()) {
        self.options = options
        loop = CurlLoop(options: options)
    }

    /// Requests still in flight when the last reference goes finish normally; the loop shuts down
    /// after them.
    deinit {
        loop.closeWhenIdle()
    }

    public func execute(
        _ request: HTTPRequest, timeouts: HTTPTimeouts, queue: DispatchQueue,
        completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void
    ) {
        start(request, timeouts: timeouts, queue: queue, completion: completion)
    }

    /// Starts `request`, like `execute(_:timeouts:queue:completion:)`, and returns a handle that can
    /// cancel it. `completion` runs exactly once, on `queue`.
    @discardableResult
    public func start(
        _ request: HTTPRequest, timeouts: HTTPTimeouts = .default, queue: DispatchQueue,
        completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void
    ) -> Handle {
        Handle(loop: loop, id: loop.submit(request, timeouts: timeouts, queue: queue, completion: completion))
    }

    /// Sends `request` and suspends until the response arrives; cancelling the task cancels the
    /// request (`TransportError.Kind.cancelled`). The caller is resumed from the transfer loop's
    /// own queue: resuming only enqueues the task, so no completion queue (and no thread of its
    /// own) stands between a response and its caller.
    public func execute(_ request: HTTPRequest, timeouts: HTTPTimeouts = .default) async throws(TransportError) -> HTTPResponse {
        let state = AsyncRequestState()
        let result: Result<HTTPResponse, TransportError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                state.start {
                    start(request, timeouts: timeouts, queue: loop.queue) { continuation.resume(returning: $0) }
                } orElse: {
                    continuation.resume(returning: .failure(
                        TransportError(kind: .cancelled, message: "the request was cancelled", requestSent: false)))
                }
            }
        } onCancel: {
            state.cancel()
        }
        return try result.get()
    }

    /// Cancels every request in flight (their completions run with `.cancelled`), closes every
    /// connection and frees libcurl's handles. Later requests fail at once with `.cancelled`.
    /// Blocks until done; safe to call more than once.
    public func shutdown() {
        loop.shutdown()
    }

    /// `shutdown()`, without blocking the calling thread.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.shutdown { continuation.resume() }
        }
    }
}

/// Links a task's cancellation to the request it started, whichever comes first.
private final class AsyncRequestState: Sendable {
    private enum State {
        case idle
        case started(CurlTransport.Handle)
        case cancelled
    }

    private let state = Mutex(State.idle)

    func start(_ start: () -> CurlTransport.Handle, orElse cancelled: () -> Void) {
        state.withLock { state in
            if case .cancelled = state {
                cancelled()
            } else {
                state = .started(start())
            }
        }
    }

    func cancel() {
        state.withLock { state in
            if case .started(let handle) = state { handle.cancel() }
            state = .cancelled
        }
    }
}
