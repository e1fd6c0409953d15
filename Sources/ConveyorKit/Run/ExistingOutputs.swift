import AWSCore
import Foundation
import Logging
import Synchronization

/// Which outputs exist already, for `onExisting: skip` and `fail`: a rerun after a crash must
/// skip what was written, without a model call. The output prefix is listed once when the key
/// template allows it (the part before the first per-item variable), holding 8 bytes per key;
/// outputs elsewhere are checked with a HEAD each.
public struct ExistingOutputs: Sendable {
    /// The listed prefix and the hashes of the keys found under it.
    let prefix: StorageURI?
    let hashes: Set<UInt64>
    public static let maxListed = 5_000_000

    public static let none = ExistingOutputs(prefix: nil, hashes: [])

    public var listedCount: Int { hashes.count }

    public static func load(job: Job, builder: RequestBuilder, storage: Storage, logger: Logger) async throws -> ExistingOutputs {
        guard job.output.onExisting != .overwrite, let prefix = try listablePrefix(job: job, builder: builder) else { return .none }
        var hashes = Set<UInt64>()
        do {
            for try await object in storage.list(prefix) {
                hashes.insert(hash(object.uri.description))
                if hashes.count > maxListed {
                    logger.notice("more than \(maxListed) objects under \(prefix); checking outputs one by one instead")
                    return .none
                }
            }
        } catch let error as StorageError where error.kind == .notFound && error.code != "NoSuchBucket" {
            return ExistingOutputs(prefix: prefix, hashes: [])  // a local folder not made yet
        }
        logger.info("found \(hashes.count) existing object\(hashes.count == 1 ? "" : "s") under \(prefix)")
        return ExistingOutputs(prefix: prefix, hashes: hashes)
    }

    /// The output key's folder up to the first per-item variable, rendered for this run: e.g.
    /// `s3://b/summaries/2026-11-30/` for `s3://b/summaries/{{run.date}}/{{item.name}}.json`.
    static func listablePrefix(job: Job, builder: RequestBuilder) throws -> StorageURI? {
        try listablePrefix(job.output.location.text, job: job, builder: builder)
    }

    /// The same for any output key template of the job (`prompts[].output` too).
    static func listablePrefix(_ text: String, job: Job, builder: RequestBuilder) throws -> StorageURI? {
        var cut = text.endIndex
        var search = text.startIndex
        while let open = text.range(of: "{{", range: search..<text.endIndex) {
            guard let close = text.range(of: "}}", range: open.upperBound..<text.endIndex) else { break }
            let name = text[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if name == "input" || name.hasPrefix("record") || name.hasPrefix("item.") {
                cut = open.lowerBound
                break
            }
            search = close.upperBound
        }
        let head = String(text[..<cut])
        guard let slash = head.lastIndex(of: "/") else { return nil }
        let folder = String(head[...slash])
        guard let template = try? OutputKeyTemplate(folder + "x", scope: .perRun(vars: Set(job.vars.keys))),
              let rendered = try? template.render(TemplateValues(run: builder.run, item: nil))
        else { return nil }
        let uri = RequestBuilder.uri(rendered, base: job.baseDirectory)
        switch uri {
        case .s3(let bucket, let key): return .s3(bucket: bucket, key: String(key.dropLast()))
        case .file(let path): return .file(path: String(path.dropLast()))
        }
    }

    /// Whether `output` exists: from the listing when it lies under the listed prefix, else HEAD.
    public func contains(_ output: StorageURI, storage: Storage) async throws -> Bool {
        if let prefix, output.description.hasPrefix(prefix.description) {
            return hashes.contains(Self.hash(output.description))
        }
        return try await storage.head(output) != nil
    }

    static func hash(_ text: String) -> UInt64 { StableHash.fnv1a(text) }
}
