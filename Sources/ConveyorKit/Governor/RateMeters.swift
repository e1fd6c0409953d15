import Foundation

/// What the client sent: calls a second, and quota tokens a second net of refunds (reserved at
/// admission, minus what completions gave back), over a window that widens at low rates so that
/// it always spans several calls: back to the 8th most recent call or 1 s, whichever is longer,
/// at most 60 s. Running sums over the retained entries keep each reading O(1) amortised.
struct FlowMeter {
    static let minimumWindow = 1.0
    static let maximumWindow = 60.0
    static let callsPerWindow = 8

    private var calls: [Double] = []
    private var callHead = 0
    private var flows: [(time: Double, tokens: Double)] = []
    private var flowHead = 0
    private var tokenSum = 0.0
    /// Whether the last window began at a call rather than a fixed length before `now`.
    private var anchored = false

    mutating func admitted(_ now: Double, reservedTokens: Double) {
        calls.append(now)
        flows.append((now, reservedTokens))
        tokenSum += reservedTokens
    }

    mutating func refunded(_ now: Double, tokens: Double) {
        guard tokens != 0 else { return }
        flows.append((now, -tokens))
        tokenSum -= tokens
    }

    /// Calls a second. When the window starts at a call (low rates), that call marks the start
    /// and is not counted: n calls at a steady rate span n − 1 intervals.
    mutating func callRate(now: Double) -> Double {
        guard let window = advance(now) else { return 0 }
        let n = Double(calls.count - callHead)
        return (anchored ? n - 1 : n) / window
    }

    /// Quota tokens a second, net of refunds (never negative).
    mutating func tokenRate(now: Double) -> Double {
        guard let window = advance(now) else { return 0 }
        return max(0, tokenSum) / window
    }

    /// Drops what fell out of the window ending at `now` and returns its length (nil before the
    /// first call).
    private mutating func advance(_ now: Double) -> Double? {
        let retained = calls.count - callHead
        guard retained > 0 else { return nil }
        let anchor = calls[max(callHead, calls.count - Self.callsPerWindow)]
        let start = max(now - Self.maximumWindow, min(anchor, now - Self.minimumWindow))
        anchored = start == anchor && calls.count - callHead >= Self.callsPerWindow
        while callHead < calls.count, calls[callHead] < start { callHead += 1 }
        while flowHead < flows.count, flows[flowHead].time < start {
            tokenSum -= flows[flowHead].tokens
            flowHead += 1
        }
        if callHead > 4096, callHead * 2 > calls.count {
            calls.removeFirst(callHead)
            callHead = 0
        }
        if flowHead > 4096, flowHead * 2 > flows.count {
            flows.removeFirst(flowHead)
            flowHead = 0
        }
        if callHead == calls.count, flowHead == flows.count { tokenSum = 0 }  // no drift when idle
        return max(Self.minimumWindow, now - start)
    }
}

/// botocore's `RateClocker` (retries/adaptive.py): the rate of responses in half-second buckets,
/// smoothed with α = 0.8. It only moves when a response lands in a later bucket than the last.
struct ResponseRateClocker {
    static let smoothing = 0.8
    static let bucketRange = 0.5

    private(set) var measured = 0.0
    private var count = 0.0
    private var lastBucket: Double

    init(now: Double) { lastBucket = now.rounded(.down) }

    mutating func record(_ now: Double) -> Double {
        count += 1
        let bucket = (now / Self.bucketRange).rounded(.down) * Self.bucketRange
        if bucket > lastBucket {
            let current = count / (bucket - lastBucket)
            measured = current * Self.smoothing + measured * (1 - Self.smoothing)
            count = 0
            lastBucket = bucket
        }
        return measured
    }
}
