import Dispatch
import Foundation
import Testing
@testable import AWSCore

/// How CurlTransport fails: refused and timed-out connects, silent servers, resets, cancellation and
/// shutdown. Short timeouts (1 s) keep the suite quick; no test asserts a duration.
@Suite struct TransportFailureTests {
    let transport = CurlTransport()
    static let short = HTTPTimeouts(connect: .seconds(1), read: .seconds(1))

    // MARK: - Connecting

    @Test func refusedConnectIsConnectWithNothingSent() async throws {
        var request = try Fixture.request("POST", "/echo", body: Data("payload".utf8))
        request.port = try Fixture.closedPort()
        let error = try #require(await send(transport, request, timeouts: Self.short).failure)
        #expect(error.kind == .connect)
        #expect(error.code == 7)
        #expect(!error.requestSent)
        #expect(error.isTransient)
    }

    @Test func connectTimeoutIsConnectTimeoutWithNothingSent() async throws {
        // A loopback listener whose accept queue is full and which never accepts: SYNs are dropped.
        struct Backlog: Decodable { var port: Int }
        var request = try Fixture.request("PUT", "/echo", body: Data("payload".utf8))
        request.port = try await Fixture.json(Backlog.self, "/backlog").port
        let error = try #require(await send(transport, request, timeouts: Self.short).failure)
        #expect(error.kind == .connectTimeout)
        #expect(error.code == 28)
        #expect(!error.requestSent)
        #expect(error.isTimeout)
    }

    // MARK: - Reading

    @Test func silentServerIsReadTimeout() async throws {
        let error = try #require(await send(transport, try Fixture.request("GET", "/stall"), timeouts: Self.short).failure)
        #expect(error.kind == .readTimeout)
        #expect(error.requestSent)
        #expect(error.isTimeout)
        #expect(error.message.contains("read timeout"))
    }

    @Test func bodyThatStopsIsReadTimeout() async throws {
        let error = try #require(await send(transport, try Fixture.request("GET", "/slowbody"), timeouts: Self.short).failure)
        #expect(error.kind == .readTimeout)
        #expect(error.requestSent)
    }

    @Test func silenceAfterAnUploadIsReadTimeout() async throws {
        let body = sampleBody(3 * MiB)
        let error = try #require(await send(transport, try Fixture.request("PUT", "/stall", body: body), timeouts: Self.short).failure)
        #expect(error.kind == .readTimeout)
        #expect(error.requestSent)
    }

    @Test func eachRequestKeepsItsOwnReadTimeout() async throws {
        // One loop-wide timer serves every transfer's read deadline: silent requests with different
        // limits all end with a read timeout, while a slow but steady one in between completes.
        let drip = try Fixture.request("GET", "/drip", query: [("count", "8"), ("interval_ms", "250")])
        let stall = try Fixture.request("GET", "/stall")
        let delay = try Fixture.request("GET", "/delay", query: [("ms", "1200")])
        async let stalledShort = send(transport, stall, timeouts: Self.short)
        async let stalledLonger = send(transport, stall, timeouts: HTTPTimeouts(connect: .seconds(1), read: .milliseconds(1500)))
        async let dripping = send(transport, drip, timeouts: HTTPTimeouts(connect: .seconds(1), read: .seconds(1)))
        async let generous = send(transport, delay, timeouts: HTTPTimeouts(connect: .seconds(1), read: .seconds(3)))
        #expect(await stalledShort.failure?.kind == .readTimeout)
        #expect(await stalledLonger.failure?.kind == .readTimeout)
        #expect(try await dripping.get().body == Data("xxxxxxxx".utf8))
        #expect(try await generous.get().status == 200)
    }

    @Test func resetIsReset() async throws {
        let error = try #require(await send(transport, try Fixture.request("POST", "/reset", body: Data("x".utf8))).failure)
        #expect(error.kind == .reset)
        #expect(error.code == 56)
        #expect(error.requestSent)
        #expect(error.isTransient)
    }

    @Test func hangUpWithoutResponseIsReset() async throws {
        let error = try #require(await send(transport, try Fixture.request("GET", "/close")).failure)
        #expect(error.kind == .reset)
        #expect(error.code == 52)
        #expect(error.requestSent)
    }

    // MARK: - Completion contract

    @Test func everyCompletionRunsOnceOnItsQueue() async throws {
        var refused = try Fixture.request("GET", "/ok")
        refused.port = try Fixture.closedPort()
        let requests = [
            try Fixture.request("GET", "/ok"), try Fixture.request("GET", "/status/500"),
            try Fixture.request("GET", "/reset"), try Fixture.request("GET", "/close"),
            try Fixture.request("GET", "/stall"), refused,
            try Fixture.request("GET", "/echo", headers: ["Bad": "a\nb"]),
        ]
        let log = CompletionLog()
        await withTaskGroup(of: Void.self) { group in
            for request in requests {
                group.addTask { _ = await send(transport, request, timeouts: Self.short, log: log) }
            }
        }
        // A second completion would come right after the first; give it the chance to show up.
        try await Task.sleep(for: .milliseconds(300))
        #expect(log.calls == requests.count)
    }

    // MARK: - Cancellation and shutdown

    /// For requests the server never answers, which the test ends itself.
    static let patient = HTTPTimeouts(connect: .seconds(60), read: .seconds(3600))

    @Test func cancelEndsARequestOnce() async throws {
        let queue = DispatchQueue(label: "transport-tests.cancel")
        let log = CompletionLog()
        let (results, continuation) = AsyncStream.makeStream(of: Result<HTTPResponse, TransportError>.self)
        // A read timeout far beyond the test: on a slow run (a sanitizer, a loaded machine) the
        // default 60 s could pass before the cancel, and the request would end as a timeout.
        let handle = transport.start(try Fixture.request("GET", "/stall"), timeouts: Self.patient, queue: queue) { result in
            dispatchPrecondition(condition: .onQueue(queue))
            log.record()
            continuation.yield(result)
        }
        try await Task.sleep(for: .milliseconds(100))
        handle.cancel()
        handle.cancel()
        var iterator = results.makeAsyncIterator()
        let error = await iterator.next()?.failure
        #expect(error?.kind == .cancelled)
        #expect(error?.isTransient == false)
        try await Task.sleep(for: .milliseconds(200))
        #expect(log.calls == 1)
    }

    @Test func cancellingAFinishedRequestChangesNothing() async throws {
        let queue = DispatchQueue(label: "transport-tests.cancel-late")
        let log = CompletionLog()
        let (results, continuation) = AsyncStream.makeStream(of: Result<HTTPResponse, TransportError>.self)
        let handle = transport.start(try Fixture.request("GET", "/ok"), queue: queue) { result in
            log.record()
            continuation.yield(result)
        }
        var iterator = results.makeAsyncIterator()
        #expect(try await iterator.next()?.get().status == 200)
        handle.cancel()
        try await Task.sleep(for: .milliseconds(200))
        #expect(log.calls == 1)
    }

    @Test func cancellingTheTaskCancelsTheRequest() async throws {
        let request = try Fixture.request("GET", "/stall")
        let transport = transport
        let task = Task { try await transport.execute(request, timeouts: Self.patient) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.result
        #expect((result.failure as? TransportError)?.kind == .cancelled)
    }

    @Test func shutdownCancelsRequestsInFlight() async throws {
        let transport = CurlTransport()
        let log = CompletionLog()
        let id = UUID().uuidString
        let stall = try Fixture.request("GET", "/stall", query: [("id", id)])
        let queue = DispatchQueue(label: "transport-tests.shutdown")
        let (results, continuation) = AsyncStream.makeStream(of: Result<HTTPResponse, TransportError>.self)
        for _ in 0..<5 {
            transport.execute(stall, timeouts: Self.patient, queue: queue) { result in
                log.record()
                continuation.yield(result)
            }
        }
        // Wait until the server holds all five, so that they are truly in flight: a bounded wait
        // (a loaded machine may take seconds to get there), and the test stops if it never comes.
        let stalled = try Fixture.request("GET", "/stalled", query: [("id", id)])
        var held = false
        let deadline = ContinuousClock.now + .seconds(60)
        while !held && ContinuousClock.now < deadline {
            held = try await CurlTransport.shared.execute(stalled).body == Data("5".utf8)
            if !held { try await Task.sleep(for: .milliseconds(20)) }
        }
        try #require(held, "the fixture never held all five requests")
        await transport.shutdown()
        var iterator = results.makeAsyncIterator()
        for _ in 0..<5 {
            let error = try #require(await iterator.next()?.failure)
            #expect(error.kind == .cancelled)
            #expect(error.requestSent)
        }

        // Shut down means shut down, and saying it twice (here through the blocking call) is fine.
        shutDownBlocking(transport)
        let late = try #require(await send(transport, try Fixture.request("GET", "/ok")).failure)
        #expect(late.kind == .cancelled)
        #expect(!late.requestSent)
        try await Task.sleep(for: .milliseconds(200))
        #expect(log.calls == 5)
    }

    @Test func droppingTheTransportLetsRequestsFinish() async throws {
        let queue = DispatchQueue(label: "transport-tests.dropped")
        let status: Int? = await withCheckedContinuation { continuation in
            var transport: CurlTransport? = CurlTransport()
            transport?.execute(try! Fixture.request("GET", "/delay", query: [("ms", "200")]), timeouts: .default, queue: queue) {
                continuation.resume(returning: (try? $0.get())?.status)
            }
            transport = nil
        }
        #expect(status == 200)
    }

    // MARK: - Secrets

    @Test func errorsNeverCarryCredentials() async throws {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        var headers = HTTPHeaders()
        headers.add("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/eu-west-2/s3/aws4_request, Signature=\(secret)")
        headers.add("X-Amz-Security-Token", secret)
        var refused = try Fixture.request("GET", "/ok", headers: headers)
        refused.port = try Fixture.closedPort()
        var badHeader = try Fixture.request("GET", "/ok", headers: headers)
        badHeader.headers.add("X-Amz-Security-Token", secret + "\r\n")
        for request in [refused, badHeader, try Fixture.request("GET", "/reset", headers: headers)] {
            let error = try #require(await send(transport, request, timeouts: Self.short).failure)
            #expect(!error.description.contains(secret))
            #expect(!"\(error)".contains(secret))
        }
    }

    // MARK: - Classification (reference/libcurl-dispatch.md, §4)

    @Test func curlCodesMapToKinds() {
        let table: [(Int32, Bool, TransportError.Kind)] = [
            (6, false, .dns), (5, false, .dns), (7, false, .connect),
            (28, false, .connectTimeout), (28, true, .readTimeout),
            (35, false, .tls), (60, false, .tls), (58, false, .tls), (77, false, .tls),
            (52, true, .reset), (55, true, .reset), (56, true, .reset), (18, true, .reset),
            (16, true, .reset), (92, true, .reset),
            (42, true, .cancelled),
            (1, false, .other), (3, false, .other), (23, true, .other), (65, true, .other), (27, true, .other),
        ]
        for (code, connected, kind) in table {
            #expect(CurlErrors.kind(code: code, connected: connected) == kind, "CURLcode \(code)")
        }
        let handshake = CurlErrors.error(code: 35, message: "handshake", connected: false, requestSent: false)
        #expect(handshake.isTransient)
        let certificate = CurlErrors.error(code: 60, message: "certificate", connected: false, requestSent: false)
        #expect(!certificate.isTransient)
    }
}

/// The blocking `shutdown()`, called as a synchronous caller (a CLI's exit path) would.
private func shutDownBlocking(_ transport: CurlTransport) {
    transport.shutdown()
}
