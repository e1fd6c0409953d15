import Foundation

extension RunReport {
    /// A readable summary for `conveyor report`: status, counts, timing and throughput, tokens,
    /// estimated cost, calls, latency percentiles, the most frequent failure codes (with a count
    /// and an example each), and where the manifest is.
    public func render(topCodes: Int = 5) -> String {
        var lines: [String] = []
        func row(_ label: String, _ text: String) { lines.append(Self.pad(label, 11) + text) }

        var head = "\(job) run \(runId): \(status.rawValue)"
        if dryRun { head += " (dry run)" }
        head += ", exit \(exitCode)"
        lines.append(head)
        if let mergedFrom {
            row("merged", "\(mergedFrom.count) reports: " + mergedFrom.map { part in
                part.shard.map { "shard \($0) \(part.status.rawValue)" } ?? "\(part.runId) \(part.status.rawValue)"
            }.joined(separator: ", "))
        }
        if let abortReason {
            row("aborted", abortReason.rawValue + (abortMessage.map { ": " + $0 } ?? ""))
        } else if let abortMessage {
            row(status == .interrupted ? "stopped" : "note", abortMessage)
        }
        if !model.isEmpty { row("model", model) }
        if let shard { row("shard", shard.description) }
        if let batchJobs { row("batch jobs", batchJobs.isEmpty ? "none" : batchJobs.joined(separator: ", ")) }
        row("time", "\(Self.timestamp(startedAt)) to \(Self.timestamp(finishedAt)) (\(Self.duration(durationSeconds)))")

        var items = "\(Self.grouped(counts.total)) total: \(Self.grouped(counts.succeeded)) succeeded, "
            + "\(Self.grouped(counts.failed)) failed, \(Self.grouped(counts.skipped)) skipped"
        if counts.notRun > 0 { items += ", \(Self.grouped(counts.notRun)) not run" }
        row("items", items)
        if let rate = itemsPerSecond {
            var text = Self.rate(rate) + " items/s"
            if let tokens = outputTokensPerSecond, tokens > 0 { text += ", \(Self.rate(tokens)) output tokens/s" }
            row("throughput", text)
        }
        row("tokens", "\(Self.grouped(usage.inputTokens)) input, \(Self.grouped(usage.outputTokens)) output")
        row("cost", Self.dollars(estimatedCostUSD) + " (estimated)")
        row("calls", "\(Self.grouped(calls.attempts)) attempts, \(Self.grouped(calls.throttled)) throttled, "
            + "\(Self.grouped(calls.retried)) retried"
            + (calls.schemaRetries > 0
                ? ", \(Self.grouped(calls.schemaRetries)) schema follow-up\(calls.schemaRetries == 1 ? "" : "s")" : ""))
        if let p50 = latencyMs.p50 {
            var text = "p50 \(Self.milliseconds(p50))"
            if let p90 = latencyMs.p90 { text += ", p90 \(Self.milliseconds(p90))" }
            if let p99 = latencyMs.p99 { text += ", p99 \(Self.milliseconds(p99))" }
            if let max = latencyMs.max { text += ", max \(Self.milliseconds(max))" }
            if latencyApproximate { text += " (approximate)" }
            row("latency", text)
        } else {
            row("latency", "no items timed")
        }

        let codes = topFailureCodes
        if !codes.isEmpty {
            let shown = codes.prefix(topCodes)
            lines.append("failures by code:")
            let width = shown.map { Self.grouped($0.count).count }.max() ?? 1
            let codeWidth = min(32, shown.map(\.code.count).max() ?? 1)
            for code in shown {
                let example = Self.oneLine(code.exampleMessage, limit: 100)
                lines.append("  " + Self.padLeft(Self.grouped(code.count), width) + "  " + Self.pad(code.code, codeWidth)
                             + "  e.g. \(code.exampleId): \(example)")
            }
            if codes.count > shown.count {
                let rest = codes.dropFirst(shown.count).reduce(0) { $0 + $1.count }
                lines.append("  " + Self.padLeft(Self.grouped(rest), width) + "  in \(codes.count - shown.count) other codes")
            }
            if failuresTruncated > 0 {
                lines.append("  (the report lists the first \(Self.grouped(failures.count)) failures; "
                             + "\(Self.grouped(failuresTruncated)) more are in the manifest)")
            }
        }
        if let manifests, manifests.count > 1 {
            lines.append("manifests:")
            for m in manifests { lines.append("  " + m) }
        } else if let manifest = manifest ?? manifests?.first {
            row("manifest", manifest)
        } else {
            row("manifest", "none")
        }
        if let previousReport { row("retried", "failures of " + previousReport) }
        if retryNotFound > 0 {
            let listed = retryNotFoundIds.prefix(5).joined(separator: ", ") + (retryNotFound > 5 ? ", …" : "")
            let items = "\(Self.grouped(retryNotFound)) failed item\(retryNotFound == 1 ? " is" : "s are")"
            row("not found", "\(items) no longer in the inputs: \(listed)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Failure codes by count: the counted ones when the report carries them, else derived from
    /// the listed failures (older or foreign reports).
    public var topFailureCodes: [FailureCode] {
        if !failureCodes.isEmpty { return Self.sortedCodes(failureCodes) }
        var byCode: [String: FailureCode] = [:]
        for f in failures {
            byCode[f.code, default: FailureCode(code: f.code, count: 0, exampleId: f.id, exampleMessage: f.message)].count += 1
        }
        return Self.sortedCodes(Array(byCode.values))
    }

    // MARK: Formatting

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// 1234567 → `1,234,567`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func rate(_ r: Double) -> String {
        r >= 100 ? String(Int(r.rounded())) : String(format: r >= 10 ? "%.1f" : "%.2f", r)
    }

    static func dollars(_ usd: Double) -> String {
        if usd == 0 { return "$0.00" }
        return usd < 0.01 ? String(format: "$%.4f", usd) : String(format: "$%.2f", usd)
    }

    static func milliseconds(_ ms: Int) -> String {
        ms < 1000 ? "\(ms) ms" : String(format: "%.2f s", Double(ms) / 1000)
    }

    /// 12.5 → `12.5s`, 200 → `3m20s`, 7384 → `2h03m04s`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: seconds < 10 ? "%.2fs" : "%.1fs", seconds) }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60)
        return h > 0 ? String(format: "%dh%02dm%02ds", h, m, s) : String(format: "%dm%02ds", m, s)
    }

    static func oneLine(_ text: String, limit: Int) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }
}
