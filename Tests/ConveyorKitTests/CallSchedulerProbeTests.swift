import Foundation
import Testing
@testable import ConveyorKit

/// The probe: until one item has succeeded end to end, calls go one item at a time;
/// `limits.probe: false` opens the pool from the first call.
@Suite("CallScheduler probe")
struct CallSchedulerProbeTests {
    static let clock: @Sendable () -> Double = { 0 }

    /// Waits, by yielding a bounded number of times, until `condition` holds on the scheduler.
    func waitFor(_ scheduler: CallScheduler, _ condition: (Int, Int) -> Bool) async -> Bool {
        for _ in 0..<10_000 {
            let s = await scheduler.snapshot()
            if condition(s.inFlight, s.waiting) { return true }
            await Task.yield()
        }
        return false
    }

    @Test func withTheProbeASecondItemWaitsForTheFirstToSucceed() async throws {
        let scheduler = CallScheduler(pacing: ConcurrencyPacing(limit: 4), clock: Self.clock)
        let first = await scheduler.admit(reservedTokens: 0, owner: 1)
        #expect(first != nil)
        let second = Task { await scheduler.admit(reservedTokens: 0, owner: 2) }
        // the second item's call is queued behind the probe, although the pacing has room
        #expect(await waitFor(scheduler) { inFlight, waiting in inFlight == 1 && waiting == 1 })
        // the probe item's retries still pass
        let retry = await scheduler.admit(reservedTokens: 0, owner: 1)
        #expect(retry != nil)
        scheduler.itemFinished(owner: 1, succeeded: true)
        #expect(await second.value != nil)
        #expect(await waitFor(scheduler) { inFlight, waiting in inFlight == 3 && waiting == 0 })
    }

    @Test func withoutTheProbeTheFirstCallsGoTogether() async throws {
        let scheduler = CallScheduler(pacing: ConcurrencyPacing(limit: 4), probe: false, clock: Self.clock)
        var tickets: [CallScheduler.Ticket?] = []
        for owner in 1...4 { tickets.append(await scheduler.admit(reservedTokens: 0, owner: owner)) }
        #expect(tickets.allSatisfy { $0 != nil })
        let s = await scheduler.snapshot()
        #expect(s.inFlight == 4 && s.waiting == 0)
    }

    @Test func theJobSaysWhetherToProbe() throws {
        let base = """
            version: 1
            name: probe
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 100}
            prompt: "Summarise {{input}}"
            inputs: {s3: "s3://bucket/in/"}
            output: {s3: "s3://bucket/out/{{item.name}}.json"}

            """
        #expect(try KitFixture.job(base).limits.probe)
        #expect(try KitFixture.job(base + "limits: {probe: false}").limits.probe == false)
        #expect {
            _ = try KitFixture.job(base + "limits: {probe: sometimes}")
        } throws: { error in
            (error as? DiagnosticsError)?.errors.contains {
                $0.location?.line == 7 && $0.message.contains("limits.probe must be true or false")
            } == true
        }
    }
}
