import AWSCore
import Foundation
import Logging
import Synchronization

/// The collected values could not be written.
struct CollectError: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `output.format: jsonl`: every item's value, collected into one JSON-lines object at
/// `output.collect` when the run has gone through all its items. Resume-safe: the per-item
/// outputs stay the source of truth, so items skipped because their output exists contribute the
/// value read back from that output, and a rerun rebuilds the whole object. Never torn: lines go to
/// a spool file, uploaded at the end in one PUT (or a multipart upload for a large one).
///
/// Each line is `{"item": {"id", "key", "index"}, "json": VALUE}`, in the order items finished.
final class ValueCollection: Sendable {
    let destination: StorageURI
    let spool: ManifestWriter
    let logger: Logger
    let missing = Mutex<(count: Int, example: String?)>((0, nil))

    /// Where the values go for this run: `output.collect` rendered, each shard's own when the run
    /// is sharded (`.shard-I-of-N` before the extension).
    static func location(job: Job, builder: RequestBuilder, shard: Shard?) throws -> StorageURI? {
        guard job.output.format == .jsonl, let template = job.templates.collect else { return nil }
        let rendered = try template.render(TemplateValues(run: builder.run, item: nil))
        let uri = RequestBuilder.uri(rendered, base: job.baseDirectory)
        return shard?.located(uri) ?? uri
    }

    init(destination: StorageURI, logger: Logger) throws {
        self.destination = destination
        self.logger = logger
        spool = try ManifestWriter(destination: destination, label: "collection")
    }

    /// The line of an item whose value this run produced.
    func add(_ item: WorkItem, value: JSONValue) {
        line(item: OutputRecord.itemObject(item), value: value)
    }

    /// The line of an item skipped because its output exists: the value read back from that output.
    func addExisting(_ item: WorkItem, output: StorageURI, storage: Storage) async {
        do {
            let record = try JSONValue.parse(try await storage.get(output))
            guard let value = record["json"] else {
                return noValue(item, "its output \(output) has no json value (written without output.schema?)")
            }
            line(item: record["item"]?.objectValue ?? OutputRecord.itemObject(item), value: value)
        } catch {
            noValue(item, "its output \(output) could not be read back: \(error)")
        }
    }

    func line(item: JSONObject, value: JSONValue) {
        let line: JSONValue = ["item": .object(item), "json": value]
        spool.append(line: Data((PrettyJSON.compact(line) + "\n").utf8))
    }

    func noValue(_ item: WorkItem, _ reason: String) {
        missing.withLock { m in
            m.count += 1
            if m.example == nil { m.example = "item \(item.id): \(reason)" }
        }
    }

    /// Uploads the collected object; how many lines it holds.
    func finish(storage: Storage) async throws -> Int {
        let (count, example) = missing.withLock { ($0.count, $0.example) }
        if count > 0, let example {
            logger.warning("\(count) skipped item\(count == 1 ? "" : "s") gave no value to \(destination), such as \(example)")
        }
        do {
            let upload = try await spool.finish(storage: storage)
            logger.info("values collected", metadata: ["collect": "\(destination)", "lines": "\(upload.lines)"])
            return upload.lines
        } catch let error as ManifestError {
            throw CollectError(message: "output.collect: \(error.message)")
        }
    }

    /// The run did not go through all the job's items: its values are not written, so that the
    /// object is never partial.
    func discard(because reason: String) {
        spool.discard()
        logger.notice("\(reason): the collected values are not written to \(destination); a run of the whole job (which skips the items already done) writes them")
    }
}
