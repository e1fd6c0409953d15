import Foundation

/// Where the shards of one run write their reports, so that `conveyor report merge --job` can
/// find them from the job file, the shared run id and the shard count alone.
public struct ShardReports: Sendable, Equatable {
    /// The job's report location for the run: where a single, unsharded run would write, and where
    /// the merged report goes.
    public var merged: StorageURI
    /// Shard i's report, for i in 0..<count.
    public var shards: [StorageURI]

    /// The locations for run `runID` split in `count` shards. Throws when the job has no report,
    /// or when its report key uses `{{run.date}}`, which each shard took from its own start (so it
    /// cannot be known afterwards).
    public static func locate(job: Job, runID: String, count: Int) throws(ConfigurationError) -> ShardReports {
        guard let template = job.templates.report else {
            throw ConfigurationError("\(job.path): the job has no report location, so its shards wrote no reports to merge")
        }
        guard count >= 1 else { throw ConfigurationError("--shards must be at least 1, got \(count)") }
        if template.key.variables.contains(.runDate) {
            throw ConfigurationError("\(job.path): the report location uses {{run.date}}, which each shard takes from its own start; merge the shard reports by their locations instead (conveyor report merge URI...)")
        }
        let run = TemplateValues.Run(jobName: job.name, runID: runID, startedAt: Date(), vars: job.vars)
        let builder = RequestBuilder(job: job, prompts: ResolvedPrompts(system: nil, prompt: nil, ssmParameters: [], s3Objects: []),
                                     run: run)
        let rendered: StorageURI?
        do {
            rendered = try builder.report()
        } catch {
            throw ConfigurationError("\(job.path): report: \(error)")
        }
        guard let merged = rendered else { throw ConfigurationError("\(job.path): the job has no report location") }
        var shards: [StorageURI] = []
        for index in 0..<count {
            shards.append(try Shard(index: index, count: count).located(merged))
        }
        return ShardReports(merged: merged, shards: shards)
    }
}
