// transport-bench: many concurrent GETs through CurlTransport, counting the process's threads.
//
//   swift build -c release --product transport-bench
//   .build/release/transport-bench [--url http://127.0.0.1:PORT] [--count 1000] [--delay-ms 200]
//                                  [--rounds 3] [--max-connections 0] [--http1]
//                                  [--completion-queue main|serial] [--list-threads]
//
// Without --url it starts Tests/servers/http_fixture.py on 127.0.0.1 (loopback only). Each request is
// GET /ok?delay_ms=N, so the server holds every one for N ms and they truly overlap. A sampler thread
// reads /proc/self/task every 5 ms (threads) and /proc/self/fd every 25 ms (sockets).
import AWSCore
import Dispatch
import Foundation
import Synchronization

struct Arguments {
    var url: String?
    var count = 1000
    var delayMs = 200
    var rounds = 3
    var maxConnections = 0
    var http2 = true
    var listThreads = false
    var completionsOnMain = true

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            func value() -> String {
                guard let value = iterator.next() else { fail("\(argument) needs a value") }
                return value
            }
            func number() -> Int {
                guard let number = Int(value()), number >= 0 else { fail("\(argument) needs a number") }
                return number
            }
            switch argument {
            case "--url": url = value()
            case "--count": count = max(1, number())
            case "--delay-ms": delayMs = number()
            case "--rounds": rounds = max(1, number())
            case "--max-connections": maxConnections = number()
            case "--http1": http2 = false
            case "--list-threads": listThreads = true
            case "--completion-queue":
                switch value() {
                case "main": completionsOnMain = true
                case "serial": completionsOnMain = false
                default: fail("--completion-queue is main or serial")
                }
            case "-h", "--help":
                print("usage: transport-bench [--url URL] [--count N] [--delay-ms N] [--rounds N] [--max-connections N] [--http1] [--completion-queue main|serial] [--list-threads]")
                exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("transport-bench: \(message)\n".utf8))
    exit(2)
}

/// Entries of a /proc directory, optionally only those whose link target starts with `prefix`.
func countEntries(_ path: String, linkPrefix prefix: String? = nil) -> Int {
    guard let directory = opendir(path) else { return 0 }
    defer { closedir(directory) }
    var count = 0
    var target = [CChar](repeating: 0, count: 64)
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasPrefix(".") { continue }
        if let prefix {
            let length = readlink(path + "/" + name, &target, target.count)
            guard length > 0 else { continue }
            if !String(decoding: target.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix(prefix) {
                continue
            }
        }
        count += 1
    }
    return count
}

func threadCount() -> Int { countEntries("/proc/self/task") }

/// The names of the process's threads (/proc/self/task/*/comm), for --list-threads.
func threadNames() -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.sorted().map { task in
        let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? "?"
        return "\(task):\(comm.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}
func socketCount() -> Int { countEntries("/proc/self/fd", linkPrefix: "socket:") }

/// Peaks of threads and sockets, sampled on a thread of its own (one for the whole run, so that it
/// is always exactly one of the threads counted).
final class Sampler: Sendable {
    private let peaks = Mutex((threads: 0, sockets: 0, names: [String]()))

    init() {
        let thread = Thread { [self] in
            var tick = 0
            while true {
                let threads = threadCount()
                let sockets = tick % 5 == 0 ? socketCount() : 0
                let newPeak = peaks.withLock { $0.threads < threads }
                let names = newPeak ? threadNames() : []
                peaks.withLock { peaks in
                    if threads > peaks.threads {
                        peaks.threads = threads
                        peaks.names = names
                    }
                    peaks.sockets = max(peaks.sockets, sockets)
                }
                tick += 1
                usleep(5_000)
            }
        }
        thread.start()
    }

    /// The peaks since the last call (thread names taken at the thread peak).
    func take() -> (threads: Int, sockets: Int, names: [String]) {
        peaks.withLock { peaks in
            defer { peaks = (threadCount(), 0, threadNames()) }
            return peaks
        }
    }
}

/// Collects the outcome of one round.
final class Round: Sendable {
    private let state = Mutex((ok: 0, failures: [String: Int](), latencies: [Double]()))

    /// Records one completion; returns how many have been recorded.
    func record(_ result: Result<HTTPResponse, TransportError>, latency: Double) -> Int {
        state.withLock { state in
            switch result {
            case .success(let response) where response.status == 200 && response.body == Data("ok".utf8):
                state.ok += 1
            case .success(let response):
                state.failures["HTTP \(response.status)", default: 0] += 1
            case .failure(let error):
                state.failures["\(error.kind) (\(error.code)): \(error.message)", default: 0] += 1
            }
            state.latencies.append(latency)
            return state.latencies.count
        }
    }

    var summary: (ok: Int, failures: [String: Int], latencies: [Double]) { state.withLock { $0 } }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

/// Starts the fixture server; returns its base URL and pid. posix_spawn rather than Foundation's
/// Process, which starts two threads of its own that would be counted with the transport's.
func startFixture() -> (String, pid_t) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/servers/http_fixture.py").path
    let arguments = ["/usr/bin/env", "python3", "-u", script, "--host", "127.0.0.1", "--port", "0",
                     "--parent-pid", String(getpid())]
    var pipeFDs: [Int32] = [0, 0]
    guard pipe(&pipeFDs) == 0 else { fail("pipe failed") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
    var argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else { fail("cannot start \(script)") }
    close(pipeFDs[1])
    // The first line is `listening on 127.0.0.1:PORT`; the server writes nothing more to stdout.
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while read(pipeFDs[0], &byte, 1) == 1, byte != 0x0A { line.append(byte) }
    let text = String(decoding: line, as: UTF8.self)
    guard text.hasPrefix("listening on ") else { fail("fixture did not start: '\(text)'") }
    return ("http://" + text.dropFirst("listening on ".count), pid)
}

/// Lets the process (and the fixture it starts) open one socket per request.
func raiseFileLimit(to wanted: Int) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    let target = min(rlim_t(wanted), limit.rlim_max)
    if limit.rlim_cur < target {
        limit.rlim_cur = target
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < rlim_t(wanted) {
        print("warning: open files limit is \(limit.rlim_cur) (hard \(limit.rlim_max)); expect connect errors (7)")
    }
}

let arguments = Arguments(Array(CommandLine.arguments.dropFirst()))
raiseFileLimit(to: 2 * arguments.count + 256)
var fixture: pid_t?
let base: String
if let url = arguments.url {
    base = url
} else {
    let (url, pid) = startFixture()
    base = url
    fixture = pid
}
guard let endpoint = Endpoint(url: base), ["127.0.0.1", "localhost", "::1"].contains(endpoint.host) else {
    fail("\(base): loopback URLs only")
}

let transport = CurlTransport(options: .init(maxConnectionsPerHost: arguments.maxConnections, http2: arguments.http2))
let request = HTTPRequest(method: "GET", endpoint: endpoint, path: "/ok", query: [("delay_ms", String(arguments.delayMs))])
let timeouts = HTTPTimeouts(connect: .seconds(10), read: .seconds(60))
/// Where completions run: the main queue (serviced by the main thread, as in a CLI) or a serial
/// queue of their own (one more Dispatch worker).
let completions = arguments.completionsOnMain ? DispatchQueue.main : DispatchQueue(label: "transport-bench.completions")

/// Drives the rounds from the main queue: each round sends `count` requests at once and starts the
/// next one when the last completion has arrived.
@MainActor
final class Bench {
    let sampler = Sampler()
    var index = 0
    var worstThreads = 0
    var allOK = true

    func start() {
        print("transport-bench: \(arguments.count) concurrent GET \(request.url)")
        print("  max connections per host: \(arguments.maxConnections == 0 ? "unlimited" : String(arguments.maxConnections)), "
            + "HTTP/2: \(arguments.http2 ? "where offered (plain http is HTTP/1.1)" : "off"), "
            + "completions on \(arguments.completionsOnMain ? "the main queue" : "a serial queue")")
        // Warm up: one request, so that curl's globals, the loop's queue and the first connection exist.
        send(count: 1) { [self] warm, _ in
            guard warm.summary.ok == 1 else { fail("warm-up request failed: \(warm.summary.failures)") }
            print("  threads after warm-up: \(threadCount())")
            if arguments.listThreads { print("  " + threadNames().joined(separator: " ")) }
            _ = sampler.take()
            nextRound()
        }
    }

    func nextRound() {
        index += 1
        guard index <= arguments.rounds else { return finish() }
        send(count: arguments.count) { [self] round, seconds in
            let peaks = sampler.take()
            let summary = round.summary
            let sorted = summary.latencies.sorted()
            worstThreads = max(worstThreads, peaks.threads - 1)
            allOK = allOK && summary.ok == arguments.count
            print(String(format: "round %d: wall %.3f s, %d/%d ok, latency ms p50 %.0f p99 %.0f max %.0f, "
                         + "peak threads %d (%d without the sampler), peak sockets %d",
                         index, seconds, summary.ok, arguments.count, percentile(sorted, 0.5),
                         percentile(sorted, 0.99), sorted.last ?? 0, peaks.threads, peaks.threads - 1, peaks.sockets))
            if arguments.listThreads { print("  at the peak: " + peaks.names.joined(separator: " ")) }
            for (failure, count) in summary.failures.sorted(by: { $0.value > $1.value }) {
                print("  \(count) × \(failure)")
            }
            nextRound()
        }
    }

    /// Sends `count` requests at once; `done` runs on the main queue once all have completed.
    func send(count: Int, done: @escaping @MainActor (Round, Double) -> Void) {
        let round = Round()
        let start = DispatchTime.now().uptimeNanoseconds
        let finish: @Sendable () -> Void = {
            DispatchQueue.main.async {
                MainActor.assumeIsolated { done(round, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
        }
        for _ in 0..<count {
            let sent = DispatchTime.now().uptimeNanoseconds
            transport.execute(request, timeouts: timeouts, queue: completions) { result in
                if round.record(result, latency: Double(DispatchTime.now().uptimeNanoseconds - sent) / 1e6) == count {
                    finish()
                }
            }
        }
    }

    func finish() {
        print("peak threads carrying the requests (sampler excluded): \(worstThreads)")
        if arguments.listThreads { print("  after the rounds: " + threadNames().joined(separator: " ")) }
        // shutdown() blocks until the loop has let go of its connections; the main queue is not the
        // loop's queue, so this is allowed.
        transport.shutdown()
        if let fixture { kill(fixture, SIGTERM) }
        exit(allOK ? 0 : 1)
    }
}

DispatchQueue.main.async {
    MainActor.assumeIsolated { Bench().start() }
}
RunLoop.main.run()  // services the main queue on the main thread (dispatchMain would end the main thread on Linux)
