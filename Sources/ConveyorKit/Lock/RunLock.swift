import AWSCore
import Foundation

/// The lock object's content: who holds the lock and since when.
///
///     {"runId": "20261130T020000Z-3f9a", "host": "ip-10-0-0-5", "pid": 4242,
///      "startedAt": "2026-11-30T02:00:00Z", "heartbeatAt": "2026-11-30T02:14:00Z",
///      "conveyorVersion": "0.4.0"}
public struct LockRecord: Sendable, Equatable {
    public var runId: String
    public var host: String
    public var pid: Int
    public var startedAt: Date
    public var heartbeatAt: Date
    public var conveyorVersion: String

    public init(runId: String, host: String, pid: Int, startedAt: Date, heartbeatAt: Date, conveyorVersion: String) {
        self.runId = runId
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.conveyorVersion = conveyorVersion
    }

    public var json: JSONValue {
        .object(["runId": .string(runId), "host": .string(host), "pid": .integer(Int64(pid)),
                 "startedAt": .string(RunIdentity.iso8601(startedAt)), "heartbeatAt": .string(RunIdentity.iso8601(heartbeatAt)),
                 "conveyorVersion": .string(conveyorVersion)])
    }

    public var encoded: Data { Data((PrettyJSON.format(json) + "\n").utf8) }

    /// Reads a lock object; nil when it is not one (then its age is judged by its modification time).
    public static func parse(_ data: Data) -> LockRecord? {
        guard let o = (try? JSONValue.parse(data))?.objectValue, let runId = o["runId"]?.stringValue,
              let heartbeat = o["heartbeatAt"]?.stringValue.flatMap(RunReport.parseTimestamp) else { return nil }
        return LockRecord(runId: runId, host: o["host"]?.stringValue ?? "?", pid: o["pid"]?.intValue ?? 0,
                          startedAt: o["startedAt"]?.stringValue.flatMap(RunReport.parseTimestamp) ?? heartbeat,
                          heartbeatAt: heartbeat, conveyorVersion: o["conveyorVersion"]?.stringValue ?? "?")
    }

    /// `run 20261130T020000Z-3f9a on ip-10-0-0-5 (pid 4242), started 2026-11-30T02:00:00Z`
    public var holderDescription: String {
        "run \(runId) on \(host) (pid \(pid)), started \(RunIdentity.iso8601(startedAt))"
    }
}

/// Another run of the job holds its lock, and its heartbeat is fresh. The CLI exits 3.
public struct LockHeld: Error, Sendable, Equatable, CustomStringConvertible {
    public var lock: StorageURI
    public var holder: LockRecord
    /// Seconds since the holder's last heartbeat.
    public var heartbeatAge: TimeInterval
    public var staleAfter: TimeInterval

    public static let exitCode: Int32 = 3

    public var description: String {
        "another run holds the lock \(lock): \(holder.holderDescription), last heartbeat \(RunLock.age(heartbeatAge)) ago; "
            + "it is taken over once it has had no heartbeat for \(RunLock.age(staleAfter)), or now with --break-lock"
    }
}

/// The lock is no longer ours: another run took it over (or it was removed). The runner aborts.
public struct LockLost: Error, Sendable, Equatable, CustomStringConvertible {
    public var lock: StorageURI
    /// The new holder, when there is one.
    public var holder: LockRecord?

    public var description: String {
        if let holder { return "the lock \(lock) was taken over by \(holder.holderDescription)" }
        return "the lock \(lock) was removed by someone else"
    }
}

/// The lock changed under us too many times in a row while acquiring it.
public struct LockContended: Error, Sendable, Equatable, CustomStringConvertible {
    public var lock: StorageURI
    public var description: String { "the lock \(lock) kept changing while this run tried to take it; try again" }
}

/// How ``RunLock/acquire()`` got the lock.
public enum LockAcquisition: Sendable, Equatable {
    /// There was no lock (or it was already ours).
    case acquired
    /// The holder had no heartbeat for longer than the staleness window.
    case tookOverStale(previous: LockRecord?, heartbeatAge: TimeInterval)
    /// `breakLock` took it from a live holder.
    case brokeLock(previous: LockRecord?)

    /// What to log as a warning, if anything.
    public var warning: String? {
        switch self {
        case .acquired: return nil
        case .tookOverStale(let previous, let age):
            return "took over a stale lock: " + (previous.map { "\($0.holderDescription), " } ?? "an unreadable lock object, ")
                + "no heartbeat for \(RunLock.age(age)); that run may have crashed"
        case .brokeLock(let previous):
            return "--break-lock: took the lock from " + (previous?.holderDescription ?? "an unreadable lock object")
                + "; if that run is still going, both runs are writing"
        }
    }
}

/// What ``RunLock/release()`` did.
public enum LockRelease: Sendable, Equatable {
    case released
    /// Someone else holds it now: it was left alone.
    case notOurs(holder: LockRecord?)
    /// There was no lock object any more.
    case alreadyGone
    /// ``RunLock/acquire()`` never succeeded.
    case notHeld
}

/// What the heartbeat loop reports.
public enum HeartbeatEvent: Sendable {
    case renewed(at: Date)
    /// A heartbeat could not be written (network, throttling): tried again at the next interval.
    case failed(any Error)
    /// The lock was taken by someone else: the loop stops, and the runner should abort.
    case lost(LockLost)
}

/// A lock against overlapping runs of a job (a cron schedule shorter than a run), held in an
/// object beside the report, such as `s3://b/reports/JOB/conveyor.lock`, or a local file.
///
/// - ``acquire()`` creates the object only if it does not exist (S3 `If-None-Match: *`; locally
///   `link(2)`). If it exists and its heartbeat is fresh, it throws ``LockHeld``. If the
///   heartbeat is older than `staleAfter` (or `breakLock` is set), it takes the lock over with a
///   conditional write on the tag it read (S3 `If-Match`), so of two runs taking over the same
///   stale lock only one wins; the other re-reads and finds it held.
/// - ``heartbeat()`` rewrites `heartbeatAt` with `If-Match` on our last tag; a conflict means the
///   lock was taken over (``LockLost``). ``startHeartbeat(sleep:onEvent:)`` does it every
///   `heartbeatInterval` in a task.
/// - ``release()`` deletes the object only if it is still ours (`If-Match` on the tag).
///
/// The local store does the same with a hash of the file as its tag: creation by `link(2)`,
/// replace and delete as read-compare-rename (or unlink) under an exclusive `flock(2)` on the
/// lock's directory (see ``Storage/replace(_:data:contentType:ifMatch:)``). Runs on one machine
/// (or on a file system with working `flock`) are excluded; NFS without lock support is not.
///
/// A write whose answer was lost and that was retried can find its own write (a 412 on the
/// retry): every conflict is resolved by reading the lock, and a lock naming our run id is ours.
public actor RunLock {
    public struct Options: Sendable, Equatable {
        /// A lock with no heartbeat for this long is taken over.
        public var staleAfter: Duration
        public var heartbeatInterval: Duration
        /// Take the lock whatever its state (`--break-lock`).
        public var breakLock: Bool

        public init(staleAfter: Duration = .seconds(600), heartbeatInterval: Duration = .seconds(60), breakLock: Bool = false) {
            self.staleAfter = staleAfter
            self.heartbeatInterval = heartbeatInterval
            self.breakLock = breakLock
        }
    }

    public nonisolated let uri: StorageURI
    public nonisolated let options: Options
    let storage: Storage
    let runId: String
    let host: String
    let pid: Int
    let startedAt: Date
    let conveyorVersion: String
    let now: @Sendable () -> Date

    var etag: String?
    var heartbeatTask: Task<Void, Never>?
    var lastHeartbeat: Date?

    /// - Parameters:
    ///   - uri: the lock object, e.g. `s3://b/reports/JOB/conveyor.lock`.
    ///   - now: the clock for `heartbeatAt` and for judging staleness (tests inject one).
    public init(uri: StorageURI, storage: Storage, runId: String, startedAt: Date, conveyorVersion: String,
                host: String = ProcessInfo.processInfo.hostName, pid: Int = Int(ProcessInfo.processInfo.processIdentifier),
                options: Options = Options(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.uri = uri
        self.storage = storage
        self.runId = runId
        self.startedAt = startedAt
        self.conveyorVersion = conveyorVersion
        self.host = host
        self.pid = pid
        self.options = options
        self.now = now
    }

    /// Whether the lock is ours (as far as this process knows).
    public var isHeld: Bool { etag != nil }

    func record() -> LockRecord {
        LockRecord(runId: runId, host: host, pid: pid, startedAt: startedAt, heartbeatAt: now(), conveyorVersion: conveyorVersion)
    }

    static let contentType = "application/json"

    /// Takes the lock, or throws ``LockHeld`` naming the holder.
    public func acquire() async throws -> LockAcquisition {
        if etag != nil { return .acquired }
        let staleAfter = Self.seconds(options.staleAfter)
        for _ in 0..<8 {
            let mine = record()
            switch try await storage.create(uri, data: mine.encoded, contentType: Self.contentType) {
            case .done(let tag):
                try await adopt(tag)
                return .acquired
            case .missing:
                continue
            case .conflict:
                break
            }
            guard let current = try await storage.getTagged(uri) else { continue }  // released meanwhile: create again
            let holder = LockRecord.parse(current.data)
            if holder?.runId == runId {
                etag = current.etag  // our own earlier write (a retried request)
                lastHeartbeat = holder?.heartbeatAt
                return .acquired
            }
            var age: TimeInterval
            if let holder {
                age = now().timeIntervalSince(holder.heartbeatAt)
            } else if let modified = try await storage.head(uri)?.lastModified {
                age = now().timeIntervalSince(modified)
            } else {
                age = .infinity
            }
            age = max(0, age)
            guard options.breakLock || age > staleAfter else {
                throw LockHeld(lock: uri, holder: holder ?? LockRecord(runId: "?", host: "?", pid: 0, startedAt: .distantPast,
                                                                      heartbeatAt: .distantPast, conveyorVersion: "?"),
                               heartbeatAge: age, staleAfter: staleAfter)
            }
            switch try await storage.replace(uri, data: record().encoded, contentType: Self.contentType, ifMatch: current.etag) {
            case .done(let tag):
                try await adopt(tag)
                return options.breakLock && age <= staleAfter ? .brokeLock(previous: holder)
                    : .tookOverStale(previous: holder, heartbeatAge: age)
            case .conflict, .missing:
                continue  // someone else moved first: look again
            }
        }
        throw LockContended(lock: uri)
    }

    /// Our new tag; read back when the store did not say it.
    func adopt(_ tag: String?) async throws {
        lastHeartbeat = now()
        if let tag {
            etag = tag
            return
        }
        guard let current = try await storage.getTagged(uri), LockRecord.parse(current.data)?.runId == runId else {
            throw LockLost(lock: uri, holder: nil)
        }
        etag = current.etag
    }

    /// Renews the lock once: throws ``LockLost`` if someone else has it, or the store's error
    /// (worth trying again later) if it could not be written.
    public func heartbeat() async throws {
        guard let tag = etag else { throw LockLost(lock: uri, holder: nil) }
        let mine = record()
        switch try await storage.replace(uri, data: mine.encoded, contentType: Self.contentType, ifMatch: tag) {
        case .done(let newTag):
            if etag == tag { try await adopt(newTag) }
            lastHeartbeat = mine.heartbeatAt
        case .conflict:
            let current = try await storage.getTagged(uri)
            let holder = current.flatMap { LockRecord.parse($0.data) }
            if let current, holder?.runId == runId {
                etag = current.etag  // our own write, answered late or retried
                lastHeartbeat = holder?.heartbeatAt
                return
            }
            etag = nil
            throw LockLost(lock: uri, holder: holder)
        case .missing:
            etag = nil
            throw LockLost(lock: uri, holder: nil)
        }
    }

    /// Starts renewing the lock every `heartbeatInterval` until ``stopHeartbeat()`` or
    /// ``release()``, or until it is lost (reported once, then the loop ends).
    ///
    /// - Parameters:
    ///   - sleep: waits one interval (tests pass one they control).
    ///   - onEvent: every renewal, failed attempt and the loss.
    public func startHeartbeat(sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                               onEvent: @escaping @Sendable (HeartbeatEvent) -> Void = { _ in }) {
        heartbeatTask?.cancel()
        let interval = options.heartbeatInterval
        heartbeatTask = Task {
            while !Task.isCancelled {
                do { try await sleep(interval) } catch { return }
                if Task.isCancelled { return }
                do {
                    try await self.heartbeat()
                    onEvent(.renewed(at: self.lastHeartbeat ?? Date()))
                } catch let lost as LockLost {
                    onEvent(.lost(lost))
                    return
                } catch {
                    if Task.isCancelled { return }
                    onEvent(.failed(error))
                }
            }
        }
    }

    /// Stops the heartbeat loop and waits for a renewal in progress to end.
    public func stopHeartbeat() async {
        guard let task = heartbeatTask else { return }
        heartbeatTask = nil
        task.cancel()
        await task.value
    }

    /// Stops the heartbeat and deletes the lock if it is still ours.
    public func release() async throws -> LockRelease {
        await stopHeartbeat()
        guard let tag = etag else { return .notHeld }
        etag = nil
        var expected = tag
        for _ in 0..<3 {
            switch try await storage.delete(uri, ifMatch: expected) {
            case .done: return .released
            case .missing: return .alreadyGone
            case .conflict:
                guard let current = try await storage.getTagged(uri) else { return .alreadyGone }
                let holder = LockRecord.parse(current.data)
                guard holder?.runId == runId else { return .notOurs(holder: holder) }
                expected = current.etag  // ours under a tag we did not see (a retried heartbeat)
            }
        }
        return .notOurs(holder: nil)
    }

    // MARK: Text

    static func seconds(_ d: Duration) -> TimeInterval {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// 42 → `42s`, 600 → `10m`, 4000 → `1h06m`.
    static func age(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite else { return "an unknown time" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return s % 60 == 0 ? "\(s / 60)m" : "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m"
    }
}
