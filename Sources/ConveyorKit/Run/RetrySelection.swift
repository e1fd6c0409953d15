import AWSCore
import Foundation

/// `--retry-failed REPORT_URI`: the items that failed in an earlier run of the job, read from
/// that run's item manifest, to be run again and nothing else.
///
/// Rules: the report must be of the same job (by name) and not a dry run; its manifest (or a
/// merged report's manifests) must be readable. Items are matched by id against the current
/// plan; an item whose output has been written since follows `output.onExisting` like any other.
/// Failed ids the inputs no longer hold are reported (``notFound(found:shard:)``), not dropped.
public struct RetrySelection: Sendable, Equatable {
    /// The report retried, as the new report links to it (`previousReport`).
    public var previousReport: String
    /// The previous run's id, for messages.
    public var previousRunId: String
    /// The ids of every failed item in the report's manifest(s).
    public var failedIDs: Set<String>

    public init(previousReport: String, previousRunId: String, failedIDs: Set<String>) {
        self.previousReport = previousReport
        self.previousRunId = previousRunId
        self.failedIDs = failedIDs
    }

    /// Reads the report at `uri` and the failed ids of its manifest(s). Every problem is a
    /// `ConfigurationError` (exit 2: nothing is run).
    public static func load(report uri: StorageURI, job: Job, storage: Storage) async throws(ConfigurationError)
        -> RetrySelection
    {
        let report: RunReport
        do {
            report = try RunReport.load(from: try await storage.get(uri, maxBytes: 64 * 1024 * 1024))
        } catch {
            throw ConfigurationError("--retry-failed: cannot read the report \(uri): \(error)")
        }
        guard report.job == job.name else {
            throw ConfigurationError("--retry-failed: \(uri) is a report of job '\(report.job)', not of '\(job.name)' "
                + "(\(job.path)): give a report this job wrote")
        }
        guard !report.dryRun else {
            throw ConfigurationError("--retry-failed: \(uri) is the report of a dry run, which has no failed items")
        }
        let manifests = report.manifest.map { [$0] } ?? report.manifests ?? []
        guard !manifests.isEmpty else {
            throw ConfigurationError("--retry-failed: \(uri) names no item manifest, so its failed items cannot be listed "
                + "(a run writes RUNID.items.jsonl beside its report)")
        }
        var failed = Set<String>()
        for text in manifests {
            let manifest: StorageURI
            do {
                manifest = try StorageURI.parse(text)
            } catch {
                throw ConfigurationError("--retry-failed: the report's manifest '\(text)': \(error.message)")
            }
            do {
                for try await item in ManifestReader(uri: manifest, storage: storage) where item.status == .failed {
                    failed.insert(item.id)
                }
            } catch {
                throw ConfigurationError("--retry-failed: cannot read the manifest \(manifest): \(error)")
            }
        }
        return RetrySelection(previousReport: uri.description, previousRunId: report.runId, failedIDs: failed)
    }

    /// A retry writes a new report and manifest: under the retried run's own id (`--run-id`,
    /// `CONVEYOR_RUN_ID`) they would overwrite what is being retried.
    public func check(newRunID: String) throws(ConfigurationError) {
        if newRunID == previousRunId {
            throw ConfigurationError("--retry-failed: this run's id \(newRunID) is the retried run's own, so its report "
                + "would overwrite \(previousReport): give the retry another --run-id (or CONVEYOR_RUN_ID)")
        }
    }

    /// The failed ids that fall in `shard` (all of them without one).
    public func ids(in shard: Shard?) -> Set<String> {
        guard let shard else { return failedIDs }
        return failedIDs.filter { shard.contains(id: $0) }
    }

    /// The failed ids of `shard` that the listing did not produce (`found` are those it did),
    /// sorted.
    public func notFound(found: Set<String>, shard: Shard?) -> [String] {
        ids(in: shard).subtracting(found).sorted()
    }
}
