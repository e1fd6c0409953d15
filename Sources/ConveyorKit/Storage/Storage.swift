import AWSCore
import AWSServices
import Foundation

/// An object in a store: S3 or the local file system.
public struct StoredObject: Sendable, Equatable {
    public var uri: StorageURI
    public var size: Int
    public var etag: String?
    public var lastModified: Date?

    public init(uri: StorageURI, size: Int, etag: String? = nil, lastModified: Date? = nil) {
        self.uri = uri
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// What a conditional write did.
public enum WriteOutcome: Sendable, Equatable {
    case written(etag: String?)
    /// `ifAbsent` was asked and the object exists: nothing was written.
    case alreadyExists
}

/// A failure of the store, classified like `AWSError` so the runner can act on it.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: AWSError.Kind
    public var code: String
    public var message: String
    public var uri: String

    public init(kind: AWSError.Kind, code: String, message: String, uri: String) {
        self.kind = kind
        self.code = code
        self.message = message
        self.uri = uri
    }

    public var description: String { "\(uri): \(code): \(message)" }
}

/// Reads and writes objects by URI: `s3://` through the S3 client, files through the file
/// system. Local writes go to a temporary file that is renamed (or linked, for `ifAbsent`) into
/// place, so a reader never sees half an object.
public struct Storage: Sendable {
    let s3: (any S3API)?

    public init(s3: (any S3API)?) {
        self.s3 = s3
    }

    func client(_ uri: StorageURI) throws -> any S3API {
        guard let s3 else {
            throw StorageError(kind: .invalidRequest, code: "NoS3Client", message: "no S3 client is configured", uri: uri.description)
        }
        return s3
    }

    /// The objects under `prefix` (a key prefix for S3; a directory or file for local paths), in
    /// key order, fetched as they are consumed.
    public func list(_ prefix: StorageURI) -> AsyncThrowingStream<StoredObject, any Error> {
        switch prefix {
        case .s3(let bucket, let key):
            let s3 = self.s3
            return AsyncThrowingStream { continuation in
                let task = Task {
                    do {
                        guard let s3 else { throw StorageError(kind: .invalidRequest, code: "NoS3Client", message: "no S3 client is configured", uri: prefix.description) }
                        for try await summary in s3.listObjects(bucket: bucket, prefix: key.isEmpty ? nil : key) {
                            continuation.yield(StoredObject(uri: .s3(bucket: bucket, key: summary.key), size: summary.size,
                                                            etag: summary.etag, lastModified: summary.lastModified))
                        }
                        continuation.finish()
                    } catch {
                        continuation.finish(throwing: Self.map(error, uri: prefix))
                    }
                }
                continuation.onTermination = { _ in task.cancel() }
            }
        case .file(let path):
            return AsyncThrowingStream { continuation in
                do {
                    for object in try LocalFiles.list(path) { continuation.yield(object) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }

    /// The object's bytes; `maxBytes` refuses larger objects before reading them whole.
    public func get(_ uri: StorageURI, maxBytes: Int? = nil) async throws -> Data {
        switch uri {
        case .s3(let bucket, let key):
            do {
                if let maxBytes {
                    // read at most maxBytes + 1: enough to know it is too large
                    let object = try await client(uri).getObject(bucket: bucket, key: key, range: .bytes(first: 0, last: maxBytes))
                    let total = object.metadata.contentRange.flatMap { Int($0.split(separator: "/").last ?? "") } ?? object.body.count
                    if total > maxBytes {
                        throw StorageError(kind: .invalidRequest, code: "InputTooLarge",
                                           message: "the object is \(total) bytes; the limit is \(maxBytes)", uri: uri.description)
                    }
                    return object.body
                }
                return try await client(uri).getObject(bucket: bucket, key: key).body
            } catch let error as AWSError where error.code == "InvalidRange" {
                return Data()  // a ranged read of an empty object
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            return try LocalFiles.read(path, maxBytes: maxBytes)
        }
    }

    /// The object's size and tag, or nil when there is none.
    public func head(_ uri: StorageURI) async throws -> StoredObject? {
        switch uri {
        case .s3(let bucket, let key):
            do {
                let meta = try await client(uri).headObject(bucket: bucket, key: key)
                return StoredObject(uri: uri, size: meta.contentLength, etag: meta.etag, lastModified: meta.lastModified)
            } catch let error as AWSError where error.kind == .notFound {
                return nil
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            return LocalFiles.head(path)
        }
    }

    /// Writes `data`; with `ifAbsent`, only when no object has the key (S3 `If-None-Match: *`).
    public func put(_ uri: StorageURI, data: Data, contentType: String, ifAbsent: Bool) async throws -> WriteOutcome {
        switch uri {
        case .s3(let bucket, let key):
            do {
                let result = try await client(uri).putObject(bucket: bucket, key: key, body: data, contentType: contentType,
                                                             condition: ifAbsent ? .ifAbsent : .none, metadata: [:])
                return .written(etag: result.etag)
            } catch let error as AWSError where error.kind == .preconditionFailed && ifAbsent {
                return .alreadyExists
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            return try LocalFiles.write(path, data: data, ifAbsent: ifAbsent)
        }
    }

    public func delete(_ uri: StorageURI) async throws {
        switch uri {
        case .s3(let bucket, let key):
            do { try await client(uri).deleteObject(bucket: bucket, key: key) } catch { throw Self.map(error, uri: uri) }
        case .file(let path):
            if unlink(path) != 0 && errno != ENOENT {
                throw StorageError(kind: .service, code: "DeleteFailed", message: String(cString: strerror(errno)), uri: uri.description)
            }
        }
    }

    static func map(_ error: any Error, uri: StorageURI) -> any Error {
        if let error = error as? AWSError {
            return StorageError(kind: error.kind, code: error.code, message: error.message, uri: uri.description)
        }
        return error
    }
}

/// The local store.
enum LocalFiles {
    static func error(_ path: String, _ code: String, kind: AWSError.Kind = .service, _ message: String? = nil) -> StorageError {
        StorageError(kind: kind, code: code, message: message ?? String(cString: strerror(errno)), uri: "file://" + path)
    }

    /// Every regular file under `path` (or `path` itself), sorted by path as S3 sorts keys.
    static func list(_ path: String) throws -> [StoredObject] {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if path.hasSuffix("/") || isDirectory.boolValue {
            guard exists else { throw error(path, "NoSuchKey", kind: .notFound, "no such directory") }
            var found: [StoredObject] = []
            guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
            while let relative = walker.nextObject() as? String {
                let full = (path as NSString).appendingPathComponent(relative)
                if let object = head(full) { found.append(object) }
            }
            return found.sorted { $0.uri.description.utf8.lexicographicallyPrecedes($1.uri.description.utf8) }
        }
        // a prefix that is not a directory: files whose path starts with it
        let directory = (path as NSString).deletingLastPathComponent
        let stem = (path as NSString).lastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else {
            throw error(path, "NoSuchKey", kind: .notFound, "no such file or directory")
        }
        var found: [StoredObject] = []
        for name in names where name.hasPrefix(stem) {
            let full = (directory as NSString).appendingPathComponent(name)
            found += (try? list(full + (FileManager.default.isDirectory(full) ? "/" : ""))) ?? head(full).map { [$0] } ?? []
        }
        return found.sorted { $0.uri.description.utf8.lexicographicallyPrecedes($1.uri.description.utf8) }
    }

    static func head(_ path: String) -> StoredObject? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return StoredObject(uri: .file(path: path), size: Int(info.st_size),
                            lastModified: Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec)))
    }

    static func read(_ path: String, maxBytes: Int?) throws -> Data {
        guard let object = head(path) else { throw error(path, "NoSuchKey", kind: .notFound, "no such file") }
        if let maxBytes, object.size > maxBytes {
            throw StorageError(kind: .invalidRequest, code: "InputTooLarge",
                               message: "the file is \(object.size) bytes; the limit is \(maxBytes)", uri: "file://" + path)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw error(path, errno == EACCES ? "AccessDenied" : "ReadFailed", kind: errno == EACCES ? .accessDenied : .service)
        }
        defer { try? handle.close() }
        return (try? handle.readToEnd()) ?? Data()
    }

    /// Writes through a temporary file in the same directory: renamed over the target, or
    /// hard-linked to it for `ifAbsent` (link fails if the target exists, atomically).
    static func write(_ path: String, data: Data, ifAbsent: Bool) throws -> WriteOutcome {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw self.error(path, "WriteFailed", "cannot create \(directory): \(error.localizedDescription)")
            }
        }
        let temporary = (directory.isEmpty ? "." : directory) + "/.conveyor-\(UUID().uuidString).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(path, errno == EACCES ? "AccessDenied" : "WriteFailed", kind: errno == EACCES ? .accessDenied : .service) }
        var ok = true
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { ok = false; break }
                offset += n
            }
        }
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        defer { unlink(temporary) }
        guard ok else { throw error(path, "WriteFailed") }
        if ifAbsent {
            if link(temporary, path) != 0 {
                if errno == EEXIST { return .alreadyExists }
                throw error(path, "WriteFailed")
            }
        } else if rename(temporary, path) != 0 {
            throw error(path, "WriteFailed")
        }
        return .written(etag: nil)
    }
}

extension FileManager {
    func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
