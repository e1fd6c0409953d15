/// How libcurl's result codes become `TransportError`s (reference/libcurl-dispatch.md §4, retry
/// classification). Codes are the numeric `CURLcode` values of libcurl 7.88.
enum CurlErrors {
    /// The kind of failure `code` reports. `connected` says whether a connection was ready for the
    /// request (CURLOPT_PREREQFUNCTION ran): a timeout before that is a connect timeout (the TLS
    /// handshake included), after it a read timeout.
    static func kind(code: Int32, connected: Bool) -> TransportError.Kind {
        switch code {
        case 5, 6:  // COULDNT_RESOLVE_PROXY, COULDNT_RESOLVE_HOST
            return .dns
        case 7:  // COULDNT_CONNECT: refused, unreachable, or no fd left (EMFILE)
            return .connect
        case 28:  // OPERATION_TIMEDOUT
            return connected ? .readTimeout : .connectTimeout
        case 35, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98:
            // SSL_CONNECT_ERROR, SSL_ENGINE_*, SSL_CERTPROBLEM, SSL_CIPHER, PEER_FAILED_VERIFICATION,
            // USE_SSL_FAILED, SSL_CACERT_BADFILE, SSL_SHUTDOWN_FAILED, SSL_CRL_BADFILE, SSL_ISSUER_ERROR,
            // SSL_PINNEDPUBKEYNOTMATCH, SSL_INVALIDCERTSTATUS, SSL_CLIENTCERT
            return .tls
        case 16, 18, 52, 55, 56, 92:
            // HTTP2, PARTIAL_FILE, GOT_NOTHING, SEND_ERROR, RECV_ERROR (reset by peer), HTTP2_STREAM
            return .reset
        case 42:  // ABORTED_BY_CALLBACK
            return .cancelled
        default:  // bad URL or protocol (1, 3), our own bugs (23, 26, 65), out of memory (27), ...
            return .other
        }
    }

    /// The error for a transfer that libcurl ended with `code`.
    static func error(code: Int32, message: String, connected: Bool, requestSent: Bool) -> TransportError {
        TransportError(kind: kind(code: code, connected: connected), code: code, message: message, requestSent: requestSent)
    }
}
