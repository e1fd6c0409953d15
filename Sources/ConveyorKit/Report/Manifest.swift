import AWSCore
import Foundation
import Synchronization

/// Writes the item manifest: one JSON line per item (``ItemRecord/manifestLine``), appended to a
/// spool file in a temporary directory as items finish, and uploaded beside the report at the
/// end (``finish(storage:)``).
///
/// Nothing is held per item: lines go through a small buffer (64 KiB by default) to the spool
/// file. ``append(_:)`` may be called from any number of tasks at once; a mutex keeps every line
/// whole and counts them. A failed spool write does not stop the run: it is kept and thrown by
/// ``finish(storage:)``.
public final class ManifestWriter: Sendable {
    /// Where the manifest goes.
    public let destination: StorageURI
    /// The spool file.
    public let spoolPath: String
    /// What the file is, in messages: `manifest`, or another JSON-lines object spooled the same way.
    let label: String
    let bufferSize: Int

    struct State {
        var fd: Int32
        var buffer: [UInt8] = []
        var lines = 0
        var bytes = 0
        var failure: String?
        var closed = false
        var uploaded = false
        var upload: Upload?
    }

    private let state: Mutex<State>

    /// The manifest's place beside a report: `RUNID.items.jsonl` in the report's directory
    /// (`s3://b/reports/job/RUNID.json` → `s3://b/reports/job/RUNID.items.jsonl`).
    public static func location(besideReport report: StorageURI, runId: String) -> StorageURI {
        let name = "\(runId).items.jsonl"
        switch report {
        case .s3(let bucket, let key):
            guard let slash = key.lastIndex(of: "/") else { return .s3(bucket: bucket, key: name) }
            return .s3(bucket: bucket, key: String(key[...slash]) + name)
        case .file(let path):
            let directory = (path as NSString).deletingLastPathComponent
            return .file(path: directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name))
        }
    }

    /// Opens a new spool file.
    ///
    /// - Parameters:
    ///   - destination: where ``finish(storage:)`` uploads the manifest.
    ///   - temporaryDirectory: for the spool file; default `$TMPDIR` (or `/tmp`).
    ///   - bufferSize: bytes gathered before a write to the spool file.
    ///   - label: what the file is, in messages and the spool file's name.
    public init(destination: StorageURI, temporaryDirectory: String? = nil, bufferSize: Int = 64 * 1024,
                label: String = "manifest") throws {
        self.destination = destination
        self.bufferSize = max(0, bufferSize)
        self.label = label
        let directory = temporaryDirectory ?? FileManager.default.temporaryDirectory.path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("conveyor-\(label)-\(UUID().uuidString).jsonl")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ManifestError(message: "cannot create the \(label)'s spool file \(path): \(String(cString: strerror(errno)))")
        }
        fchmod(fd, 0o600)  // owner-only whatever the umask
        spoolPath = path
        state = Mutex(State(fd: fd))
    }

    deinit {
        state.withLock { s in
            if !s.closed { close(s.fd) }
            if s.uploaded || !s.closed { unlink(spoolPath) }
        }
    }

    /// Appends the item's line. Cheap; safe from any task.
    public func append(_ item: ItemRecord) {
        append(line: item.manifestLine)
    }

    /// Appends one JSON line (ending in a newline); the spool serves other JSON-lines objects too.
    public func append(line: Data) {
        state.withLock { s in
            guard !s.closed else { return }
            s.buffer.append(contentsOf: line)
            s.lines += 1
            s.bytes += line.count
            if s.buffer.count >= bufferSize { Self.flush(&s) }
        }
    }

    /// Lines appended so far.
    public var count: Int { state.withLock { $0.lines } }

    /// What an upload wrote.
    public struct Upload: Sendable, Equatable {
        public var uri: StorageURI
        public var lines: Int
        public var bytes: Int
    }

    /// Closes the spool file, uploads it to ``destination`` and removes it. When the upload
    /// fails the spool file is kept (the error names it) and `finish` may be called again; once
    /// it succeeded, `finish` answers the same again.
    public func finish(storage: Storage) async throws -> Upload {
        if let done = state.withLock({ $0.upload }) { return done }
        let (lines, bytes) = try state.withLock { s throws(ManifestError) -> (Int, Int) in
            if !s.closed {
                Self.flush(&s)
                if fsync(s.fd) != 0 && s.failure == nil { s.failure = String(cString: strerror(errno)) }
                close(s.fd)
                s.closed = true
            }
            if let failure = s.failure {
                throw ManifestError(message: "the \(label)'s spool file \(spoolPath) could not be written: \(failure)")
            }
            return (s.lines, s.bytes)
        }
        do {
            _ = try await storage.upload(destination, file: spoolPath, contentType: "application/x-ndjson")
        } catch {
            throw ManifestError(message: "the \(label) could not be written to \(destination): \(error); it is kept in \(spoolPath)")
        }
        let upload = Upload(uri: destination, lines: lines, bytes: bytes)
        state.withLock {
            $0.uploaded = true
            $0.upload = upload
        }
        unlink(spoolPath)
        return upload
    }

    /// Closes and removes the spool file without uploading it.
    public func discard() {
        state.withLock { s in
            if !s.closed {
                close(s.fd)
                s.closed = true
            }
            s.uploaded = true
        }
        unlink(spoolPath)
    }

    private static func flush(_ s: inout State) {
        guard !s.buffer.isEmpty else { return }
        defer { s.buffer.removeAll(keepingCapacity: true) }
        guard s.failure == nil else { return }
        let fd = s.fd
        let ok = s.buffer.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        if !ok { s.failure = String(cString: strerror(errno)) }
    }
}

/// Reads a manifest back as ``ItemRecord``s, a chunk at a time (ranged GETs on S3), so memory
/// holds one chunk and one line whatever its size. A line that is not a manifest entry throws a
/// ``ManifestError`` naming its line number; blank lines are skipped.
///
///     for try await item in ManifestReader(uri: manifest, storage: storage) where item.status == .failed { ... }
public struct ManifestReader: AsyncSequence, Sendable {
    public typealias Element = ItemRecord

    public let uri: StorageURI
    let storage: Storage
    let chunkSize: Int
    let maxLineBytes: Int

    public init(uri: StorageURI, storage: Storage, chunkSize: Int = 4 * 1024 * 1024, maxLineBytes: Int = 16 * 1024 * 1024) {
        self.uri = uri
        self.storage = storage
        self.chunkSize = Swift.max(1, chunkSize)
        self.maxLineBytes = maxLineBytes
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: ManifestReader
        var size: Int?
        var offset = 0
        var local: FileHandle?
        var lines: JSONLReader
        var ready: [JSONLReader.Entry] = []
        var readyIndex = 0
        var finished = false

        init(reader: ManifestReader) {
            self.reader = reader
            lines = JSONLReader(maxLineBytes: reader.maxLineBytes)
        }

        public mutating func next() async throws -> ItemRecord? {
            while readyIndex >= ready.count {
                if finished { return nil }
                ready = []
                readyIndex = 0
                let chunk = try await readChunk()
                if chunk.isEmpty {
                    finished = true
                    try? local?.close()
                    ready = lines.finish()
                } else {
                    ready = lines.feed(chunk)
                }
            }
            defer { readyIndex += 1 }
            switch ready[readyIndex] {
            case .success(let record):
                do {
                    return try ItemRecord(manifest: record.object)
                } catch {
                    throw ManifestError(message: "\(reader.uri):\(record.line): \(error.message)")
                }
            case .failure(let error):
                throw ManifestError(message: "\(reader.uri):\(error.line): \(error.problem)")
            }
        }

        mutating func readChunk() async throws -> Data {
            switch reader.uri {
            case .s3:
                if size == nil {
                    guard let object = try await reader.storage.head(reader.uri) else {
                        throw ManifestError(message: "\(reader.uri): no such manifest")
                    }
                    size = object.size
                }
                guard offset < size! else { return Data() }
                let data = try await reader.storage.getRange(reader.uri, offset: offset, length: Swift.min(reader.chunkSize, size! - offset))
                offset += data.count
                if data.isEmpty { offset = size! }
                return data
            case .file(let path):
                if local == nil {
                    guard let handle = FileHandle(forReadingAtPath: path) else {
                        throw ManifestError(message: "\(reader.uri): cannot open the manifest: \(String(cString: strerror(errno)))")
                    }
                    local = handle
                }
                return try local!.read(upToCount: reader.chunkSize) ?? Data()
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: self) }
}
