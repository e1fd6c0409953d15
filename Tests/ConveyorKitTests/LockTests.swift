import AWSCore
import Foundation
import Synchronization
@testable import ConveyorKit
import Testing

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let date: Mutex<Date>
    init(_ start: Date) { date = Mutex(start) }
    var now: Date { date.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { date.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}

/// Where a test's lock lives: a local directory, or a bucket in moto through the SigV4 proxy.
enum LockStore: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case local
    case s3

    var testDescription: String { rawValue }

    /// A storage and a fresh lock URI in it.
    func make() async throws -> (Storage, StorageURI) {
        switch self {
        case .local:
            let dir = try KitFixture.temporaryDirectory()
            return (Storage(s3: nil), .file(path: dir + "/reports/nightly/conveyor.lock"))
        case .s3:
            let bucket = try await KitFixture.bucket()
            return (Storage(s3: try KitFixture.s3()), .s3(bucket: bucket, key: "reports/nightly/conveyor.lock"))
        }
    }
}

@Suite("Conditional writes")
struct LockStorageTests {
    @Test(arguments: LockStore.allCases)
    func createReplaceDeleteIfMatch(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        #expect(try await storage.getTagged(uri) == nil)
        guard case .done(let first?) = try await storage.create(uri, data: Data("one".utf8), contentType: "text/plain") else {
            Issue.record("create did not answer a tag")
            return
        }
        #expect(try await storage.create(uri, data: Data("two".utf8), contentType: "text/plain") == .conflict)
        #expect(try await storage.getTagged(uri) == TaggedObject(data: Data("one".utf8), etag: first))

        // If-Match with a tag that is not the object's
        #expect(try await storage.replace(uri, data: Data("x".utf8), contentType: "text/plain", ifMatch: "\"0123456789abcdef0123456789abcdef\"")
                == .conflict)
        guard case .done(let second?) = try await storage.replace(uri, data: Data("two".utf8), contentType: "text/plain", ifMatch: first) else {
            Issue.record("replace with the right tag failed")
            return
        }
        #expect(second != first)
        #expect(try await storage.getTagged(uri) == TaggedObject(data: Data("two".utf8), etag: second))
        // two writers that read the same tag: the second loses
        #expect(try await storage.replace(uri, data: Data("three".utf8), contentType: "text/plain", ifMatch: first) == .conflict)
        #expect(try await storage.get(uri) == Data("two".utf8))

        #expect(try await storage.delete(uri, ifMatch: first) == .conflict)
        #expect(try await storage.get(uri) == Data("two".utf8))
        #expect(try await storage.delete(uri, ifMatch: second) == .done(etag: nil))
        #expect(try await storage.getTagged(uri) == nil)
        #expect(try await storage.delete(uri, ifMatch: second) == .missing)
        #expect(try await storage.replace(uri, data: Data("x".utf8), contentType: "text/plain", ifMatch: second) == .missing)
        if case .file(let path) = uri {
            // nothing left behind: no temporary files, no lock files
            #expect(try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent) == [])
        }
    }
}

@Suite("Run lock")
struct LockTests {
    static let t0 = Date(timeIntervalSince1970: 1_796_004_000)

    static func lock(_ runId: String, _ storage: Storage, _ uri: StorageURI, clock: ManualClock, host: String = "host-a",
                     breakLock: Bool = false) -> RunLock {
        RunLock(uri: uri, storage: storage, runId: runId, startedAt: clock.now, conveyorVersion: "0.4.0", host: host, pid: 4242,
                options: RunLock.Options(staleAfter: .seconds(600), heartbeatInterval: .seconds(60), breakLock: breakLock),
                now: clock.function)
    }

    static func holder(_ storage: Storage, _ uri: StorageURI) async throws -> LockRecord? {
        try await storage.getTagged(uri).flatMap { LockRecord.parse($0.data) }
    }

    @Test(arguments: LockStore.allCases)
    func acquireAndContend(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        #expect(try await a.acquire() == .acquired)
        #expect(await a.isHeld)
        let written = try #require(try await Self.holder(storage, uri))
        #expect(written == LockRecord(runId: "run-a", host: "host-a", pid: 4242, startedAt: Self.t0, heartbeatAt: Self.t0,
                                      conveyorVersion: "0.4.0"))
        let json = try JSONValue.parse(try await storage.get(uri))
        #expect(json.objectValue?.keys == ["runId", "host", "pid", "startedAt", "heartbeatAt", "conveyorVersion"])
        #expect(json["startedAt"] == "2026-11-30T02:00:00Z")

        clock.advance(120)
        let b = Self.lock("run-b", storage, uri, clock: clock, host: "host-b")
        do {
            _ = try await b.acquire()
            Issue.record("a second run took a held lock")
        } catch let held as LockHeld {
            #expect(held.holder.runId == "run-a")
            #expect(held.holder.host == "host-a")
            #expect(held.holder.startedAt == Self.t0)
            #expect(held.heartbeatAge == 120)
            #expect(LockHeld.exitCode == 3)
            #expect(held.description.contains("run run-a on host-a (pid 4242), started 2026-11-30T02:00:00Z, last heartbeat 2m ago"))
        }
        #expect(await !b.isHeld)
        #expect(try await b.release() == .notHeld)
        #expect(try await Self.holder(storage, uri)?.runId == "run-a")
        // acquiring again is harmless
        #expect(try await a.acquire() == .acquired)
        #expect(try await a.release() == .released)
        #expect(try await storage.getTagged(uri) == nil)
        #expect(try await b.acquire() == .acquired)
        #expect(try await b.release() == .released)
    }

    @Test(arguments: LockStore.allCases)
    func heartbeatKeepsItFresh(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        _ = try await a.acquire()
        for _ in 0..<3 {
            clock.advance(300)
            try await a.heartbeat()
        }
        #expect(try await Self.holder(storage, uri)?.heartbeatAt == Self.t0.addingTimeInterval(900))
        #expect(try await Self.holder(storage, uri)?.startedAt == Self.t0)
        clock.advance(599)  // 15 minutes after the start, but 599 s after the last heartbeat
        await #expect(throws: LockHeld.self) { _ = try await Self.lock("run-b", storage, uri, clock: clock).acquire() }
        #expect(try await a.release() == .released)
    }

    @Test(arguments: LockStore.allCases)
    func staleLockIsTakenOver(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        _ = try await a.acquire()
        clock.advance(601)
        let b = Self.lock("run-b", storage, uri, clock: clock, host: "host-b")
        let taken = try await b.acquire()
        guard case .tookOverStale(let previous, let age) = taken else {
            Issue.record("expected a takeover, got \(taken)")
            return
        }
        #expect(previous?.runId == "run-a" && age == 601)
        #expect(taken.warning?.hasPrefix("took over a stale lock: run run-a on host-a") == true)
        #expect(try await Self.holder(storage, uri)?.runId == "run-b")

        // the old holder finds out at its next heartbeat, and leaves the lock alone at the end
        do {
            try await a.heartbeat()
            Issue.record("the old holder renewed a lock taken over")
        } catch let lost as LockLost {
            #expect(lost.holder?.runId == "run-b")
            #expect(lost.description.contains("taken over by run run-b on host-b"))
        }
        #expect(try await a.release() == .notHeld)
        #expect(try await Self.holder(storage, uri)?.runId == "run-b")
        #expect(try await b.release() == .released)
    }

    @Test(arguments: LockStore.allCases)
    func releaseOnlyWhenOurs(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        _ = try await a.acquire()
        clock.advance(700)
        let b = Self.lock("run-b", storage, uri, clock: clock)
        _ = try await b.acquire()
        // a has not heartbeated since: it still thinks it holds the lock
        #expect(await a.isHeld)
        let released = try await a.release()
        #expect(released == .notOurs(holder: try await Self.holder(storage, uri)))
        #expect(try await Self.holder(storage, uri)?.runId == "run-b")
        // someone removed the lock by hand
        let c = Self.lock("run-c", storage, uri, clock: clock)
        try await storage.delete(uri)
        #expect(try await c.acquire() == .acquired)
        try await storage.delete(uri)
        #expect(try await c.release() == .alreadyGone)
        #expect(try await b.release() == .alreadyGone)
    }

    @Test(arguments: LockStore.allCases)
    func breakLockTakesALiveLock(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        _ = try await a.acquire()
        clock.advance(5)
        let b = Self.lock("run-b", storage, uri, clock: clock, breakLock: true)
        let taken = try await b.acquire()
        #expect(taken == .brokeLock(previous: LockRecord(runId: "run-a", host: "host-a", pid: 4242, startedAt: Self.t0,
                                                         heartbeatAt: Self.t0, conveyorVersion: "0.4.0")))
        #expect(taken.warning?.contains("--break-lock") == true)
        await #expect(throws: LockLost.self) { try await a.heartbeat() }
        // break-lock on a free lock is a plain acquisition
        #expect(try await b.release() == .released)
        #expect(try await Self.lock("run-c", storage, uri, clock: clock, breakLock: true).acquire() == .acquired)
    }

    /// Two runs find the same stale lock: the conditional write lets one win; the other re-reads
    /// and finds a fresh holder.
    @Test(arguments: LockStore.allCases)
    func twoContendersForAStaleLock(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        _ = try await Self.lock("run-a", storage, uri, clock: clock).acquire()
        clock.advance(3600)
        // both read the stale lock's tag, then write in turn
        let stale = try #require(try await storage.getTagged(uri))
        let b = Self.lock("run-b", storage, uri, clock: clock)
        let c = Self.lock("run-c", storage, uri, clock: clock)
        #expect(try await b.acquire() == .tookOverStale(previous: LockRecord.parse(stale.data), heartbeatAge: 3600))
        #expect(try await storage.replace(uri, data: Data("c".utf8), contentType: "application/json", ifMatch: stale.etag) == .conflict)
        await #expect(throws: LockHeld.self) { _ = try await c.acquire() }
        #expect(try await Self.holder(storage, uri)?.runId == "run-b")
    }

    /// Many runs at once on the local store (whose compare-and-swap is exact under concurrency):
    /// exactly one takes the stale lock.
    @Test func manyConcurrentContendersLocally() async throws {
        let (storage, uri) = try await LockStore.local.make()
        let clock = ManualClock(Self.t0)
        _ = try await Self.lock("run-a", storage, uri, clock: clock).acquire()
        clock.advance(3600)
        let winners = await withTaskGroup(of: String?.self) { group in
            for i in 0..<16 {
                group.addTask {
                    let lock = Self.lock("run-\(i)", storage, uri, clock: clock)
                    return (try? await lock.acquire()) != nil ? "run-\(i)" : nil
                }
            }
            var winners: [String] = []
            for await winner in group { if let winner { winners.append(winner) } }
            return winners
        }
        #expect(winners.count == 1)
        #expect(try await Self.holder(storage, uri)?.runId == winners.first)
    }

    /// A heartbeat whose write landed but whose answer was lost leaves us with an old tag: the
    /// next heartbeat's conflict is resolved by reading the lock and finding our run id.
    @Test(arguments: LockStore.allCases)
    func ownWriteUnderAnUnknownTagIsRecognised(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        _ = try await a.acquire()
        clock.advance(60)
        var record = try #require(try await Self.holder(storage, uri))
        record.heartbeatAt = clock.now
        _ = try await storage.put(uri, data: record.encoded, contentType: "application/json", ifAbsent: false)
        clock.advance(60)
        try await a.heartbeat()
        #expect(try await Self.holder(storage, uri)?.heartbeatAt == clock.now.addingTimeInterval(-60))
        clock.advance(60)
        try await a.heartbeat()
        #expect(try await Self.holder(storage, uri)?.heartbeatAt == clock.now)
        // and release finds it too
        _ = try await storage.put(uri, data: record.encoded, contentType: "application/json", ifAbsent: false)
        #expect(try await a.release() == .released)
        #expect(try await storage.getTagged(uri) == nil)
    }

    @Test(arguments: LockStore.allCases)
    func unreadableLockObject(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Date())  // judged by the object's modification time: now
        _ = try await storage.put(uri, data: Data("not json".utf8), contentType: "text/plain", ifAbsent: false)
        await #expect(throws: LockHeld.self) { _ = try await Self.lock("run-b", storage, uri, clock: clock).acquire() }
        clock.advance(3600)
        let taken = try await Self.lock("run-b", storage, uri, clock: clock).acquire()
        guard case .tookOverStale(nil, _) = taken else {
            Issue.record("expected a takeover of the unreadable lock, got \(taken)")
            return
        }
        #expect(try await Self.holder(storage, uri)?.runId == "run-b")
    }

    /// The heartbeat loop, driven by a sleep the test releases one interval at a time.
    @Test(arguments: LockStore.allCases)
    func heartbeatLoop(store: LockStore) async throws {
        let (storage, uri) = try await store.make()
        let clock = ManualClock(Self.t0)
        let a = Self.lock("run-a", storage, uri, clock: clock)
        _ = try await a.acquire()
        let ticks = Ticks()
        let (events, sink) = AsyncStream.makeStream(of: String.self)
        await a.startHeartbeat(sleep: { interval in
            #expect(interval == .seconds(60))
            try await ticks.wait()
        }, onEvent: { event in
            switch event {
            case .renewed(let at): sink.yield("renewed \(Int(at.timeIntervalSince(LockTests.t0)))")
            case .failed(let error): sink.yield("failed \(error)")
            case .lost(let lost): sink.yield("lost to \(lost.holder?.runId ?? "nobody")")
            }
        })
        var iterator = events.makeAsyncIterator()
        clock.advance(60)
        await ticks.release()
        #expect(await iterator.next() == "renewed 60")
        clock.advance(60)
        await ticks.release()
        #expect(await iterator.next() == "renewed 120")
        #expect(try await Self.holder(storage, uri)?.heartbeatAt == Self.t0.addingTimeInterval(120))

        _ = try await Self.lock("run-b", storage, uri, clock: clock, breakLock: true).acquire()
        clock.advance(60)
        await ticks.release()
        #expect(await iterator.next() == "lost to run-b")
        await a.stopHeartbeat()
        #expect(try await a.release() == .notHeld)

        // stopping a loop that waits in its sleep
        let c = Self.lock("run-c", storage, uri, clock: clock, breakLock: true)
        _ = try await c.acquire()
        await c.startHeartbeat(sleep: { _ in try await ticks.wait() })
        #expect(try await c.release() == .released)
    }
}

/// A sleep that ends when the test says so (or when its task is cancelled).
actor Ticks {
    private var waiting: [CheckedContinuation<Void, any Error>] = []
    private var pending = 0

    func wait() async throws {
        if pending > 0 {
            pending -= 1
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { waiting.append($0) }
        } onCancel: {
            Task { await self.cancelAll() }
        }
    }

    func release() {
        if waiting.isEmpty { pending += 1 } else { waiting.removeFirst().resume() }
    }

    private func cancelAll() {
        for continuation in waiting { continuation.resume(throwing: CancellationError()) }
        waiting.removeAll()
    }
}
