import Foundation
import Testing
@testable import AWSCore

/// HTTP/2 over TLS against nghttpd (Debian package nghttp2-server), when it is installed: requests
/// are multiplexed on at most `maxConnectionsPerHost` connections, uploads and downloads are exact.
/// Skipped where nghttpd or openssl is missing.
@Suite(.enabled(if: NGHTTPD.available))
struct TransportHTTP2Tests {
    /// A stream that stalls (see CurlTransfer's CURLOPT_BUFFERSIZE) fails in 10 s, not 60.
    static let timeouts = HTTPTimeouts(connect: .seconds(5), read: .seconds(10))

    @Test func requestsShareConnectionsAsStreams() async throws {
        let server = try NGHTTPD()
        defer { server.stop() }
        let transport = CurlTransport(options: .init(maxConnectionsPerHost: 2, http2: true, caBundlePath: server.caFile))
        let request = HTTPRequest(method: "GET", scheme: "https", host: "127.0.0.1", port: server.port, path: "/file")
        let results = await withTaskGroup(of: Result<HTTPResponse, TransportError>.self) { group in
            for _ in 0..<100 { group.addTask { await send(transport, request, timeouts: Self.timeouts) } }
            var results: [Result<HTTPResponse, TransportError>] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == 100)
        for result in results {
            let response = try result.get()
            #expect(response.status == 200)
            #expect(response.body == server.file)
        }
        await transport.shutdown()
        let connections = server.connectionCount()
        #expect(connections >= 1 && connections <= 2, "nghttpd saw \(connections) connections")
    }

    @Test func uploadsAreExactOverHTTP2() async throws {
        let server = try NGHTTPD()
        defer { server.stop() }
        let transport = CurlTransport(options: .init(caBundlePath: server.caFile))
        for size in [0, 11, 3 * MiB] {
            let body = sampleBody(size, seed: UInt32(size))
            let request = HTTPRequest(method: "PUT", scheme: "https", host: "127.0.0.1", port: server.port, path: "/echo",
                                      headers: ["Content-Type": "application/octet-stream"], body: body)
            let response = try await transport.execute(request, timeouts: Self.timeouts)
            #expect(response.status == 200)
            #expect(response.body == body, "\(size) bytes")
        }
        await transport.shutdown()
    }
}

/// One nghttpd on 127.0.0.1 with a fresh self-signed certificate, serving a 100 kB file and
/// echoing uploads; it logs its frames (`-v`) so that tests can count connections.
final class NGHTTPD {
    static let executable = "/usr/sbin/nghttpd"
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: executable) && FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")
    }

    let port: Int
    let directory: URL
    let caFile: String
    let file: Data
    private let pid: pid_t
    private let log: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nghttpd-\(UUID().uuidString)")
        let docs = directory.appendingPathComponent("docs")
        try FileManager.default.createDirectory(at: docs, withIntermediateDirectories: true)
        let key = directory.appendingPathComponent("key.pem").path
        caFile = directory.appendingPathComponent("cert.pem").path
        log = directory.appendingPathComponent("log.txt")
        file = sampleBody(100_000, seed: 2)
        try file.write(to: docs.appendingPathComponent("file"))
        try Self.run(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", key, "-out", caFile, "-days", "2", "-subj", "/CN=127.0.0.1",
                      "-addext", "subjectAltName=IP:127.0.0.1"])
        port = try Fixture.closedPort()
        // `timeout` ends the server even if this process dies before stop(); long enough for a slow run
        // (under TSan the suites took over 4 minutes, and a server killed at 120 s refused the test).
        pid = try Self.spawn(["/usr/bin/timeout", "1800", Self.executable, "-a", "127.0.0.1", "--htdocs=\(docs.path)",
                              "--echo-upload", "-v", String(port), key, caFile], stdout: log.path)
        // Listening once a TCP connect succeeds (up to 30 s: a loaded machine starts it slowly).
        for _ in 0..<1500 {
            if Self.canConnect(port: port) { return }
            usleep(20_000)
        }
        stop()
        throw FixtureError(message: "nghttpd did not start on port \(port)")
    }

    /// Distinct connections that carried requests (nghttpd's session ids, `[id=N]`, on lines that
    /// log a request's HEADERS frame; the start-up probe's connection carries none).
    func connectionCount() -> Int {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let ids = text.split(separator: "\n").compactMap { line -> Substring? in
            guard line.hasPrefix("[id="), line.contains("recv HEADERS frame"), let end = line.firstIndex(of: "]") else {
                return nil
            }
            return line[..<end]
        }
        return Set(ids).count
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts `arguments` with `stdout` as its standard output and no standard error, with every
    /// signal unblocked and at its default: Foundation's Process passes on the test thread's
    /// blocked signals, and a child started that way never sees SIGTERM (nor `timeout` its SIGALRM).
    private static func spawn(_ arguments: [String], stdout: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard rc == 0 else { throw FixtureError(message: "cannot start \(arguments[0]): error \(rc)") }
        return pid
    }

    /// Runs `arguments` to completion; throws unless it exits with 0.
    private static func run(_ arguments: [String]) throws {
        let pid = try spawn(arguments, stdout: "/dev/null")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard status == 0 else { throw FixtureError(message: "\(arguments[0]) failed") }
    }

    private static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
