import AWSCore
import Foundation

/// The items of a run, produced as they are consumed: listing pages are fetched, and jsonl or csv
/// objects read in chunks, only when the consumer asks for more. Memory holds one listing page and
/// one chunk, whatever the number of inputs.
public struct ItemSource: AsyncSequence, Sendable {
    public typealias Element = WorkItem

    let job: Job
    let storage: Storage
    let run: TemplateValues.Run
    let shard: Shard?
    let maxItems: Int?
    let chunkSize: Int
    /// `--retry-failed`: only the items with these ids.
    let only: Set<String>?

    public init(job: Job, storage: Storage, run: TemplateValues.Run, shard: Shard? = nil, maxItems: Int? = nil,
                chunkSize: Int = 4 * 1024 * 1024, only: Set<String>? = nil) {
        self.job = job
        self.storage = storage
        self.run = run
        self.shard = shard
        self.maxItems = maxItems
        self.chunkSize = chunkSize
        self.only = only
    }

    /// The input locations of the job, rendered for this run and resolved against the job's folder.
    public func inputLocations() throws -> [StorageURI] {
        try job.templates.inputLocations.map { template in
            let text: String
            do { text = try template.render(TemplateValues(run: run, item: nil)) } catch {
                throw ConfigurationError("\(error)")
            }
            do { return try StorageURI.parse(text).resolved(against: job.baseDirectory) } catch let error as StorageURI.ParseError {
                throw ConfigurationError("inputs.s3 '\(text)': \(error.message)")
            }
        }
    }

    public func makeAsyncIterator() -> Iterator { Iterator(source: self) }

    public struct Iterator: AsyncIteratorProtocol {
        let source: ItemSource
        var started = false
        var locations: [StorageURI] = []
        var locationIndex = 0
        var listing: StorageListing.AsyncIterator?
        var currentPrefix = ""
        var filter = KeyFilter()
        var pending: [WorkItem] = []
        var pendingIndex = 0
        var records: RecordCursor?
        var promptIndex = 0
        var nextIndex = 0
        var produced = 0

        init(source: ItemSource) {
            self.source = source
        }

        public mutating func next() async throws -> WorkItem? {
            while true {
                if let limit = source.maxItems, produced >= limit { return nil }
                guard let item = try await nextCandidate() else { return nil }
                if let shard = source.shard, !shard.contains(item) { continue }
                if let only = source.only, !only.contains(item.id) { continue }
                produced += 1
                return item
            }
        }

        mutating func assignIndex(_ item: inout WorkItem) {
            item.index = nextIndex
            nextIndex += 1
        }

        mutating func nextCandidate() async throws -> WorkItem? {
            if !started {
                started = true
                if let inputs = source.job.inputs {
                    locations = try source.inputLocations()
                    do {
                        filter = try KeyFilter(include: inputs.include, exclude: inputs.exclude)
                    } catch {
                        throw ConfigurationError("inputs.include/exclude: \(error)")
                    }
                }
            }
            while true {
                // records of the object being read
                if var cursor = records {
                    let next = try await cursor.next()
                    records = cursor
                    if var item = next {
                        assignIndex(&item)
                        return item
                    }
                    records = nil
                }
                // objects of the current listing
                if listing != nil {
                    guard let object = try await listing!.next() else {
                        listing = nil
                        continue
                    }
                    let key = Self.key(of: object.uri)
                    let relative = KeyFilter.relativeKey(key, prefix: currentPrefix)
                    guard filter.accepts(relative) else { continue }
                    if let item = try await startObject(object, relative: relative) { return item }
                    continue
                }
                // the next input location
                if locationIndex < locations.count {
                    let location = locations[locationIndex]
                    locationIndex += 1
                    let key = Self.key(of: location)
                    if key.isEmpty || key.hasSuffix("/") || Self.isLocalDirectory(location) {
                        currentPrefix = key.hasSuffix("/") || key.isEmpty ? key : key + "/"
                        listing = source.storage.list(location).makeAsyncIterator()
                        continue
                    }
                    // a single object: read its size, then treat it like a listed one
                    guard let object = try await source.storage.head(location) else {
                        throw StorageError(kind: .notFound, code: "NoSuchKey", message: "the input object does not exist",
                                           uri: location.description)
                    }
                    currentPrefix = (key as NSString).deletingLastPathComponent + "/"
                    if let item = try await startObject(object, relative: (key as NSString).lastPathComponent) { return item }
                    continue
                }
                // form B prompts
                if promptIndex < source.job.prompts.count {
                    let spec = source.job.prompts[promptIndex]
                    promptIndex += 1
                    var input: StorageURI?
                    if let text = spec.input?.text {
                        do { input = try StorageURI.parse(text).resolved(against: source.job.baseDirectory) } catch {
                            throw ConfigurationError("prompts[\(spec.id)].input: \(error.message)")
                        }
                    }
                    var item = WorkItem(index: 0, id: spec.id, key: input.map(Self.key(of:)),
                                        source: .prompt(id: spec.id, input: input), inputURI: input?.description)
                    assignIndex(&item)
                    return item
                }
                return nil
            }
        }

        /// A text object becomes one item; a jsonl or csv object starts a record cursor.
        mutating func startObject(_ object: StoredObject, relative: String) async throws -> WorkItem? {
            let key = Self.key(of: object.uri)
            let format = source.job.inputs?.format ?? .text
            switch format {
            case .text:
                let id = Self.textID(relative)
                var item = WorkItem(index: 0, id: id, key: key, source: .object(object.uri, size: object.size),
                                    inputURI: object.uri.description)
                assignIndex(&item)
                return item
            case .jsonl, .csv:
                records = RecordCursor(storage: source.storage, object: object, key: key, format: format,
                                       idField: source.job.inputs?.idField,
                                       maxBytes: source.job.inputs?.maxBytes ?? 1_048_576, chunkSize: source.chunkSize)
                return nil
            }
        }

        /// A text item's id: its key below the input prefix, without the extension.
        static func textID(_ relative: String) -> String {
            let directory = (relative as NSString).deletingLastPathComponent
            let name = ItemNaming.name(ofKey: relative)
            return directory.isEmpty ? name : directory + "/" + name
        }

        static func key(of uri: StorageURI) -> String {
            switch uri {
            case .s3(_, let key): return key
            case .file(let path): return path
            }
        }

        static func isLocalDirectory(_ uri: StorageURI) -> Bool {
            if case .file(let path) = uri { return FileManager.default.isDirectory(path) }
            return false
        }
    }
}

/// Reads one jsonl or csv object a chunk at a time and hands out its records as items.
struct RecordCursor {
    let storage: Storage
    let object: StoredObject
    let key: String
    let format: InputFormat
    let idField: String?
    let chunkSize: Int
    var offset = 0
    var finished = false
    var jsonl: JSONLReader
    var csv: CSVReader
    var ready: [WorkItem] = []
    var readyIndex = 0
    var local: FileHandle?
    /// The part of the last chunk read that is not parsed yet. A chunk is parsed a slice at a
    /// time, so that the items waiting at once are a slice's worth (a few thousand), not a whole
    /// chunk's (a 4 MiB range of short records is about 60,000 items).
    var unparsed = Data()
    static let parseSlice = 256 * 1024

    init(storage: Storage, object: StoredObject, key: String, format: InputFormat, idField: String?, maxBytes: Int,
         chunkSize: Int) {
        self.storage = storage
        self.object = object
        self.key = key
        self.format = format
        self.idField = idField
        self.chunkSize = chunkSize
        jsonl = JSONLReader(maxLineBytes: maxBytes)
        csv = CSVReader(maxRowBytes: maxBytes)
    }

    mutating func next() async throws -> WorkItem? {
        while readyIndex >= ready.count {
            if finished { return nil }
            ready = []
            readyIndex = 0
            if unparsed.isEmpty {
                let chunk = try await readChunk()
                if chunk.isEmpty {
                    finished = true
                    try? local?.close()
                    try take(last: true, Data())
                    continue
                }
                unparsed = chunk
            }
            // the readers take any split of their input, so a slice may end mid-record
            let end = unparsed.index(unparsed.startIndex, offsetBy: min(Self.parseSlice, unparsed.count))
            let slice = unparsed[unparsed.startIndex..<end]
            unparsed = end == unparsed.endIndex ? Data() : unparsed[end...]
            try take(last: false, Data(slice))
        }
        defer { readyIndex += 1 }
        return ready[readyIndex]
    }

    mutating func readChunk() async throws -> Data {
        guard offset < object.size else { return Data() }
        let data: Data
        switch object.uri {
        case .s3:
            data = try await storage.getRange(object.uri, offset: offset, length: min(chunkSize, object.size - offset))
        case .file(let path):
            if local == nil {
                guard let handle = FileHandle(forReadingAtPath: path) else {
                    throw StorageError(kind: .accessDenied, code: "AccessDenied", message: "cannot open", uri: object.uri.description)
                }
                local = handle
            }
            data = (try? local!.read(upToCount: chunkSize)) ?? Data()
        }
        offset += data.count
        if data.isEmpty { offset = object.size }
        return data
    }

    mutating func take(last: Bool, _ chunk: Data) throws {
        let uri = object.uri.description
        switch format {
        case .jsonl:
            let entries = last ? jsonl.finish() : jsonl.feed(chunk)
            for entry in entries {
                switch entry {
                case .success(let record):
                    do {
                        let id = try ItemNaming.recordID(key: key, record: record, idField: idField)
                        ready.append(WorkItem(index: 0, id: id, key: key, source: .record(raw: record.raw, fields: .json(record.object)),
                                              inputURI: "\(uri)#\(record.line)"))
                    } catch {
                        ready.append(failed(line: record.line, error))
                    }
                case .failure(let error):
                    ready.append(failed(line: error.line, error.problem))
                }
            }
        case .csv:
            let entries: [CSVReader.Entry]
            do {
                entries = last ? try csv.finish() : try csv.feed(chunk)
            } catch {
                // a header problem spoils the whole file: one failed item names it
                if !finished || ready.isEmpty { ready.append(failed(line: 1, error)) }
                finished = true
                return
            }
            for entry in entries {
                switch entry {
                case .success(let row):
                    do {
                        let id = try ItemNaming.recordID(key: key, row: row, idField: idField)
                        ready.append(WorkItem(index: 0, id: id, key: key, source: .record(raw: row.raw, fields: .fields(row.dictionary)),
                                              inputURI: "\(uri)#\(row.line)"))
                    } catch {
                        ready.append(failed(line: row.line, error))
                    }
                case .failure(let error):
                    ready.append(failed(line: error.line, error.problem))
                }
            }
        case .text:
            break
        }
    }

    func failed(line: Int, _ problem: InputProblem) -> WorkItem {
        WorkItem(index: 0, id: ItemNaming.recordID(key: key, line: line), key: key, source: .unreadable(problem),
                 inputURI: "\(object.uri.description)#\(line)")
    }
}

extension Storage {
    /// `length` bytes from `offset` (S3 ranged GET; local read).
    public func getRange(_ uri: StorageURI, offset: Int, length: Int) async throws -> Data {
        switch uri {
        case .s3(let bucket, let key):
            do {
                return try await client(uri).getObject(bucket: bucket, key: key,
                                                       range: .bytes(first: offset, last: offset + length - 1)).body
            } catch {
                throw Self.map(error, uri: uri)
            }
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw StorageError(kind: .notFound, code: "NoSuchKey", message: "cannot open", uri: uri.description)
            }
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(offset))
            return (try handle.read(upToCount: length)) ?? Data()
        }
    }
}
