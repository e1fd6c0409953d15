import Dispatch
import Foundation
import Testing
@testable import AWSCore

/// CurlTransport against the loopback fixture (Tests/servers/http_fixture.py): what goes on the
/// wire and what comes back. Real HTTP, no timing assertions.
@Suite struct TransportTests {
    let transport = CurlTransport()

    // MARK: - Bodies, both ways

    @Test(arguments: [0, 11, 2 * MiB, 20 * MiB])
    func uploadsArriveByteExact(size: Int) async throws {
        let body = sampleBody(size, seed: UInt32(size))
        for method in ["PUT", "POST"] {
            let headers: HTTPHeaders = ["Content-Type": "application/octet-stream"]
            let response = try await transport.execute(try Fixture.request(method, "/echo", headers: headers, body: body))
            let echo = try Echo(response)
            #expect(response.status == 200)
            #expect(echo.method == method)
            #expect(echo.bodyLength == size)
            #expect(echo.bodySha256 == sha256Hex(body))
            #expect(echo.values("Content-Length") == [String(size)])
            #expect(echo.contentType == "application/octet-stream")
            #expect(!echo.expect, "curl adds Expect: 100-continue to bodies over 1 MiB unless told not to")
        }
    }

    @Test(arguments: [0, 11, 2 * MiB, 20 * MiB])
    func bodiesRoundTrip(size: Int) async throws {
        let body = sampleBody(size, seed: UInt32(size) &+ 7)
        let response = try await transport.execute(try Fixture.request("PUT", "/reflect", body: body))
        #expect(response.status == 200)
        #expect(response.headers["X-Echo-Method"] == "PUT")
        #expect(response.body.count == size)
        #expect(sha256Hex(response.body) == sha256Hex(body))
    }

    @Test(arguments: [0, 11, 2 * MiB, 20 * MiB])
    func downloadsArriveByteExact(size: Int) async throws {
        let response = try await transport.execute(try Fixture.request("GET", "/big", query: [("bytes", String(size))]))
        #expect(response.status == 200)
        #expect(response.headers["Content-Length"] == String(size))
        #expect(response.body == patternBody(size))
    }

    @Test func sixtyFourMebibytesEachWay() async throws {
        let size = 64 * MiB
        let body = sampleBody(size, seed: 64)
        let echo = try Echo(try await transport.execute(try Fixture.request("POST", "/echo", body: body)))
        #expect(echo.bodyLength == size)
        #expect(echo.bodySha256 == sha256Hex(body))
        let download = try await transport.execute(try Fixture.request("GET", "/big", query: [("bytes", String(size))]))
        #expect(download.body.count == size)
        #expect(download.body == patternBody(size))
    }

    // MARK: - Methods

    @Test func headReturnsHeadersAndNoBody() async throws {
        // A HEAD sent as a custom method would wait for the 20 MiB it announces and hit the read timeout.
        let request = try Fixture.request("HEAD", "/big", query: [("bytes", String(20 * MiB))])
        let response = try await transport.execute(request, timeouts: HTTPTimeouts(connect: .seconds(5), read: .seconds(3)))
        #expect(response.status == 200)
        #expect(response.headers["Content-Length"] == String(20 * MiB))
        #expect(response.body.isEmpty)
    }

    @Test func getAndDeleteWithoutBodySendNoBodyHeaders() async throws {
        for method in ["GET", "DELETE"] {
            let echo = try Echo(try await transport.execute(try Fixture.request(method, "/echo")))
            #expect(echo.method == method)
            #expect(echo.bodyLength == 0)
            #expect(echo.values("Content-Length").isEmpty)
            #expect(echo.values("Transfer-Encoding").isEmpty)
            #expect(echo.contentType == nil)
        }
    }

    @Test func deleteAndPatchCarryABody() async throws {
        let body = Data(#"{"Objects":[{"Key":"a"}]}"#.utf8)
        for method in ["DELETE", "PATCH"] {
            let headers: HTTPHeaders = ["Content-Type": "application/json"]
            let echo = try Echo(try await transport.execute(try Fixture.request(method, "/echo", headers: headers, body: body)))
            #expect(echo.method == method)
            #expect(echo.bodySha256 == sha256Hex(body))
            #expect(echo.contentType == "application/json")
        }
    }

    @Test func emptyPutAndPostSendContentLengthZero() async throws {
        for method in ["PUT", "POST"] {
            let echo = try Echo(try await transport.execute(try Fixture.request(method, "/echo")))
            #expect(echo.method == method)
            #expect(echo.values("Content-Length") == ["0"])
            #expect(echo.contentType == nil, "curl's form Content-Type must not be added")
        }
    }

    // MARK: - Request line and headers

    @Test(arguments: ["application/x-amz-json-1.1", "application/json; charset=utf-8", "text/plain;charset=UTF-8"])
    func contentTypeGoesOutExactly(contentType: String) async throws {
        let headers: HTTPHeaders = ["Content-Type": contentType]
        let echo = try Echo(try await transport.execute(try Fixture.request("POST", "/echo", headers: headers, body: Data("{}".utf8))))
        #expect(echo.values("Content-Type") == [contentType])
    }

    @Test func hostHeaderCarriesThePort() async throws {
        let echo = try Echo(try await transport.execute(try Fixture.request("GET", "/echo")))
        #expect(echo.host == "127.0.0.1:\(try Fixture.port())")
        #expect(echo.values("Host").count == 1)
    }

    @Test func pathAndQueryGoOutByteExact() async throws {
        // The path is already encoded (as S3 signs it); the query is encoded once by HTTPRequest.
        let path = "/echo/dir%2Fa%3Ab%2Bc/x/../y/%7E~"
        let request = try Fixture.request("GET", path, query: [("key", "a/b:c+d e"), ("uploads", nil), ("empty", "")])
        let echo = try Echo(try await transport.execute(request))
        #expect(echo.target == path + "?key=a%2Fb%3Ac%2Bd%20e&uploads&empty=")
    }

    @Test func requestHeadersGoOutAsGivenAndNothingElse() async throws {
        var headers = HTTPHeaders()
        headers.add("X-Amz-Date", "20261130T020000Z")
        headers.add("X-Empty", "")
        headers.add("X-Repeated", "one")
        headers.add("X-Repeated", "two")
        headers.add("User-Agent", "conveyor-tests")
        let echo = try Echo(try await transport.execute(try Fixture.request("GET", "/echo", headers: headers)))
        let names = echo.headers.map { $0[0] }
        #expect(names == ["Host", "X-Amz-Date", "X-Empty", "X-Repeated", "X-Repeated", "User-Agent"])
        #expect(echo.values("X-Empty") == [""])
        #expect(echo.values("X-Repeated") == ["one", "two"])
    }

    @Test func invalidHeadersAreRefusedBeforeAnythingIsSent() async throws {
        let headers: HTTPHeaders = ["X-Injected": "value\r\nX-Evil: yes"]
        let result = await send(transport, try Fixture.request("GET", "/echo", headers: headers))
        let error = try #require(result.failure)
        #expect(error.kind == .other)
        #expect(!error.requestSent)
        #expect(!error.message.contains("X-Evil"))
    }

    // MARK: - Responses

    @Test func responseHeadersKeepOrderAndRepeats() async throws {
        let response = try await transport.execute(try Fixture.request("GET", "/headers"))
        #expect(response.headers.values("X-Multi") == ["one", "two", "three"])
        #expect(response.headers.values("set-cookie") == ["a=1", "b=2"])
        #expect(response.headers["X-Spaces"] == "padded value")
        let names = response.headers.map(\.name).filter { $0.hasPrefix("X-M") || $0 == "Set-Cookie" }
        #expect(names == ["X-Multi", "Set-Cookie", "X-Multi", "Set-Cookie", "X-Multi"])
        #expect(response.body == Data("headers".utf8))
    }

    @Test(arguments: [200, 201, 204, 400, 403, 404, 429, 500, 503])
    func statusComesBackAsIs(status: Int) async throws {
        let response = try await transport.execute(try Fixture.request("GET", "/status/\(status)"))
        #expect(response.status == status)
        #expect(response.body == (status == 204 ? Data() : Data("status \(status)".utf8)))
    }

    // MARK: - Concurrency and connections

    @Test func twoHundredConcurrentRequestsAllComplete() async throws {
        let transport = CurlTransport(options: .init(maxConnectionsPerHost: 0))
        let count = 200
        let bodies = (0..<count).map { sampleBody(100 + $0 * 37, seed: UInt32($0)) }
        let requests = try bodies.map { try Fixture.request("POST", "/echo", body: $0) }
        let log = CompletionLog()
        let results = await withTaskGroup(of: (Int, Result<HTTPResponse, TransportError>).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, await send(transport, request, log: log)) }
            }
            var results: [Int: Result<HTTPResponse, TransportError>] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }
        #expect(results.count == count)
        #expect(log.calls == count)
        for (index, result) in results {
            let echo = try Echo(try result.get())
            #expect(echo.bodySha256 == sha256Hex(bodies[index]), "request \(index)")
        }
    }

    @Test(arguments: [true, false])
    func requestsToAFreshHostRunAtOnce(http2: Bool) async throws {
        // Each request is held by the fixture until all three have arrived: they must all be in
        // flight together, even though the host has not answered anything yet (with PIPEWAIT on a
        // plain-http host, curl would hold the second one back until the first response).
        let transport = CurlTransport(options: .init(http2: http2))
        let request = try Fixture.request("GET", "/barrier", query: [("id", UUID().uuidString), ("n", "3")])
        let results = await withTaskGroup(of: Result<HTTPResponse, TransportError>.self) { group in
            for _ in 0..<3 { group.addTask { await send(transport, request) } }
            var results: [Result<HTTPResponse, TransportError>] = []
            for await result in group { results.append(result) }
            return results
        }
        for result in results {
            #expect(try result.get().status == 200)
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let transport = CurlTransport()
        var connections: Set<Int> = []
        var ports: Set<Int> = []
        for index in 0..<5 {
            let method = index % 2 == 0 ? "GET" : "PUT"
            let echo = try Echo(try await transport.execute(try Fixture.request(method, "/echo", body: Data(repeating: 1, count: index))))
            connections.insert(echo.connectionId)
            ports.insert(echo.clientPort)
        }
        #expect(connections.count == 1)
        #expect(ports.count == 1)
    }

    @Test func requestsWaitingForAConnectionAreNotTimedOut() async throws {
        // One connection, three slow requests: the later two wait longer than the connect timeout
        // before they get the connection, and neither that wait nor the queue counts as a timeout.
        let transport = CurlTransport(options: .init(maxConnectionsPerHost: 1))
        let timeouts = HTTPTimeouts(connect: .milliseconds(300), read: .seconds(10))
        let slow = try Fixture.request("GET", "/delay", query: [("ms", "500")])
        let results = await withTaskGroup(of: Result<HTTPResponse, TransportError>.self) { group in
            for _ in 0..<3 { group.addTask { await send(transport, slow, timeouts: timeouts) } }
            var results: [Result<HTTPResponse, TransportError>] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == 3)
        for result in results {
            #expect(try result.get().status == 200)
        }
    }

    @Test func readTimeoutIsSilenceNotTotalTime() async throws {
        // Six bytes, 250 ms apart: longer than the 1 s read timeout in total, never silent for 1 s.
        let request = try Fixture.request("GET", "/drip", query: [("count", "6"), ("interval_ms", "250")])
        let response = try await transport.execute(request, timeouts: HTTPTimeouts(connect: .seconds(5), read: .seconds(1)))
        #expect(response.body == Data("xxxxxx".utf8))
    }

    // MARK: - TLS

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")))
    func tlsIsVerifiedAndTheCABundleIsUsed() async throws {
        struct TLSInfo: Decodable { var port: Int; var caPEM: String }
        let info = try await Fixture.json(TLSInfo.self, "/tls")
        let caFile = FileManager.default.temporaryDirectory.appendingPathComponent("transport-tests-\(UUID()).pem")
        try Data(info.caPEM.utf8).write(to: caFile)
        defer { try? FileManager.default.removeItem(at: caFile) }
        let request = HTTPRequest(method: "POST", scheme: "https", host: "127.0.0.1", port: info.port, path: "/echo",
                                  body: Data("over tls".utf8))

        // The system's CAs do not know the fixture's self-signed certificate.
        let untrusted = await send(transport, request)
        let error = try #require(untrusted.failure)
        #expect(error.kind == .tls)
        #expect(error.code == 60)
        #expect(!error.requestSent)
        #expect(!error.isTransient)

        let trusting = CurlTransport(options: .init(caBundlePath: caFile.path))
        let echo = try Echo(try await trusting.execute(request))
        #expect(echo.bodySha256 == sha256Hex(Data("over tls".utf8)))
        #expect(echo.host == "127.0.0.1:\(info.port)")
        await trusting.shutdown()
    }

    // MARK: - Isolation

    @MainActor
    @Test func transportMadeOnTheMainActorWorks() async throws {
        // Handlers written in main-actor code would trap when Dispatch runs them on the loop's queue.
        let transport = CurlTransport(options: .init(http2: false))
        let response = try await transport.execute(try Fixture.request("GET", "/ok"))
        #expect(response.body == Data("ok".utf8))
        let viaCallback = await send(transport, try Fixture.request("GET", "/ok"))
        #expect(try viaCallback.get().status == 200)
        await transport.shutdown()
    }

    @Test func sharedTransportWorks() async throws {
        let response = try await CurlTransport.shared.execute(try Fixture.request("GET", "/ok"))
        #expect(response.status == 200)
    }
}
