import Dispatch
import Foundation
import Synchronization
internal import CCurl

/// `curl_global_init` and `SIGPIPE`, once per process, before the first multi handle exists.
/// `CURLOPT_NOSIGNAL` keeps curl from touching signals itself, so a peer's reset must not be allowed
/// to kill the process through `SIGPIPE`.
let curlGlobalSetUp: Bool = {
    signal(SIGPIPE, SIG_IGN)
    return curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
}()

/// One libcurl multi handle driven by Dispatch, after curl's `multi_socket` model
/// (docs/examples/ephiperfifo.c) and the design in reference/libcurl-dispatch.md:
///
/// - curl's sockets sit in one epoll set, `epfd`, watched by a single `DispatchSourceRead`;
///   `CURLMOPT_SOCKETFUNCTION` only edits that set (`EPOLL_CTL_DEL` is synchronous, so an fd is never
///   watched after curl closes it, and a reused fd number is simply added again);
/// - one persistent `DispatchSourceTimer` is re-scheduled from `CURLMOPT_TIMERFUNCTION`;
/// - the read (idle) timeout: each transfer records when it last received or sent a byte, and one
///   more timer, due at the earliest of their deadlines, ends the transfers that stayed silent;
/// - each transfer is a `CurlTransfer` held by `active` and, through `CURLOPT_PRIVATE`, by one
///   `passRetained` that `detach(_:)` balances exactly once.
///
/// **Sendable invariant** (why `@unchecked Sendable` is sound): every mutable property, and every
/// `curl_*` call on `multi` or on an easy handle added to it, happens on `queue`. curl's callbacks
/// run synchronously inside those calls, so they are on `queue` too (`dispatchPrecondition` at each
/// entry). Other threads only call `submit`, `cancel`, `closeWhenIdle` and `shutdown`, which hop onto
/// `queue` with `async`/`sync`; `nextID` is atomic. The loop is never torn down in `deinit`:
/// `shutdown()` runs `curl_multi_cleanup` while the loop is alive (its callbacks fire during cleanup),
/// and until then the loop keeps itself alive through `keepAlive`.
final class CurlLoop: @unchecked Sendable {
    enum State { case running, closingWhenIdle, shutDown }

    let queue: DispatchQueue
    let options: CurlTransport.Options
    private let nextID = Atomic<UInt64>(1)
    private let epfd: Int32
    private var multi: UnsafeMutableRawPointer?
    private var epollSource: (any DispatchSourceRead)?
    private var timer: (any DispatchSourceTimer)?
    /// The read-timeout timer, shared by all transfers, and when it is due.
    private var idleTimer: (any DispatchSourceTimer)?
    private var idleDeadline: UInt64?
    /// A timeout action is queued for the next turn (curl asked for timeout 0).
    private var timeoutQueued = false
    private var active: [UInt64: CurlTransfer] = [:]
    private var state = State.running
    /// True while a `curl_*` call on the multi handle runs; guards against re-entering libcurl from
    /// one of its callbacks, which curl forbids.
    private var inCurl = false
    private var keepAlive: CurlLoop?
    /// Completions produced during the current turn of `queue`, sent when the turn ends.
    private var outbox = CompletionOutbox()
    private static let maxEvents = 256
    private let readyFDs = UnsafeMutablePointer<Int32>.allocate(capacity: maxEvents)
    private let readyMasks = UnsafeMutablePointer<Int32>.allocate(capacity: maxEvents)

    init(options: CurlTransport.Options) {
        precondition(curlGlobalSetUp, "curl_global_init failed")
        self.options = options
        queue = EventQueues.serial("conveyor.curl-loop")
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epfd >= 0, "epoll_create1 failed: errno \(errno)")
        multi = makeMulti()
        // The handlers are written here, in a nonisolated method, so they never inherit the isolation
        // (say @MainActor) of the code that created the transport.
        let source = DispatchSource.makeReadSource(fileDescriptor: epfd, queue: queue)
        source.setEventHandler { [unowned self] in
            socketsReady()
            outbox.send()
        }
        source.setCancelHandler { [self] in
            close(epfd)
            readyFDs.deallocate()
            readyMasks.deallocate()
            keepAlive = nil
        }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [unowned self] in
            socketAction(CURL_SOCKET_TIMEOUT, 0)
            outbox.send()
        }
        timer.schedule(deadline: .distantFuture)
        let idleTimer = DispatchSource.makeTimerSource(queue: queue)
        idleTimer.setEventHandler { [unowned self] in
            idleTimerFired()
            outbox.send()
        }
        idleTimer.schedule(deadline: .distantFuture)
        epollSource = source
        self.timer = timer
        self.idleTimer = idleTimer
        keepAlive = self
        source.resume()
        timer.resume()
        idleTimer.resume()
    }

    private func makeMulti() -> UnsafeMutableRawPointer {
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        let me = Unmanaged.passUnretained(self).toOpaque()  // safe: the loop outlives its multi (shutdown())
        ccurl_multi_setopt_ptr(multi, CURLMOPT_SOCKETDATA, me)
        ccurl_multi_setopt_socketfn(multi) { _, fd, what, loop, _ in
            Unmanaged<CurlLoop>.fromOpaque(loop!).takeUnretainedValue().socketChanged(fd, what)
            return 0
        }
        ccurl_multi_setopt_ptr(multi, CURLMOPT_TIMERDATA, me)
        ccurl_multi_setopt_timerfn(multi) { _, milliseconds, loop in
            Unmanaged<CurlLoop>.fromOpaque(loop!).takeUnretainedValue().timerChanged(milliseconds)
            return 0
        }
        ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, options.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING)
        ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(0, options.maxConnectionsPerHost))
        return multi
    }

    // MARK: - Entry points (any thread)

    /// Queues `request`; returns the transfer's id, for `cancel(_:)`.
    func submit(
        _ request: HTTPRequest, timeouts: HTTPTimeouts, queue completionQueue: DispatchQueue,
        completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void
    ) -> UInt64 {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        queue.async { [self] in
            start(id: id, request: request, timeouts: timeouts, queue: completionQueue, completion: completion)
            outbox.send()
        }
        return id
    }

    /// Ends transfer `id` with `.cancelled`, if it is still running.
    func cancel(_ id: UInt64) {
        queue.async { [self] in
            guard let transfer = active[id] else { return }
            detachAndComplete(transfer, .cancelled, message: "the request was cancelled")
            outbox.send()
        }
    }

    /// Shuts the loop down once no transfer is left (the transport's last reference is gone).
    func closeWhenIdle() {
        queue.async { [self] in
            guard state == .running else { return }
            state = .closingWhenIdle
            if active.isEmpty { shutdownOnQueue() }
        }
    }

    /// Cancels every transfer, then frees the multi handle, its connections and the event sources.
    /// Blocks until done; must not be called on the loop's queue.
    func shutdown() {
        dispatchPrecondition(condition: .notOnQueue(queue))
        queue.sync { shutdownOnQueue() }
    }

    /// `shutdown()` without blocking: `done` runs on the loop's queue once it is over.
    func shutdown(then done: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            shutdownOnQueue()
            done()
        }
    }

    // MARK: - On the queue

    private func start(
        id: UInt64, request: HTTPRequest, timeouts: HTTPTimeouts, queue completionQueue: DispatchQueue,
        completion: @escaping @Sendable (Result<HTTPResponse, TransportError>) -> Void
    ) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard state != .shutDown, let multi else {
            let error = TransportError(kind: .cancelled, message: "the transport was shut down", requestSent: false)
            outbox.add(on: completionQueue) { completion(.failure(error)) }
            return
        }
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(
                id: id, loop: self, request: request, timeouts: timeouts, options: options,
                queue: completionQueue, completion: completion)
        } catch {
            outbox.add(on: completionQueue) { completion(.failure(error)) }
            return
        }
        active[id] = transfer
        transfer.attach()
        inCurl = true
        let rc = curl_multi_add_handle(multi, transfer.easy)
        inCurl = false
        if rc != CURLM_OK {
            active[id] = nil
            transfer.release()
            let message = "curl_multi_add_handle: " + String(cString: curl_multi_strerror(rc))
            transfer.complete(.failure(TransportError(kind: .other, message: message, requestSent: false)))
        }
    }

    private func socketChanged(_ fd: Int32, _ what: Int32) {
        dispatchPrecondition(condition: .onQueue(queue))
        // A failure here (ENOMEM, or an fd epoll cannot watch) leaves that transfer to its connect or
        // read timeout; returning -1 instead would abort every transfer in the multi handle.
        _ = ccurl_epoll_watch(epfd, fd, what)
    }

    /// CURLMOPT_TIMERFUNCTION: curl wants `socket_action(CURL_SOCKET_TIMEOUT)` in `milliseconds`
    /// (-1: no timeout needed). Every positive timeout re-arms the timer: curl reports each deadline
    /// once (it skips the callback when its earliest deadline is unchanged), so a deadline that was
    /// not armed would never come back. -1 leaves the timer as it is, and 0 runs the action on the
    /// queue directly: an early or needless timeout action is harmless (curl finds nothing due, and
    /// reports its next deadline if that changed), and both spare a round trip through libdispatch's
    /// manager thread.
    private func timerChanged(_ milliseconds: Int) {
        dispatchPrecondition(condition: .onQueue(queue))
        if milliseconds < 0 { return }
        if milliseconds == 0 {
            // "As soon as possible": on a later turn of the queue, never from inside curl's callback.
            guard !timeoutQueued else { return }
            timeoutQueued = true
            queue.async { [self] in
                timeoutQueued = false
                socketAction(CURL_SOCKET_TIMEOUT, 0)
                outbox.send()
            }
            return
        }
        timer?.schedule(deadline: .now() + .milliseconds(milliseconds), leeway: .milliseconds(1))
    }

    private func socketsReady() {
        dispatchPrecondition(condition: .onQueue(queue))
        while multi != nil {
            let count = Int(ccurl_epoll_ready(epfd, readyFDs, readyMasks, Int32(Self.maxEvents)))
            for index in 0..<max(count, 0) {
                socketAction(readyFDs[index], readyMasks[index])
            }
            if count < Self.maxEvents { break }
        }
    }

    private func socketAction(_ fd: curl_socket_t, _ mask: Int32) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let multi else { return }
        precondition(!inCurl, "libcurl re-entered from one of its callbacks")
        var running: Int32 = 0
        inCurl = true
        let rc = curl_multi_socket_action(multi, fd, mask, &running)
        inCurl = false
        if rc != CURLM_OK {
            multiFailed(rc)
            return
        }
        drainMessages(multi)
    }

    private func drainMessages(_ multi: UnsafeMutableRawPointer) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result  // copied out: the message dies at remove_handle
            var pointer: UnsafeMutableRawPointer?
            ccurl_getinfo_ptr(easy, CURLINFO_PRIVATE, &pointer)
            guard let pointer else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(pointer).takeUnretainedValue()
            let result = transfer.result(for: code)
            detach(transfer)
            transfer.complete(result)
        }
        if state == .closingWhenIdle && active.isEmpty {
            queue.async { [self] in shutdownOnQueue() }
        }
    }

    /// Removes `transfer` from the multi handle and drops the loop's references to it, exactly once.
    private func detach(_ transfer: CurlTransfer) {
        dispatchPrecondition(condition: .onQueue(queue))
        guard active.removeValue(forKey: transfer.id) != nil else { return }
        if let multi {
            precondition(!inCurl, "libcurl re-entered from one of its callbacks")
            inCurl = true
            curl_multi_remove_handle(multi, transfer.easy)
            inCurl = false
        }
        transfer.release()
    }

    /// Ends a running transfer from outside libcurl: cancellation, read timeout, shutdown.
    /// Removing the easy handle produces no CURLMSG_DONE, so the completion is sent here.
    private func detachAndComplete(_ transfer: CurlTransfer, _ kind: TransportError.Kind, message: String) {
        let error = TransportError(kind: kind, message: message, requestSent: transfer.requestMayHaveBeenSent)
        detach(transfer)
        transfer.complete(.failure(error))
        if state == .closingWhenIdle && active.isEmpty {
            queue.async { [self] in shutdownOnQueue() }
        }
    }

    /// Queues `job` (a completion) for `queue`; it is sent when the current turn of the loop ends.
    func deliver(on queue: DispatchQueue, _ job: @escaping @Sendable () -> Void) {
        outbox.add(on: queue, job)
    }

    /// Makes sure the read-timeout timer fires by `deadline` (uptime nanoseconds). Transfers only
    /// record their activity; the timer is moved only when a deadline earlier than the armed one
    /// appears, and each expiry re-arms it for the earliest deadline left. One timer for all rather
    /// than a DispatchSourceTimer per transfer (as corelibs' URLSession has): installing and
    /// cancelling a source are each a round trip through libdispatch's manager thread, two per
    /// request, while recording a time stamp costs nothing.
    func armIdleTimer(at deadline: UInt64) {
        dispatchPrecondition(condition: .onQueue(queue))
        if let armed = idleDeadline, armed <= deadline { return }
        idleDeadline = deadline
        idleTimer?.schedule(deadline: DispatchTime(uptimeNanoseconds: deadline), leeway: .milliseconds(2))
    }

    /// Ends every transfer that has been silent for its read timeout; re-arms for the next one.
    private func idleTimerFired() {
        dispatchPrecondition(condition: .onQueue(queue))
        idleDeadline = nil
        let now = DispatchTime.now().uptimeNanoseconds
        var expired: [CurlTransfer] = []
        var next: UInt64?
        for transfer in active.values {
            guard let deadline = transfer.idleDeadline else { continue }
            if deadline <= now {
                expired.append(transfer)
            } else {
                next = min(next ?? deadline, deadline)
            }
        }
        for transfer in expired.sorted(by: { $0.id < $1.id }) {
            let message = "no data received or sent for \(transfer.readTimeoutText) (read timeout)"
            detachAndComplete(transfer, .readTimeout, message: message)
        }
        if let next { armIdleTimer(at: next) }
    }

    /// `curl_multi_socket_action` failed: every transfer is in an unknown state, so the multi handle
    /// is dead. Fail them all and carry on with a fresh one.
    private func multiFailed(_ rc: CURLMcode) {
        let message = "libcurl multi handle failed: " + String(cString: curl_multi_strerror(rc))
        for transfer in active.values.sorted(by: { $0.id < $1.id }) {
            detachAndComplete(transfer, .other, message: message)
        }
        if let multi {
            inCurl = true
            curl_multi_cleanup(multi)
            inCurl = false
        }
        multi = makeMulti()
    }

    private func shutdownOnQueue() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard state != .shutDown else { return }
        state = .shutDown
        for transfer in active.values.sorted(by: { $0.id < $1.id }) {
            detachAndComplete(transfer, .cancelled, message: "the transport was shut down")
        }
        if let multi {
            // Callbacks fire during cleanup (REMOVE for cached connections): the loop is alive.
            inCurl = true
            curl_multi_cleanup(multi)
            inCurl = false
            self.multi = nil
        }
        timer?.cancel()
        timer = nil
        idleTimer?.cancel()
        idleTimer = nil
        epollSource?.cancel()  // its cancel handler closes epfd and lets the loop go
        epollSource = nil
        outbox.send()
    }
}

/// Completions gathered during one turn of the loop's queue, sent at its end with one `async` per
/// destination queue, in order. A burst of responses then wakes the caller's queue a few times
/// instead of once per response.
struct CompletionOutbox {
    private var order: [ObjectIdentifier] = []
    private var batches: [ObjectIdentifier: (queue: DispatchQueue, jobs: [@Sendable () -> Void])] = [:]

    mutating func add(on queue: DispatchQueue, _ job: @escaping @Sendable () -> Void) {
        let key = ObjectIdentifier(queue)
        if batches[key] == nil {
            order.append(key)
            batches[key] = (queue, [job])
        } else {
            batches[key]?.jobs.append(job)
        }
    }

    mutating func send() {
        guard !order.isEmpty else { return }
        for key in order {
            guard let batch = batches[key] else { continue }
            let jobs = batch.jobs
            batch.queue.async {
                for job in jobs { job() }
            }
        }
        order.removeAll(keepingCapacity: true)
        batches.removeAll(keepingCapacity: true)
    }
}
