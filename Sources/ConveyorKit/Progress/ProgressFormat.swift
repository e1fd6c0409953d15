import Foundation

/// `--progress auto|always|never`.
public enum ProgressMode: String, Sendable, Equatable, CaseIterable {
    /// A live line when standard error is a terminal, else periodic summary lines.
    case auto
    /// A live line, even when standard error is not a terminal.
    case always
    /// Periodic summary lines (cron, CI logs).
    case never
}

/// Where a run stands, as the runner sees it.
public struct ProgressSnapshot: Sendable, Equatable {
    /// Items finished (succeeded, failed or skipped).
    public var done: Int
    /// All items; nil while they are still being listed.
    public var total: Int?
    public var succeeded: Int
    public var failed: Int
    public var skipped: Int
    /// Items started and not finished.
    public var inFlight: Int
    /// Throttled calls so far.
    public var throttled: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var costUSD: Double
    /// Seconds since the run started.
    public var elapsed: TimeInterval
    /// Items per second; nil to use the average so far (done / elapsed).
    public var rate: Double?
    /// Seconds to go; nil to derive it from the rate and the items left.
    public var eta: TimeInterval?

    public init(done: Int = 0, total: Int? = nil, succeeded: Int = 0, failed: Int = 0, skipped: Int = 0, inFlight: Int = 0,
                throttled: Int = 0, inputTokens: Int = 0, outputTokens: Int = 0, costUSD: Double = 0,
                elapsed: TimeInterval = 0, rate: Double? = nil, eta: TimeInterval? = nil) {
        self.done = done
        self.total = total
        self.succeeded = succeeded
        self.failed = failed
        self.skipped = skipped
        self.inFlight = inFlight
        self.throttled = throttled
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
        self.elapsed = elapsed
        self.rate = rate
        self.eta = eta
    }

    /// From ``RunStats``'s figures and what only the runner knows.
    public init(stats: RunStats.Snapshot, total: Int?, inFlight: Int, elapsed: TimeInterval, rate: Double? = nil) {
        self.init(done: stats.finished, total: total, succeeded: stats.succeeded, failed: stats.failed, skipped: stats.skipped,
                  inFlight: inFlight, throttled: stats.throttled, inputTokens: stats.inputTokens,
                  outputTokens: stats.outputTokens, costUSD: stats.costUSD, elapsed: elapsed, rate: rate)
    }

    /// The given rate, else the average so far.
    public var effectiveRate: Double? {
        if let rate { return rate.isFinite && rate >= 0 ? rate : nil }
        return elapsed > 0 && done > 0 ? Double(done) / elapsed : nil
    }

    /// The given ETA, else the items left at the rate; nil when the total is unknown.
    public var effectiveETA: TimeInterval? {
        if let eta { return eta.isFinite && eta >= 0 ? eta : nil }
        guard let total else { return nil }
        let left = max(0, total - done)
        if left == 0 { return 0 }
        guard let rate = effectiveRate, rate > 0 else { return nil }
        return Double(left) / rate
    }

    /// 0...1, when the total is known.
    public var fraction: Double? {
        guard let total else { return nil }
        return total == 0 ? 1 : min(1, Double(done) / Double(total))
    }
}

/// The text of progress output, free of terminals and clocks so that it can be tested.
public enum ProgressFormat {
    /// The live line: the segments that fit in `width - 1` columns (so the terminal never wraps),
    /// dropping the least useful first (tokens, the label, skipped, in flight, cost, throttled,
    /// succeeded, rate, failed, ETA); the count is always kept and cut if even it does not fit.
    ///
    ///     nightly  1,234/2,000 61.7%  ok 1,220  failed 4  skipped 10  12.3/s  ETA 1m02s  in flight 16  throttled 40  tok 1.2M/95k  $1.23
    public static func liveLine(_ s: ProgressSnapshot, width: Int, label: String? = nil) -> String {
        var segments: [(text: String, priority: Int)] = []
        if let label, !label.isEmpty { segments.append((label, 2)) }
        if let total = s.total {
            let percent = String(format: "%.1f%%", (s.fraction ?? 0) * 100)
            segments.append(("\(grouped(s.done))/\(grouped(total)) \(percent)", 100))
        } else {
            segments.append(("\(grouped(s.done))/? listing", 100))
        }
        segments.append(("ok \(grouped(s.succeeded))", 6))
        if s.failed > 0 { segments.append(("failed \(grouped(s.failed))", 8)) }
        if s.skipped > 0 { segments.append(("skipped \(grouped(s.skipped))", 3)) }
        if let rate = s.effectiveRate { segments.append((self.rate(rate) + "/s", 7)) }
        if s.total != nil, s.done < (s.total ?? 0), let eta = s.effectiveETA { segments.append(("ETA " + duration(eta), 9)) }
        if s.inFlight > 0 { segments.append(("in flight \(grouped(s.inFlight))", 4)) }
        if s.throttled > 0 { segments.append(("throttled \(grouped(s.throttled))", 5)) }
        if s.inputTokens > 0 || s.outputTokens > 0 {
            segments.append(("tok \(compact(s.inputTokens))/\(compact(s.outputTokens))", 1))
        }
        if s.costUSD > 0 { segments.append((dollars(s.costUSD), 4)) }

        let limit = max(1, width - 1)
        func joined() -> String { segments.map(\.text).joined(separator: "  ") }
        var line = joined()
        while line.count > limit, segments.count > 1,
              let lowest = segments.indices.filter({ segments[$0].priority < 100 }).min(by: { segments[$0].priority < segments[$1].priority }) {
            segments.remove(at: lowest)
            line = joined()
        }
        if line.count > limit { line = String(line.prefix(limit)) }
        return line
    }

    /// A plain line for logs (cron, CI), every field named:
    ///
    ///     progress: 1234/2000 (61.7%) succeeded=1220 failed=4 skipped=10 rate=12.3/s eta=1m02s in_flight=16 throttled=40 input_tokens=1234567 output_tokens=95000 cost_usd=1.23 elapsed=1m40s
    public static func summaryLine(_ s: ProgressSnapshot, final: Bool = false, label: String? = nil) -> String {
        var parts: [String] = []
        var head = final ? "finished:" : "progress:"
        if let label, !label.isEmpty { head = "\(label) \(head)" }
        parts.append(head)
        if let total = s.total {
            parts.append("\(s.done)/\(total) (\(String(format: "%.1f%%", (s.fraction ?? 0) * 100)))")
        } else {
            parts.append("\(s.done)/? (listing)")
        }
        parts.append("succeeded=\(s.succeeded) failed=\(s.failed) skipped=\(s.skipped)")
        if let rate = s.effectiveRate { parts.append("rate=\(self.rate(rate))/s") }
        if !final, s.total != nil, let eta = s.effectiveETA, s.done < (s.total ?? 0) { parts.append("eta=\(duration(eta))") }
        if !final { parts.append("in_flight=\(s.inFlight)") }
        parts.append("throttled=\(s.throttled)")
        parts.append("input_tokens=\(s.inputTokens) output_tokens=\(s.outputTokens)")
        parts.append("cost_usd=" + String(format: s.costUSD < 0.01 && s.costUSD > 0 ? "%.4f" : "%.2f", s.costUSD))
        parts.append("elapsed=\(duration(s.elapsed))")
        return parts.joined(separator: " ")
    }

    // MARK: Pieces

    static func grouped(_ n: Int) -> String { RunReport.grouped(n) }

    /// 950 → `950`, 12_345 → `12k`, 1_234_567 → `1.2M`.
    static func compact(_ n: Int) -> String {
        let v = Double(n)
        if n < 1000 { return "\(n)" }
        if n < 10_000 { return String(format: "%.1fk", v / 1000) }
        if n < 1_000_000 { return "\(Int((v / 1000).rounded()))k" }
        if n < 10_000_000 { return String(format: "%.1fM", v / 1_000_000) }
        if n < 1_000_000_000 { return "\(Int((v / 1_000_000).rounded()))M" }
        return String(format: "%.1fG", v / 1_000_000_000)
    }

    static func rate(_ r: Double) -> String {
        r >= 100 ? String(Int(r.rounded())) : String(format: r >= 10 ? "%.1f" : "%.2f", r)
    }

    static func dollars(_ usd: Double) -> String {
        usd < 0.01 ? String(format: "$%.4f", usd) : String(format: "$%.2f", usd)
    }

    /// 5 → `5s`, 62 → `1m02s`, 3725 → `1h02m`, more than 99 hours → `>99h`.
    static func duration(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(max(0, seconds).rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + String(format: "%02ds", s % 60) }
        if s < 100 * 3600 { return "\(s / 3600)h" + String(format: "%02dm", (s % 3600) / 60) }
        return ">99h"
    }
}
