import Foundation
import Synchronization

/// Shows a run's progress on standard error.
///
/// - Live (`--progress always`, or `auto` on a terminal): one line rewritten in place (`\r`, the
///   line, clear to end of line) at most every `liveInterval` (0.2 s: 5 updates a second), cut to
///   the terminal's width (`TIOCGWINSZ`, else `$COLUMNS`, else 80); ``finish(_:)`` ends it with a
///   newline.
/// - Periodic (`--progress never`, or `auto` when standard error is not a terminal, as under
///   cron): a plain ``ProgressFormat/summaryLine(_:final:label:)`` every `summaryInterval` (30 s)
///   and one at the end.
///
/// The runner calls ``update(_:)`` as often as it likes (every item is fine: it only stores the
/// snapshot unless a line is due) and runs ``startTicking(sleep:)`` so that lines also appear
/// while nothing finishes. Time comes from `now` (monotonic seconds) and waiting from `sleep`,
/// both injectable; ``tick()`` is the timer's step, callable directly in tests.
public final class ProgressReporter: Sendable {
    public enum Style: Sendable, Equatable {
        case live
        case periodic
    }

    public let style: Style
    let label: String?
    let width: @Sendable () -> Int
    let write: @Sendable (String) -> Void
    let now: @Sendable () -> TimeInterval
    public let liveInterval: TimeInterval
    public let summaryInterval: TimeInterval

    struct State {
        var latest: ProgressSnapshot?
        var lastRender: TimeInterval
        var rendered: ProgressSnapshot?
        var lineShown = false
        var finished = false
        var ticker: Task<Void, Never>?
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - mode: `--progress`.
    ///   - label: shown first on the live line and in summaries (the job's name).
    ///   - isTerminal: whether standard error is a terminal (decides `auto`).
    ///   - width: the terminal's columns, asked at each live render (the window may change).
    ///   - write: where the text goes.
    ///   - now: monotonic seconds.
    public init(mode: ProgressMode, label: String? = nil, isTerminal: Bool = ProgressReporter.standardErrorIsTerminal,
                width: @escaping @Sendable () -> Int = { ProgressReporter.terminalWidth() },
                write: @escaping @Sendable (String) -> Void = ProgressReporter.writeToStandardError,
                now: @escaping @Sendable () -> TimeInterval = ProgressReporter.monotonicSeconds,
                liveInterval: TimeInterval = 0.2, summaryInterval: TimeInterval = 30) {
        switch mode {
        case .always: style = .live
        case .never: style = .periodic
        case .auto: style = isTerminal ? .live : .periodic
        }
        self.label = label
        self.width = width
        self.write = write
        self.now = now
        self.liveInterval = liveInterval
        self.summaryInterval = summaryInterval
        state = Mutex(State(lastRender: now()))
    }

    /// How often the ticker should call ``tick()``.
    public var tickInterval: TimeInterval { style == .live ? liveInterval : summaryInterval }

    /// Records the latest figures; draws them if a line is due.
    public func update(_ snapshot: ProgressSnapshot) {
        let text = state.withLock { s -> String? in
            guard !s.finished else { return nil }
            s.latest = snapshot
            return due(&s)
        }
        if let text { write(text) }
    }

    /// The timer's step: draws the latest figures if a line is due.
    public func tick() {
        let text = state.withLock { s -> String? in
            guard !s.finished, s.latest != nil else { return nil }
            return due(&s)
        }
        if let text { write(text) }
    }

    /// The final line: the live line with a newline, or a `finished:` summary. Stops the ticker.
    public func finish(_ snapshot: ProgressSnapshot) {
        let (text, ticker) = state.withLock { s -> (String?, Task<Void, Never>?) in
            guard !s.finished else { return (nil, nil) }
            s.finished = true
            s.latest = snapshot
            let ticker = s.ticker
            s.ticker = nil
            switch style {
            case .live: return ("\r" + ProgressFormat.liveLine(snapshot, width: width(), label: label) + "\u{1B}[K\n", ticker)
            case .periodic: return (ProgressFormat.summaryLine(snapshot, final: true, label: label) + "\n", ticker)
            }
        }
        ticker?.cancel()
        if let text { write(text) }
    }

    /// Clears the live line so that something else (a log line) can be written; the next update
    /// draws it again. Nothing in periodic style.
    public func clearLine() {
        let shown = state.withLock { s -> Bool in
            defer { s.lineShown = false; s.lastRender = -Double.infinity }
            return style == .live && s.lineShown && !s.finished
        }
        if shown { write("\r\u{1B}[K") }
    }

    /// Draws `latest` if the interval has passed; called with the lock held.
    private func due(_ s: inout State) -> String? {
        guard let latest = s.latest else { return nil }
        let t = now()
        switch style {
        case .live:
            guard t - s.lastRender >= liveInterval else { return nil }
            s.lastRender = t
            s.rendered = latest
            s.lineShown = true
            return "\r" + ProgressFormat.liveLine(latest, width: width(), label: label) + "\u{1B}[K"
        case .periodic:
            guard t - s.lastRender >= summaryInterval else { return nil }
            s.lastRender = t
            s.rendered = latest
            return ProgressFormat.summaryLine(latest, final: false, label: label) + "\n"
        }
    }

    /// Calls ``tick()`` every ``tickInterval`` until ``finish(_:)``.
    ///
    /// - Parameter sleep: waits one interval (tests pass one they control).
    public func startTicking(sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        let interval = Duration.milliseconds(Int64((tickInterval * 1000).rounded()))
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await sleep(interval) } catch { return }
                guard let self, !Task.isCancelled else { return }
                self.tick()
            }
        }
        let old = state.withLock { s -> Task<Void, Never>? in
            let old = s.ticker
            s.ticker = s.finished ? nil : task
            return old
        }
        old?.cancel()
        if state.withLock({ $0.finished }) { task.cancel() }
    }

    /// Shows a stream of snapshots: each one through ``update(_:)``, the last through
    /// ``finish(_:)`` when the stream ends.
    public func run<S: AsyncSequence & Sendable>(_ snapshots: S) async throws where S.Element == ProgressSnapshot {
        var last: ProgressSnapshot?
        for try await snapshot in snapshots {
            update(snapshot)
            last = snapshot
        }
        if let last { finish(last) }
    }

    // MARK: The terminal

    public static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Standard error's columns: `TIOCGWINSZ`, else `$COLUMNS`, else 80.
    public static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }

    public static let writeToStandardError: @Sendable (String) -> Void = { text in
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Foundation.write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    public static let monotonicSeconds: @Sendable () -> TimeInterval = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
