import AWSCore
import AWSServices
import Foundation

/// An object in a store: S3 or the local file system.
public struct StoredObject: Sendable, Equatable {
    public var uri: StorageURI
    public var size: Int
    public var etag: String?
    public var lastModified: Date?
    /// User metadata (S3 `x-amz-meta-*`, by the name after the prefix); empty for local files and listings.
    public var metadata: [String: String]

    public init(uri: StorageURI, size: Int, etag: String? = nil, lastModified: Date? = nil, metadata: [String: String] = [:]) {
        self.uri = uri
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.metadata = metadata
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
    /// key order, fetched as they are consumed: a listing page only when the previous one is used
    /// up, never ahead of the consumer.
    public func list(_ prefix: StorageURI) -> StorageListing {
        StorageListing(storage: self, prefix: prefix)
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
                return StoredObject(uri: uri, size: meta.contentLength, etag: meta.etag, lastModified: meta.lastModified,
                                    metadata: meta.metadata)
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
    /// `metadata` goes with an S3 object (`x-amz-meta-*`); the local store keeps none.
    public func put(_ uri: StorageURI, data: Data, contentType: String, ifAbsent: Bool, metadata: [String: String] = [:])
        async throws -> WriteOutcome
    {
        switch uri {
        case .s3(let bucket, let key):
            do {
                let result = try await client(uri).putObject(bucket: bucket, key: key, body: data, contentType: contentType,
                                                             condition: ifAbsent ? .ifAbsent : .none, metadata: metadata)
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
            return StorageError(kind: error.kind, code: error.code, message: error.explanation, uri: uri.description)
        }
        return error
    }
}

/// The objects under a prefix, pulled a page at a time (see ``Storage/list(_:)``); failures are
/// thrown as ``StorageError``.
public struct StorageListing: AsyncSequence, Sendable {
    public typealias Element = StoredObject
    let storage: Storage
    let prefix: StorageURI

    public struct AsyncIterator: AsyncIteratorProtocol {
        let storage: Storage
        let prefix: StorageURI
        var s3: S3ObjectListing.AsyncIterator?
        var local: [StoredObject]?
        var position = 0

        public mutating func next() async throws -> StoredObject? {
            switch prefix {
            case .s3(let bucket, let key):
                if s3 == nil {
                    s3 = try storage.client(prefix).listObjects(bucket: bucket, prefix: key.isEmpty ? nil : key).makeAsyncIterator()
                }
                do {
                    guard let summary = try await s3!.next() else { return nil }
                    return StoredObject(uri: .s3(bucket: bucket, key: summary.key), size: summary.size, etag: summary.etag,
                                        lastModified: summary.lastModified)
                } catch {
                    throw Storage.map(error, uri: prefix)
                }
            case .file(let path):
                if local == nil { local = try LocalFiles.list(path) }
                guard position < local!.count else { return nil }
                defer { position += 1 }
                return local![position]
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(storage: storage, prefix: prefix) }
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
        try write(path, ifAbsent: ifAbsent) { fd in
            var ok = true
            data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n <= 0 { ok = false; break }
                    offset += n
                }
            }
            return ok
        }
    }

    /// The same, with `fill` writing the bytes to the temporary file's descriptor.
    static func write(_ path: String, ifAbsent: Bool, fill: (Int32) -> Bool) throws -> WriteOutcome {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw self.error(path, "WriteFailed", "cannot create \(directory): \(error.localizedDescription)")
            }
        }
        let temporary = (directory.isEmpty ? "." : directory) + "/.conveyor-\(UUID().uuidString).tmp"
        // owner-only (0600) whatever the umask: outputs, reports, manifests and locks may hold
        // what the model was shown
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw error(path, errno == EACCES ? "AccessDenied" : "WriteFailed", kind: errno == EACCES ? .accessDenied : .service) }
        var ok = fchmod(fd, 0o600) == 0
        if ok { ok = fill(fd) }
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

// MARK: Compare-and-swap and large uploads

/// An object's bytes with its entity tag.
public struct TaggedObject: Sendable, Equatable {
    public var data: Data
    /// S3's ETag; for the local store, a hash of the bytes in the same quoted form.
    public var etag: String

    public init(data: Data, etag: String) {
        self.data = data
        self.etag = etag
    }
}

/// What a conditional write or delete did.
public enum ConditionalOutcome: Sendable, Equatable {
    /// Written (with the new tag) or deleted (tag nil).
    case done(etag: String?)
    /// The condition failed: the object exists (create), or has another tag (replace, delete).
    case conflict
    /// There is no object (replace, delete).
    case missing
}

extension Storage {
    /// The object's bytes and tag, or nil when there is none. Tags from here are the ones
    /// ``replace(_:data:contentType:ifMatch:)`` and ``delete(_:ifMatch:)`` compare.
    public func getTagged(_ uri: StorageURI) async throws -> TaggedObject? {
        switch uri {
        case .s3(let bucket, let key):
            do {
                let object = try await client(uri).getObject(bucket: bucket, key: key)
                guard let etag = object.metadata.etag else {
                    throw StorageError(kind: .service, code: "MalformedResponse", message: "the object has no ETag", uri: uri.description)
                }
                return TaggedObject(data: object.body, etag: etag)
            } catch let error as AWSError where error.kind == .notFound {
                return nil
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            guard LocalFiles.head(path) != nil else { return nil }
            let data: Data
            do {
                data = try LocalFiles.read(path, maxBytes: nil)
            } catch let error as StorageError where error.kind == .notFound {
                return nil
            }
            return TaggedObject(data: data, etag: LocalFiles.tag(data))
        }
    }

    /// Writes `data` only if no object has the key (S3 `If-None-Match: *`; locally an atomic
    /// `link(2)`): `.done(etag:)` or `.conflict`.
    public func create(_ uri: StorageURI, data: Data, contentType: String) async throws -> ConditionalOutcome {
        switch uri {
        case .s3(let bucket, let key):
            do {
                let result = try await client(uri).putObject(bucket: bucket, key: key, body: data, contentType: contentType,
                                                             condition: .ifAbsent, metadata: [:])
                return .done(etag: result.etag)
            } catch let error as AWSError where Self.isConditionFailure(error) {
                return .conflict
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            switch try LocalFiles.write(path, data: data, ifAbsent: true) {
            case .written: return .done(etag: LocalFiles.tag(data))
            case .alreadyExists: return .conflict
            }
        }
    }

    /// Replaces the object only if its tag is still `etag` (S3 `If-Match`; locally a read,
    /// compare and rename under an exclusive `flock(2)` on the directory).
    public func replace(_ uri: StorageURI, data: Data, contentType: String, ifMatch etag: String) async throws
        -> ConditionalOutcome
    {
        switch uri {
        case .s3(let bucket, let key):
            do {
                let result = try await client(uri).putObject(bucket: bucket, key: key, body: data, contentType: contentType,
                                                             condition: .ifMatch(etag: etag), metadata: [:])
                return .done(etag: result.etag)
            } catch let error as AWSError where Self.isConditionFailure(error) {
                return .conflict
            } catch let error as AWSError where error.kind == .notFound {
                return .missing
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            return try LocalFiles.ifTagMatches(path, etag) {
                _ = try LocalFiles.write(path, data: data, ifAbsent: false)
                return .done(etag: LocalFiles.tag(data))
            }
        }
    }

    /// Deletes the object only if its tag is still `etag`.
    ///
    /// S3: `DeleteObject` with `If-Match` when the client is an ``S3Client`` (the request is made
    /// here, because `S3API.deleteObject` takes no condition); with another `S3API`, a read,
    /// compare and delete, which is not atomic. Local: under the directory's `flock(2)`.
    public func delete(_ uri: StorageURI, ifMatch etag: String) async throws -> ConditionalOutcome {
        switch uri {
        case .s3(let bucket, let key):
            let s3 = try client(uri)
            guard let s3Client = s3 as? S3Client else {
                guard let current = try await head(uri) else { return .missing }
                guard current.etag == etag else { return .conflict }
                try await delete(uri)
                return .done(etag: nil)
            }
            do {
                let region = s3Client.region(of: bucket)
                var headers = HTTPHeaders()
                headers.add("If-Match", etag)
                let request = Self.s3Request("DELETE", client: s3Client.client, region: region, bucket: bucket, key: key,
                                             headers: headers)
                _ = try await s3Client.client.send(request, operation: "DeleteObject", signingRegion: region)
                return .done(etag: nil)
            } catch let error as AWSError where Self.isConditionFailure(error) {
                return .conflict
            } catch let error as AWSError where error.kind == .notFound {
                return .missing
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            return try LocalFiles.ifTagMatches(path, etag) {
                if unlink(path) != 0 {
                    if errno == ENOENT { return .missing }
                    throw LocalFiles.error(path, "DeleteFailed")
                }
                return .done(etag: nil)
            }
        }
    }

    /// Writes the file at `file` to `uri` without holding it in memory: locally through a
    /// temporary file renamed into place; to S3 in one PutObject up to the client's
    /// `multipartThreshold`, else as a multipart upload read part by part from the file (at most
    /// `parallelParts` parts in memory), aborted if any step fails.
    public func upload(_ uri: StorageURI, file: String, contentType: String, parallelParts: Int = 4) async throws
        -> WriteOutcome
    {
        guard let size = LocalFiles.head(file)?.size else {
            throw LocalFiles.error(file, "NoSuchKey", kind: .notFound, "no such file")
        }
        switch uri {
        case .s3(let bucket, let key):
            let s3 = try client(uri)
            guard let s3Client = s3 as? S3Client, size > s3Client.multipartThreshold else {
                return try await put(uri, data: try LocalFiles.read(file, maxBytes: nil), contentType: contentType, ifAbsent: false)
            }
            do {
                let etag = try await Self.multipartUpload(s3Client, bucket: bucket, key: key, file: file, size: size,
                                                          contentType: contentType, parallelParts: parallelParts)
                return .written(etag: etag)
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            guard let input = FileHandle(forReadingAtPath: file) else { throw LocalFiles.error(file, "ReadFailed") }
            defer { try? input.close() }
            let source = input.fileDescriptor
            return try LocalFiles.write(path, ifAbsent: false) { fd in
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let n = buffer.withUnsafeMutableBytes { Foundation.read(source, $0.baseAddress!, $0.count) }
                    if n == 0 { return true }
                    if n < 0 { if errno == EINTR { continue }; return false }
                    var offset = 0
                    while offset < n {
                        let w = buffer.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, n - offset) }
                        if w <= 0 { return false }
                        offset += w
                    }
                }
            }
        }
    }

    static func multipartUpload(_ s3: S3Client, bucket: String, key: String, file: String, size: Int, contentType: String,
                                parallelParts: Int) async throws -> String? {
        guard let input = FileHandle(forReadingAtPath: file) else { throw LocalFiles.error(file, "ReadFailed") }
        defer { try? input.close() }
        let uploadId = try await s3.createMultipartUpload(bucket: bucket, key: key, contentType: contentType)
        do {
            let partSize = s3.partSize
            let count = (size + partSize - 1) / partSize
            var parts: [S3CompletedPart] = []
            try await withThrowingTaskGroup(of: S3CompletedPart.self) { group in
                var next = 0
                func addPart() throws {
                    let number = next + 1
                    guard let body = try input.read(upToCount: partSize), !body.isEmpty else {
                        throw LocalFiles.error(file, "ReadFailed", "the file ended before its part \(number)")
                    }
                    next += 1
                    group.addTask {
                        try await s3.uploadPart(bucket: bucket, key: key, uploadId: uploadId, partNumber: number, body: body)
                    }
                }
                while next < min(count, max(1, parallelParts)) { try addPart() }
                for try await part in group {
                    parts.append(part)
                    if next < count { try addPart() }
                }
            }
            return try await s3.completeMultipartUpload(bucket: bucket, key: key, uploadId: uploadId, parts: parts).etag
        } catch {
            try? await s3.abortMultipartUpload(bucket: bucket, key: key, uploadId: uploadId)
            throw error
        }
    }

    /// A failed `If-Match` / `If-None-Match` (412), or S3's 409 for two conditional writes at once.
    static func isConditionFailure(_ error: AWSError) -> Bool {
        error.kind == .preconditionFailed || error.code == "ConditionalRequestConflict"
    }

    /// A request to `bucket/key` addressed as S3Client addresses it: path-style on a custom
    /// endpoint (or for a bucket name that is not a DNS label), else virtual-hosted in `region`.
    static func s3Request(_ method: String, client: AWSClient, region: String, bucket: String, key: String,
                         headers: HTTPHeaders) -> HTTPRequest {
        let encodedKey = "/" + AWSPercentEncoding.encode(key, allowSlash: true)
        var endpoint = client.endpoint
        if !endpoint.isCustom && region != client.region {
            endpoint = Endpoint(scheme: endpoint.scheme, host: "s3.\(region).\(region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com")")
        }
        let dnsLabel = StorageURI.isValidBucket(bucket) && !bucket.contains(".")
        if endpoint.isCustom || !dnsLabel {
            return HTTPRequest(method: method, endpoint: endpoint, path: "/" + AWSPercentEncoding.encode(bucket, allowSlash: false) + encodedKey,
                               headers: headers)
        }
        endpoint.host = "\(bucket).\(endpoint.host)"
        return HTTPRequest(method: method, endpoint: endpoint, path: encodedKey, headers: headers)
    }
}

extension LocalFiles {
    /// The local store's entity tag: the first 128 bits of the bytes' SHA-256, quoted as S3 quotes.
    static func tag(_ data: Data) -> String {
        "\"" + AWSCrypto.sha256Hex(data).prefix(32) + "\""
    }

    /// Runs `body` holding an exclusive `flock(2)` on the directory of `path` (created if
    /// needed), which every conditional replace and delete in that directory takes: the
    /// compare-and-swap of the local store. Held for one small read and write.
    /// The local store's conditional change: under the directory's lock, `.missing` when there is
    /// no file, `.conflict` when its tag is not `etag`, else what `change` does.
    static func ifTagMatches(_ path: String, _ etag: String,
                             _ change: () throws -> ConditionalOutcome) throws -> ConditionalOutcome {
        try withDirectoryLock(path) {
            guard head(path) != nil else { return .missing }
            guard tag(try read(path, maxBytes: nil)) == etag else { return .conflict }
            return try change()
        }
    }

    static func withDirectoryLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        var directory = (path as NSString).deletingLastPathComponent
        if directory.isEmpty { directory = "." }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(path, "LockFailed", "cannot open \(directory): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw error(path, "LockFailed", "cannot lock \(directory): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
