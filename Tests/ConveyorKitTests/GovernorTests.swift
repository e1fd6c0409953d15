import Foundation
import Testing
@testable import ConveyorKit

/// Unit tests of the rate governor, all in virtual time (the clock is a number we pass).
@Suite("Governor")
struct GovernorTests {
    // MARK: Buckets

    @Test("a bucket starts full, refills at its rate and never beyond its capacity")
    func bucketRefill() {
        var b = GovernorBucket(rate: 2, capacity: 4, now: 10)
        #expect(b.level == 4)
        b.take(3, now: 10)
        #expect(b.level == 1)
        #expect(b.level(at: 11) == 3)
        #expect(b.level(at: 100) == 4)
        b.refill(now: 9)  // time never runs backwards
        #expect(b.level == 1)
    }

    @Test("readyTime: now when enough, else when it will be; oversize waits for a full bucket")
    func bucketReadyTime() {
        var b = GovernorBucket(rate: 10, capacity: 20, level: 5, now: 0)
        #expect(b.readyTime(for: 5, now: 0) == 0)
        #expect(abs(b.readyTime(for: 8, now: 0) - 0.3) < 2e-6)
        #expect(b.readyTime(for: 8, now: 0) > 0.3)  // never early
        #expect(b.level(at: b.readyTime(for: 8, now: 0)) >= 8)
        #expect(abs(b.readyTime(for: 1000, now: 0) - 1.5) < 2e-6)  // min(amount, capacity) = 20
        b.take(1000, now: 1.5)  // admitted when full, leaves the bucket in debt
        #expect(b.level == 20 - 1000)
    }

    @Test("give refunds up to the capacity; drain lowers; reconfigure keeps what accrued")
    func bucketGiveDrainReconfigure() {
        var b = GovernorBucket(rate: 1, capacity: 10, level: 2, now: 0)
        b.give(5, now: 0)
        #expect(b.level == 7)
        b.give(50, now: 0)
        #expect(b.level == 10)
        b.drain(to: 3, now: 0)
        #expect(b.level == 3)
        b.drain(to: 8, now: 0)  // never raises
        #expect(b.level == 3)
        b.reconfigure(rate: 100, capacity: 5, now: 1)  // 1 s at the old rate: 4, then capped at 5
        #expect(b.level == 4)
        #expect(b.level(at: 1.01) == 5)
    }

    // MARK: Reservation arithmetic and settling

    @Test("reservation = input + maxTokens × burndown; usage = input + output × burndown")
    func reservationArithmetic() {
        let c = GovernorConfiguration(concurrency: 4, burndown: 5, maxTokens: 1024)
        #expect(c.reservation(inputTokens: 500) == 500 + 1024 * 5)
        #expect(c.usage(inputTokens: 500, outputTokens: 100) == 1000)
        let c1 = GovernorConfiguration(concurrency: 4, maxTokens: 256)
        #expect(c1.reservation(inputTokens: 100) == 356)
    }

    @Test("the job's TPM bucket: reserve at admission, refund the unused part, all of it on failure")
    func settleAndRefund() {
        // 60 000 tokens a minute: 1000 a second, a 1 s bucket of 1000.
        let c = GovernorConfiguration(concurrency: 8, tokensPerMinute: 60_000, burstSeconds: 1, maxTokens: 256)
        let g = RateGovernor(configuration: c, now: 0)
        let r = c.reservation(inputTokens: 100)  // 356
        #expect(g.decide(now: 0, reservedTokens: r) == .admit)
        let a = g.admitted(now: 0, reservedTokens: r)
        let b = g.admitted(now: 0, reservedTokens: r)
        #expect(g.tokenBucket?.level == 288)
        // a third reservation waits until 356 are there: 68 more at 1000/s
        #expect(g.decide(now: 0, reservedTokens: r) == .waitUntil(0.068 + GovernorBucket.margin))
        // a settles at 200 used: 156 back
        g.completed(a, now: 0, outcome: .success(usedTokens: 200))
        #expect(g.tokenBucket?.level == 444)
        #expect(g.decide(now: 0, reservedTokens: r) == .admit)
        let d = g.admitted(now: 0, reservedTokens: r)
        #expect(g.tokenBucket?.level == 88)
        // b failed: all of it back; d was refused by the server: all of it back too
        g.completed(b, now: 0, outcome: .failed)
        #expect(g.tokenBucket?.level == 444)
        g.completed(d, now: 0, outcome: .throttled(.tokens))
        #expect(g.tokenBucket?.level == 800)
        // refunds never overfill: after 1 s it is full, a late refund changes nothing
        let e = g.admitted(now: 1, reservedTokens: 10)
        g.completed(e, now: 2, outcome: .success(usedTokens: 0))
        #expect(g.tokenBucket?.level == 1000)
        #expect(g.figures(now: 2).inFlight == 0)
    }

    @Test("the job's RPM bucket paces calls: 60 a minute with a 1 s burst is one call a second")
    func requestCap() {
        let g = RateGovernor(configuration: GovernorConfiguration(concurrency: 8, requestsPerMinute: 60,
                                                                  maxTokens: 10), now: 0)
        #expect(g.decide(now: 0, reservedTokens: 10) == .admit)
        _ = g.admitted(now: 0, reservedTokens: 10)
        #expect(g.decide(now: 0, reservedTokens: 10) == .waitUntil(1 + GovernorBucket.margin))
        #expect(g.decide(now: 1, reservedTokens: 10) == .admit)
        #expect(g.figures(now: 1).rateLimit == 1)
    }

    @Test("a ticket completed twice is ignored the second time")
    func doubleCompletion() {
        let g = RateGovernor(configuration: GovernorConfiguration(concurrency: 2, maxTokens: 10), now: 0)
        let t = g.admitted(now: 0, reservedTokens: 10)
        _ = g.admitted(now: 0, reservedTokens: 10)
        #expect(g.completed(t, now: 1, outcome: .success(usedTokens: 5)))
        #expect(!g.completed(t, now: 1, outcome: .success(usedTokens: 5)))
        #expect(g.inFlight == 1)
    }

    // MARK: Concurrency

    @Test("nothing is admitted beyond the concurrency cap; a completion frees a slot")
    func concurrencyCap() {
        for cap in [1, 16, 1000] {
            let g = RateGovernor(configuration: GovernorConfiguration(concurrency: cap, maxTokens: 10), now: 0)
            var tickets: [RateGovernor.Ticket] = []
            while g.decide(now: 0, reservedTokens: 10) == .admit {
                tickets.append(g.admitted(now: 0, reservedTokens: 10))
                #expect(tickets.count <= cap)
                if tickets.count > cap { break }
            }
            #expect(tickets.count == cap)
            #expect(g.decide(now: 0, reservedTokens: 10) == .blockedOnConcurrency)
            g.completed(tickets[0], now: 0.5, outcome: .success(usedTokens: 10))
            #expect(g.decide(now: 0.5, reservedTokens: 10) == .admit)
        }
    }

    @Test("once paced, the concurrency limit follows rate × latency (×2 headroom + 1), within [2, cap]")
    func adaptiveConcurrency() {
        let g = RateGovernor(configuration: GovernorConfiguration(concurrency: 64, requestsPerMinute: 600,
                                                                  burstSeconds: 1, maxTokens: 10), now: 0)
        #expect(g.concurrencyLimit == 64)  // latency not known yet
        let t = g.admitted(now: 0, reservedTokens: 10)
        g.completed(t, now: 2, outcome: .success(usedTokens: 10))  // latency 2 s, paced at 10/s
        #expect(g.concurrencyLimit == 41)  // 2 × 10 × 2 + 1
        let slow = RateGovernor(configuration: GovernorConfiguration(concurrency: 16, requestsPerMinute: 1,
                                                                     maxTokens: 10), now: 0)
        let u = slow.admitted(now: 0, reservedTokens: 10)
        slow.completed(u, now: 1, outcome: .success(usedTokens: 10))
        #expect(slow.concurrencyLimit == 2)
    }

    // MARK: Learning from throttles

    /// A governor that sent `n` calls at t = 0 (quota unknown).
    func burst(_ n: Int, algorithm: GovernorConfiguration.Algorithm = .aimd)
        -> (RateGovernor, [RateGovernor.Ticket])
    {
        let g = RateGovernor(configuration: GovernorConfiguration(concurrency: 64, maxTokens: 100,
                                                                  algorithm: algorithm), now: 0)
        let tickets = (0..<n).map { _ in g.admitted(now: 0, reservedTokens: 200) }
        return (g, tickets)
    }

    @Test("a burst of throttles is one congestion event: one decrease, not one per 429")
    func oncePerCongestionEvent() {
        let (g, tickets) = burst(32)
        #expect(g.figures(now: 0).learnedRate == nil)
        for t in tickets { g.completed(t, now: 0.005, outcome: .throttled(.requests)) }
        let f = g.figures(now: 0.005)
        #expect(f.throttles == 32)
        #expect(f.congestionEvents == 1)
        // 32 calls in the last second → 32/s measured, × 0.8
        #expect(abs((f.learnedRate ?? 0) - 25.6) < 1e-9)
    }

    @Test("a throttle of a call sent after the decrease is a new event; the first such one halves")
    func newEventAfterDecrease() {
        let (g, tickets) = burst(32)
        g.completed(tickets[0], now: 0.005, outcome: .throttled(.requests))
        let after = g.figures(now: 0.005).learnedRate!
        // the pacing bucket starts empty: the next call goes 1/rate later
        guard case .waitUntil(let next) = g.decide(now: 0.005, reservedTokens: 200) else {
            Issue.record("expected to wait")
            return
        }
        #expect(abs(next - (0.005 + 1 / after)) < 2e-6)
        let probe = g.admitted(now: next, reservedTokens: 200)
        g.completed(probe, now: next + 0.005, outcome: .throttled(.requests))
        let f = g.figures(now: next + 0.005)
        #expect(f.congestionEvents == 2)
        // the first call after the decrease was refused too: persistent, × 0.5
        #expect(abs(f.learnedRate! - 0.5 * after) < 0.01 * after)
        // the rest of the first burst still belongs to the first event
        for t in tickets.dropFirst() { g.completed(t, now: next + 0.01, outcome: .throttled(.requests)) }
        #expect(g.figures(now: next + 0.01).congestionEvents == 2)
    }

    @Test("botocore mode decreases on every throttle, as botocore does")
    func botocoreReactsToEach() {
        let (g, tickets) = burst(8, algorithm: .botocore)
        for t in tickets { g.completed(t, now: 0.6, outcome: .throttled(.requests)) }
        #expect(g.figures(now: 0.6).congestionEvents == 8)
    }

    @Test("the message says which quota: requests teach a call rate, tokens a token rate")
    func throttleKinds() {
        #expect(RateGovernor.ThrottleKind(message: "Too many requests, please wait before trying again.") == .requests)
        #expect(RateGovernor.ThrottleKind(message: "Too many tokens, please wait before trying again.") == .tokens)
        #expect(RateGovernor.ThrottleKind(message: "Rate exceeded") == .unknown)
        #expect(RateGovernor.ThrottleKind(message: nil) == .unknown)

        let (g, tickets) = burst(10)
        g.completed(tickets[0], now: 0.01, outcome: .throttled(.tokens))
        var f = g.figures(now: 0.01)
        #expect(f.learnedRate == nil)
        // 10 × 200 reserved in the last second, 200 back → 1800/s measured, × 0.8
        #expect(abs((f.learnedTokenRate ?? 0) - 1440) < 1e-6)
        #expect(f.tokenThrottles == 1)
        g.completed(tickets[1], now: 0.01, outcome: .throttled(.unknown))
        f = g.figures(now: 0.01)
        #expect(f.learnedRate != nil)  // unknown messages count as request throttles
        #expect(f.congestionEvents == 2)
    }

    @Test("the token mirror: a call waits for its reservation; a refund comes back; a throttle empties it")
    func tokenMirror() {
        let (g, tickets) = burst(10)
        g.completed(tickets[0], now: 0, outcome: .throttled(.tokens))  // learns 1440 tokens/s
        #expect(g.tokenLimit?.gate?.level == 0)
        // empty mirror: 200 tokens take 200/1440 s
        let t1 = 200.0 / 1440 + GovernorBucket.margin
        #expect(g.decide(now: 0, reservedTokens: 200) == .waitUntil(t1))
        let t = g.admitted(now: t1, reservedTokens: 200)
        #expect(abs(g.tokenLimit!.gate!.level) < 0.01)
        // t settles at 50: 150 back, at once
        g.completed(t, now: t1, outcome: .success(usedTokens: 50))
        #expect(abs(g.tokenLimit!.gate!.level - 150) < 0.01)
        // a call admitted before the mirror existed gives nothing back to it
        g.completed(tickets[1], now: t1, outcome: .success(usedTokens: 0))
        #expect(abs(g.tokenLimit!.gate!.level - 150) < 0.01)
        // a throttle (an old call: same event, no decrease) empties it
        g.completed(tickets[2], now: t1, outcome: .throttled(.tokens))
        #expect(g.tokenLimit?.gate?.level == 0)
        #expect(g.figures(now: t1).congestionEvents == 1)
    }

    @Test("AIMD climbs back fast to 0.95 W, then probes slowly; it does not grow while idle")
    func aimdRecovery() {
        var c = AIMDController(parameters: .init(), minimumRate: 1.0 / 60, initialRate: nil, now: 0)
        c.congestion(now: 0, measured: 100, callRate: 100, persistent: false)
        #expect(c.rate == 80)
        #expect(c.wMax == 100)
        // sending at the rate: fast climb at 10 % of W a second (0.1 × 100)
        c.advance(now: 1, measured: 80, callRate: 80)
        #expect(abs(c.rate! - 90) < 1e-9)
        // reaches 95 after 1.5 s, then 2 % of W a second: at 2.5 s, 95 + 2 = 97
        c.advance(now: 2.5, measured: 90, callRate: 90)
        #expect(abs(c.rate! - 97) < 1e-9)
        // idle (sending far below the rate): no growth
        c.advance(now: 100, measured: 1, callRate: 1)
        #expect(abs(c.rate! - 97) < 1e-9)
        // at a slow call rate, the climb is per call: 2 % of W per call
        var slow = AIMDController(parameters: .init(), minimumRate: 1.0 / 60, initialRate: nil, now: 0)
        slow.congestion(now: 0, measured: 0.5, callRate: 0.5, persistent: false)  // W = 0.5, rate 0.4
        slow.advance(now: 2, measured: 0.4, callRate: 0.4)  // 2 s × 0.4 calls/s × 2 % × 0.5
        #expect(abs(slow.rate! - (0.4 + 2 * 0.4 * 0.02 * 0.5)) < 1e-12)
    }

    @Test("CUBIC follows botocore's curve: 0.7 × W on a throttle, back to W after K")
    func cubicCurve() {
        var c = CubicController(minimumRate: 0.5, initialRate: nil, now: 0)
        #expect(c.rate == nil)
        c.congestion(now: 0, measured: 10, callRate: 10, persistent: false)
        #expect(abs(c.rate! - 7) < 1e-9)
        let k = cbrt(10 * 0.3 / 0.4)
        c.success(now: k, measured: 10, callRate: 10)
        #expect(abs(c.rate! - 10) < 1e-9)
    }

    // MARK: Retry delays

    @Test("retry delays: throttled calls come back within 0.1 s × 2^(n−1) ≤ 2 s, others ≤ 2^(n−1) ≤ 20 s")
    func retryDelays() {
        let g = RateGovernor(configuration: GovernorConfiguration(concurrency: 1, maxTokens: 1), now: 0,
                             random: { 0.999_999 })
        let throttled = RateGovernor.Outcome.throttled(.requests)
        #expect(abs(g.retryDelay(attempt: 1, after: throttled) - 0.1) < 1e-5)
        #expect(abs(g.retryDelay(attempt: 3, after: throttled) - 0.4) < 1e-5)
        #expect(abs(g.retryDelay(attempt: 9, after: throttled) - 2) < 1e-5)
        #expect(abs(g.retryDelay(attempt: 1, after: .failed) - 1) < 1e-5)
        #expect(abs(g.retryDelay(attempt: 4, after: .failed) - 8) < 1e-5)
        #expect(abs(g.retryDelay(attempt: 10, after: .failed) - 20) < 1e-4)
        let zero = RateGovernor(configuration: GovernorConfiguration(concurrency: 1, maxTokens: 1), now: 0,
                                random: { 0 })
        #expect(zero.retryDelay(attempt: 5, after: .failed) == 0)
    }

    // MARK: Meters

    @Test("the send meter: calls over the last second, or over the last 8 calls at low rates")
    func flowMeter() {
        var m = FlowMeter()
        #expect(m.callRate(now: 0) == 0)
        for i in 0..<20 { m.admitted(Double(i) * 0.1, reservedTokens: 10) }  // 10 calls/s for 2 s
        #expect(abs(m.callRate(now: 1.95) - 10) < 1e-9)
        #expect(abs(m.tokenRate(now: 1.95) - 100) < 1e-9)
        m.refunded(1.95, tokens: 50)
        #expect(abs(m.tokenRate(now: 1.95) - 50) < 1e-9)
        var slow = FlowMeter()
        for i in 0..<20 { slow.admitted(Double(i) * 4, reservedTokens: 1) }  // one call every 4 s
        #expect(abs(slow.callRate(now: 76) - 0.25) < 1e-9)
    }
}
