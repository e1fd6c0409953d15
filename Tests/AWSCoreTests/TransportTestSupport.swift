import CCrypto
import Dispatch
import Foundation
import Synchronization
import TestSupport
@testable import AWSCore

/// The loopback fixture of Tests/servers/http_fixture.py, shared by the transport tests.
enum Fixture {
    static func baseURL() throws -> URL {
        try TestServers.url(name: "http_fixture", script: "http_fixture.py")
    }

    static func port() throws -> Int {
        guard let port = try baseURL().port else { throw FixtureError(message: "fixture URL without a port") }
        return port
    }

    /// A request to the fixture at `path` (already percent-encoded, as `HTTPRequest` takes it).
    static func request(
        _ method: String, _ path: String, query: [(name: String, value: String?)] = [],
        headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()
    ) throws -> HTTPRequest {
        HTTPRequest(method: method, scheme: "http", host: "127.0.0.1", port: try port(), path: path, query: query,
                    headers: headers, body: body)
    }

    /// A port on 127.0.0.1 with nothing listening (bound, then closed again).
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw FixtureError(message: "bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// GETs a JSON document from the fixture.
    static func json<T: Decodable>(_ type: T.Type, _ path: String) async throws -> T {
        let response = try await CurlTransport.shared.execute(try request("GET", path))
        return try JSONDecoder().decode(T.self, from: response.body)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// What /echo reports about the request it received.
struct Echo: Decodable {
    var method: String
    var target: String
    var path: String
    var query: String
    var headers: [[String]]
    var host: String?
    var contentType: String?
    var expect: Bool
    var bodyLength: Int
    var bodySha256: String
    var connectionId: Int
    var clientPort: Int

    init(_ response: HTTPResponse) throws {
        self = try JSONDecoder().decode(Echo.self, from: response.body)
    }

    /// Every value the request carried for `name` (case-insensitive), in order.
    func values(_ name: String) -> [String] {
        headers.filter { $0.first?.lowercased() == name.lowercased() }.map { $0.count > 1 ? $0[1] : "" }
    }
}

func sha256Hex(_ data: Data) -> String {
    var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
    data.withUnsafeBytes { bytes in
        _ = SHA256(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &digest)
    }
    return digest.map { String(format: "%02x", $0) }.joined()
}

/// `count` bytes that differ for each `seed` (a simple linear congruential sequence).
func sampleBody(_ count: Int, seed: UInt32 = 1) -> Data {
    var state = seed &* 2_654_435_761 &+ 1
    var data = Data(count: count)
    data.withUnsafeMutableBytes { (bytes: UnsafeMutableRawBufferPointer) in
        for index in 0..<count {
            state = state &* 1_103_515_245 &+ 12_345
            bytes[index] = UInt8(truncatingIfNeeded: state >> 16)
        }
    }
    return data
}

/// What /big sends: byte i is i % 256.
func patternBody(_ count: Int) -> Data {
    var data = Data(count: count)
    data.withUnsafeMutableBytes { (bytes: UnsafeMutableRawBufferPointer) in
        for index in 0..<count { bytes[index] = UInt8(truncatingIfNeeded: index) }
    }
    return data
}

let MiB = 1 << 20

/// Runs `request` through the callback API and checks, for every request, that the completion runs
/// on the given queue and exactly once (a second call is recorded as an issue by the caller through
/// `CompletionLog`).
func send(
    _ transport: CurlTransport, _ request: HTTPRequest, timeouts: HTTPTimeouts = .default,
    log: CompletionLog? = nil
) async -> Result<HTTPResponse, TransportError> {
    let queue = DispatchQueue(label: "transport-tests.completion")
    return await withCheckedContinuation { continuation in
        let calls = CompletionLog()
        transport.execute(request, timeouts: timeouts, queue: queue) { result in
            dispatchPrecondition(condition: .onQueue(queue))
            log?.record()
            if calls.record() == 1 {  // a second call would resume twice: `log` lets tests catch it
                continuation.resume(returning: result)
            }
        }
    }
}

/// Counts completions, to assert "exactly once" after the fact.
final class CompletionLog: Sendable {
    private let count = Atomic<Int>(0)
    /// Counts one call; returns the count so far.
    @discardableResult
    func record() -> Int { count.add(1, ordering: .relaxed).newValue }
    var calls: Int { count.load(ordering: .relaxed) }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
