import Foundation

/// The places a job reads and writes, as `conveyor doctor` checks them and the IAM policy names
/// them: the same folders the run lists (`ExistingOutputs`), the lock beside the report
/// (`RunSession`), the manifest beside the report (`ManifestWriter`).
struct JobLocations {
    let job: Job

    /// Whether an input location is a prefix (listed) rather than one object, as `ItemSource` decides.
    static func isPrefix(_ uri: StorageURI) -> Bool {
        let key = ItemSource.Iterator.key(of: uri)
        return key.isEmpty || key.hasSuffix("/") || ItemSource.Iterator.isLocalDirectory(uri)
    }

    /// The folder an object is in: `s3://b/reports/x.json` → `s3://b/reports/`.
    static func folder(of uri: StorageURI) -> StorageURI {
        switch uri {
        case .s3(let bucket, let key):
            return .s3(bucket: bucket, key: key.lastIndex(of: "/").map { String(key[...$0]) } ?? "")
        case .file(let path):
            return .file(path: (path as NSString).deletingLastPathComponent + "/")
        }
    }

    /// The folders the outputs go to, rendered for a run: the prefix the run lists for resume
    /// (before the first per-item variable), for `output` and each `prompts[].output`, without
    /// repeats, each with where it is written.
    func outputFolders(builder: RequestBuilder) -> [(folder: StorageURI, at: SourceLocation)] {
        let texts = [job.output.location] + job.prompts.compactMap(\.output)
        var folders: [(folder: StorageURI, at: SourceLocation)] = []
        for text in texts {
            guard let folder = try? ExistingOutputs.listablePrefix(text.text, job: job, builder: builder) else { continue }
            if !folders.contains(where: { $0.folder == folder }) { folders.append((folder, text.location)) }
        }
        return folders
    }
}
