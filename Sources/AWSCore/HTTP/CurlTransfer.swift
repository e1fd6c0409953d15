import Dispatch
import Foundation
internal import CCurl

/// One request in flight: its easy handle, the request body being sent, the response being
/// collected, and when it was last active (for the read timeout, which the loop enforces).
///
/// Not Sendable: it is created, used and released on its `CurlLoop`'s queue only. libcurl reaches it
/// through `CURLOPT_PRIVATE` (one `passRetained`, balanced by `release()`) and through the unretained
/// `WRITEDATA`/`HEADERDATA`/`READDATA`/`SEEKDATA`/`PREREQDATA` pointers, which that retain covers.
final class CurlTransfer {
    let id: UInt64
    let easy: UnsafeMutableRawPointer
    private unowned let loop: CurlLoop
    private let completionQueue: DispatchQueue
    private let completion: @Sendable (Result<HTTPResponse, TransportError>) -> Void
    private var completed = false
    private var retainedByCurl = false

    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let requestBody: Data
    private var uploadOffset = 0

    private var responseFields: [(String, String)] = []
    private var responseBody = Data()
    /// False for HEAD: its Content-Length describes a body that never comes.
    private let expectsBody: Bool

    /// The read timeout in nanoseconds; 0 when there is none.
    private let readTimeoutNanos: UInt64
    /// When a byte was last received or sent (uptime nanoseconds).
    private var lastActivity: UInt64 = 0
    /// Set by CURLOPT_PREREQFUNCTION: a connection is ready and the request is about to be sent.
    private var connected = false

    init(
        id: UInt64, loop: CurlLoop, request: HTTPRequest, timeouts: HTTPTimeouts, options: CurlTransport.Options,
        queue: DispatchQueue, completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void
    ) throws(TransportError) {
        guard let easy = curl_easy_init() else {
            throw TransportError(kind: .other, message: "curl_easy_init failed", requestSent: false)
        }
        self.id = id
        self.easy = easy
        self.loop = loop
        completionQueue = queue
        self.completion = completion
        requestBody = request.body
        expectsBody = request.method.uppercased() != "HEAD"
        readTimeoutNanos = timeouts.read > .zero ? timeouts.read.nanoseconds : 0
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        try configure(request: request, timeouts: timeouts, options: options)
    }

    deinit {
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    // MARK: - Options

    private func set(_ option: CURLoption, _ value: Int) throws(TransportError) {
        try check(ccurl_setopt_long(easy, option, value), option)
    }

    private func set(_ option: CURLoption, _ value: String) throws(TransportError) {
        try check(ccurl_setopt_str(easy, option, value), option)
    }

    private func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) throws(TransportError) {
        try check(ccurl_setopt_ptr(easy, option, pointer), option)
    }

    private func check(_ rc: CURLcode, _ option: CURLoption) throws(TransportError) {
        guard rc != CURLE_OK else { return }
        let message = "curl_easy_setopt(\(option.rawValue)): " + String(cString: curl_easy_strerror(rc))
        throw TransportError(kind: .other, code: Int32(rc.rawValue), message: message, requestSent: false)
    }

    private func configure(request: HTTPRequest, timeouts: HTTPTimeouts, options: CurlTransport.Options) throws(TransportError) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        try set(CURLOPT_URL, request.url)
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_PATH_AS_IS, 1)  // the path goes out byte for byte, as it was signed
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try set(CURLOPT_CONNECTTIMEOUT_MS, max(1, timeouts.connect.milliseconds))
        try set(CURLOPT_SSL_VERIFYPEER, 1)
        try set(CURLOPT_SSL_VERIFYHOST, 2)
        if let ca = options.caBundlePath { try set(CURLOPT_CAINFO, ca) }
        if options.http2 {
            try set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
            // Wait for a connection that may turn out to multiplex rather than open another. Only
            // over TLS: 2TLS never multiplexes plain http, and curl learns that only from the first
            // response, so with PIPEWAIT a slow first request would hold back every other one.
            if request.scheme.lowercased() == "https" {
                try set(CURLOPT_PIPEWAIT, 1)
                // libcurl 7.88's HTTP/2 code can leave the last bytes of some multiplexed streams
                // undelivered (all bytes read off the socket, transfers never done), with its
                // default 16 KiB receive buffer; a plain C multi loop shows it too. With curl's own
                // tool's 100 KiB it did not happen in 300 runs. The buffer exists per transfer in
                // flight, and only for https.
                try set(CURLOPT_BUFFERSIZE, 100 * 1024)
            }
        } else {
            try set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
        }
        if options.tcpKeepAlive {
            try set(CURLOPT_TCP_KEEPALIVE, 1)
            try set(CURLOPT_TCP_KEEPIDLE, max(1, Int(options.tcpKeepAliveIdle.components.seconds)))
            try set(CURLOPT_TCP_KEEPINTVL, max(1, Int(options.tcpKeepAliveInterval.components.seconds)))
        }

        try set(CURLOPT_WRITEDATA, pointer: me)
        try check(ccurl_setopt_datafn(easy, CURLOPT_WRITEFUNCTION) { data, size, count, transfer in
            Unmanaged<CurlTransfer>.fromOpaque(transfer!).takeUnretainedValue().received(data, size * count)
        }, CURLOPT_WRITEFUNCTION)
        try set(CURLOPT_HEADERDATA, pointer: me)
        try check(ccurl_setopt_datafn(easy, CURLOPT_HEADERFUNCTION) { data, size, count, transfer in
            Unmanaged<CurlTransfer>.fromOpaque(transfer!).takeUnretainedValue().receivedHeader(data, size * count)
        }, CURLOPT_HEADERFUNCTION)
        try set(CURLOPT_PREREQDATA, pointer: me)
        try check(ccurl_setopt_prereqfn(easy) { transfer, _, _, _, _ in
            Unmanaged<CurlTransfer>.fromOpaque(transfer!).takeUnretainedValue().connectionReady()
            return CURL_PREREQFUNC_OK
        }, CURLOPT_PREREQFUNCTION)

        // The method. HEAD must be NOBODY: a custom "HEAD" waits for the advertised body.
        let method = request.method.uppercased()
        let sendsBody = !request.body.isEmpty || method == "PUT" || method == "POST" || method == "PATCH"
        if method == "HEAD" {
            try set(CURLOPT_NOBODY, 1)
        } else if sendsBody {
            // POST mode with a read callback: Content-Length from POSTFIELDSIZE, the bytes copied out of
            // `requestBody` as curl asks, and a seek callback so that curl can rewind when it resends
            // on a fresh connection after a reused one died.
            try set(CURLOPT_POST, 1)
            try check(ccurl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)),
                      CURLOPT_POSTFIELDSIZE_LARGE)
            try set(CURLOPT_READDATA, pointer: me)
            try check(ccurl_setopt_datafn(easy, CURLOPT_READFUNCTION) { buffer, size, count, transfer in
                Unmanaged<CurlTransfer>.fromOpaque(transfer!).takeUnretainedValue().send(into: buffer, size * count)
            }, CURLOPT_READFUNCTION)
            try set(CURLOPT_SEEKDATA, pointer: me)
            try check(ccurl_setopt_seekfn(easy) { transfer, offset, origin in
                Unmanaged<CurlTransfer>.fromOpaque(transfer!).takeUnretainedValue().seek(to: offset, origin: origin)
            }, CURLOPT_SEEKFUNCTION)
            if method != "POST" { try set(CURLOPT_CUSTOMREQUEST, method) }
        } else {
            try set(CURLOPT_HTTPGET, 1)
            if method != "GET" { try set(CURLOPT_CUSTOMREQUEST, method) }
        }

        // Headers: exactly the request's. curl's own defaults are removed ("Name:" deletes one): no
        // `Expect: 100-continue` (it would stall bodies over 1 MiB for a second), no form Content-Type
        // on POST-mode requests (SigV4 signs the real one), no `Accept: */*`.
        var list: UnsafeMutablePointer<curl_slist>?
        func append(_ line: String) throws(TransportError) {
            guard let grown = curl_slist_append(list, line) else {
                throw TransportError(kind: .other, message: "curl_slist_append failed", requestSent: false)
            }
            list = grown
        }
        do throws(TransportError) {
            for field in request.headers {
                guard Self.isValidHeader(field) else {
                    // The value is not shown: it may be a secret.
                    throw TransportError(kind: .other, message: "invalid request header '\(Self.printableName(field.name))'",
                                         requestSent: false)
                }
                // "Name;" sends a header with an empty value; "Name:" would delete it.
                try append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
            }
            for name in ["Expect", "Content-Type", "Accept"] where !request.headers.contains(name) {
                try append("\(name):")
            }
        } catch {
            curl_slist_free_all(list)
            throw error
        }
        headerList = list
        try check(ccurl_setopt_slist(easy, CURLOPT_HTTPHEADER, list), CURLOPT_HTTPHEADER)
    }

    /// A header curl can send as given: a token name, and no CR, LF or NUL anywhere.
    static func isValidHeader(_ field: HTTPHeaders.Field) -> Bool {
        guard !field.name.isEmpty else { return false }
        let nameOK = field.name.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: ":") && byte != UInt8(ascii: ";")
        }
        let valueOK = !field.value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
        return nameOK && valueOK
    }

    private static func printableName(_ name: String) -> String {
        String(name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }

    // MARK: - Ownership

    /// Hands libcurl its reference (CURLOPT_PRIVATE), just before the handle is added.
    func attach() {
        precondition(!retainedByCurl)
        retainedByCurl = true
        ccurl_setopt_ptr(easy, CURLOPT_PRIVATE, Unmanaged.passRetained(self).toOpaque())
    }

    /// Balances `attach()`, once the handle is out of the multi handle.
    func release() {
        precondition(retainedByCurl, "transfer released twice")
        retainedByCurl = false
        Unmanaged.passUnretained(self).release()
    }

    /// Sends the result to the caller's queue (at the end of the loop's turn); later calls do nothing.
    func complete(_ result: Result<HTTPResponse, TransportError>) {
        guard !completed else { return }
        completed = true
        let completion = completion
        loop.deliver(on: completionQueue) { completion(result) }
    }

    // MARK: - libcurl callbacks (on the loop's queue, inside a curl call)

    private func noteActivity() {
        lastActivity = DispatchTime.now().uptimeNanoseconds
    }

    private func received(_ data: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        noteActivity()
        responseBody.append(UnsafeRawBufferPointer(start: data, count: count).assumingMemoryBound(to: UInt8.self))
        return count
    }

    /// One header line, CRLF included. Each status line (`HTTP/...`) starts a new block, since
    /// `100 Continue` and other interim responses come first.
    private func receivedHeader(_ data: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        noteActivity()
        // Bytes, not Foundation strings: this runs for every header line of every response.
        var bytes = UnsafeRawBufferPointer(start: data, count: count)[...]
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes = bytes.dropLast() }
        guard let first = bytes.first else { return count }
        if bytes.starts(with: "HTTP/".utf8) {
            responseFields.removeAll()
            return count
        }
        func trimmed(_ part: Slice<UnsafeRawBufferPointer>) -> String {
            var part = part
            while let b = part.first, b == 0x20 || b == 0x09 { part = part.dropFirst() }
            while let b = part.last, b == 0x20 || b == 0x09 { part = part.dropLast() }
            return String(decoding: part, as: UTF8.self)
        }
        if first == 0x20 || first == 0x09 {  // obsolete line folding: continues the previous value
            if !responseFields.isEmpty {
                let more = trimmed(bytes)
                responseFields[responseFields.count - 1].1 += responseFields[responseFields.count - 1].1.isEmpty ? more : " " + more
            }
            return count
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return count }
        let name = String(decoding: bytes[..<colon], as: UTF8.self)
        let value = trimmed(bytes[(colon + 1)...])
        responseFields.append((name, value))
        // Room for the announced body up front (up to 64 MiB: a bogus length must not allocate much).
        if expectsBody, name.caseInsensitiveEquals("content-length"), let length = Int(value), length > responseBody.count {
            responseBody.reserveCapacity(min(length, 64 << 20))
        }
        return count
    }

    private func send(into buffer: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        noteActivity()
        let count = min(capacity, requestBody.count - uploadOffset)
        guard count > 0 else { return 0 }
        let start = requestBody.startIndex + uploadOffset
        requestBody.copyBytes(to: UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: UInt8.self),
                              from: start..<(start + count))
        uploadOffset += count
        return count
    }

    private func seek(to offset: curl_off_t, origin: Int32) -> Int32 {
        guard origin == SEEK_SET, offset >= 0, offset <= requestBody.count else { return CURL_SEEKFUNC_CANTSEEK }
        uploadOffset = Int(offset)
        return CURL_SEEKFUNC_OK
    }

    /// A connection is ready and the request is about to go out: the read timeout starts now.
    private func connectionReady() {
        connected = true
        noteActivity()
        if let deadline = idleDeadline { loop.armIdleTimer(at: deadline) }
    }

    // MARK: - Read timeout

    /// When the read timeout expires unless a byte is received or sent first (uptime nanoseconds);
    /// nil before a connection is ready for the request, or without a read timeout.
    var idleDeadline: UInt64? {
        connected && readTimeoutNanos > 0 ? lastActivity + readTimeoutNanos : nil
    }

    var readTimeoutText: String {
        let milliseconds = readTimeoutNanos / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }

    // MARK: - Results

    /// False only when it is certain that no byte of the request reached the server: no connection
    /// was ever ready for it (CURLOPT_PREREQFUNCTION never ran) and curl counted no request bytes.
    var requestMayHaveBeenSent: Bool {
        var size = 0
        ccurl_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &size)
        return connected || size > 0
    }

    /// The outcome of a transfer libcurl finished with `code`.
    func result(for code: CURLcode) -> Result<HTTPResponse, TransportError> {
        guard code == CURLE_OK else {
            let buffered = String(cString: errorBuffer)
            let message = buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
            return .failure(CurlErrors.error(
                code: Int32(code.rawValue), message: message, connected: connected,
                requestSent: requestMayHaveBeenSent))
        }
        var status = 0
        ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: HTTPHeaders(responseFields), body: responseBody))
    }
}

extension Duration {
    /// Whole milliseconds, rounded down; saturates instead of overflowing.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? Int.min : Int.max }
        return Int(clamping: ms + attoseconds / 1_000_000_000_000_000)
    }

    /// Nanoseconds, for a positive duration; saturates at about 146 years, so that adding it to
    /// an uptime cannot overflow.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let cap = UInt64.max / 4
        let (ns, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow || ns > cap { return cap }
        return ns + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
