import Foundation

extension RunReport {
    /// One report from the reports of a job's shards (`conveyor report merge`).
    ///
    /// Counts, usage, calls and cost are summed; the run spans the earliest start to the latest
    /// finish; failures are listed up to the cap and failure codes summed. Latency percentiles are
    /// exact when every part carries its `latencyHistogram`; otherwise they are estimated from the
    /// parts' percentiles (weighted by items timed) and marked `latencyApproximate`. The status
    /// follows the rules on the merged counts, except that any interrupted part makes the whole
    /// interrupted, and any aborted part aborted. `manifest` is the parts' one manifest, or nil
    /// when there are several (all are listed in `manifests`).
    public static func merge(_ reports: [RunReport], failureLimit: Int = RunReport.defaultFailureLimit) throws(RunReportError)
        -> RunReport
    {
        guard let first = reports.first else { throw RunReportError("no reports to merge") }
        let jobs = Set(reports.map(\.job))
        guard jobs.count == 1 else {
            throw RunReportError("the reports are of different jobs (\(jobs.sorted().joined(separator: ", "))); merge the shards of one job")
        }
        let parts = reports.sorted { ($0.shard?.index ?? Int.max, $0.startedAt) < ($1.shard?.index ?? Int.max, $1.startedAt) }
        let shardCounts = Set(reports.compactMap(\.shard?.count))
        if shardCounts.count > 1 {
            throw RunReportError("the reports come from different shardings (\(shardCounts.sorted().map { "/\($0)" }.joined(separator: ", ")))")
        }
        var seenShards = Set<Int>()
        for report in parts {
            if let shard = report.shard, !seenShards.insert(shard.index).inserted {
                throw RunReportError("shard \(shard) appears twice (runs \(parts.filter { $0.shard == shard }.map(\.runId).joined(separator: ", ")))")
            }
        }

        let startedAt = parts.map(\.startedAt).min()!
        let finishedAt = parts.map(\.finishedAt).max()!
        var counts = Counts()
        var usage = Usage()
        var calls = Calls()
        var cost = 0.0
        for r in parts {
            counts.total += r.counts.total
            counts.succeeded += r.counts.succeeded
            counts.failed += r.counts.failed
            counts.skipped += r.counts.skipped
            usage.inputTokens += r.usage.inputTokens
            usage.outputTokens += r.usage.outputTokens
            calls.attempts += r.calls.attempts
            calls.throttled += r.calls.throttled
            calls.retried += r.calls.retried
            calls.schemaRetries += r.calls.schemaRetries
            cost += r.estimatedCostUSD
        }

        let ending: RunEnding
        var abortReason: AbortReason?
        var abortMessage: String?
        if let interrupted = parts.first(where: { $0.status == .interrupted }) {
            ending = .interrupted(message: interrupted.abortMessage)
            abortMessage = interrupted.abortMessage
        } else if let aborted = parts.first(where: { $0.status == .aborted }) {
            abortReason = aborted.abortReason
            let message = aborted.abortMessage ?? "aborted"
            abortMessage = aborted.shard.map { "shard \($0): \(message)" } ?? message
            ending = .aborted(aborted.abortReason ?? .fatal, message: abortMessage ?? "aborted")
        } else {
            ending = .completed
        }
        let models = parts.map(\.model).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let runIds = Set(parts.map(\.runId))

        var merged = RunReport(
            job: first.job, runId: runIds.count == 1 ? first.runId : parts[0].runId,
            dryRun: parts.allSatisfy(\.dryRun),
            status: .resolve(succeeded: counts.succeeded, failed: counts.failed, ending: ending),
            startedAt: startedAt, finishedAt: finishedAt, model: models.joined(separator: ", "), counts: counts,
            usage: usage, calls: calls, estimatedCostUSD: cost)
        merged.abortReason = abortReason
        merged.abortMessage = abortMessage

        // failures: listed up to the cap, the rest counted
        for r in parts {
            for f in r.failures {
                if merged.failures.count < failureLimit { merged.failures.append(f) } else { merged.failuresTruncated += 1 }
            }
            merged.failuresTruncated += r.failuresTruncated
        }
        var codes: [String: FailureCode] = [:]
        var order: [String] = []
        for r in parts {
            for c in r.topFailureCodes {
                if codes[c.code] == nil {
                    codes[c.code] = FailureCode(code: c.code, count: 0, exampleId: c.exampleId, exampleMessage: c.exampleMessage)
                    order.append(c.code)
                }
                codes[c.code]!.count += c.count
            }
        }
        merged.failureCodes = sortedCodes(order.compactMap { codes[$0] })

        // latency
        if parts.allSatisfy({ $0.latencyHistogram != nil }) {
            var histogram = LatencyHistogram()
            for r in parts { histogram.merge(r.latencyHistogram!) }
            merged.latencyHistogram = histogram
            merged.latencyMs = Latency(histogram)
        } else {
            merged.latencyMs = approximateLatency(parts)
            merged.latencyApproximate = parts.contains { $0.latencyMs.p50 != nil }
        }

        let manifests = parts.compactMap { $0.manifests ?? $0.manifest.map { [$0] } }.flatMap { $0 }
        merged.manifests = manifests
        merged.manifest = manifests.count == 1 ? manifests[0] : nil
        merged.mergedFrom = parts.flatMap { r in r.mergedFrom ?? [Part(runId: r.runId, shard: r.shard, status: r.status)] }
        let versions = Set(parts.compactMap(\.conveyorVersion))
        merged.conveyorVersion = versions.count == 1 ? versions.first : nil
        let previous = Set(parts.compactMap(\.previousReport))
        merged.previousReport = previous.count == 1 ? previous.first : nil
        // shards look for their own failed items: those not found add up
        merged.retryNotFound = parts.reduce(0) { $0 + $1.retryNotFound }
        merged.retryNotFoundIds = Array(parts.flatMap(\.retryNotFoundIds).sorted().prefix(failureLimit))
        return merged
    }

    /// Percentiles weighted by the items each part timed (succeeded + failed); the maximum is
    /// exact.
    static func approximateLatency(_ parts: [RunReport]) -> Latency {
        func combine(_ value: (Latency) -> Int?) -> Int? {
            var total = 0.0
            var weight = 0.0
            for r in parts {
                guard let v = value(r.latencyMs) else { continue }
                let w = Double(max(1, r.counts.succeeded + r.counts.failed))
                total += Double(v) * w
                weight += w
            }
            return weight > 0 ? Int((total / weight).rounded()) : nil
        }
        return Latency(p50: combine(\.p50), p90: combine(\.p90), p99: combine(\.p99),
                       max: parts.compactMap(\.latencyMs.max).max())
    }
}
