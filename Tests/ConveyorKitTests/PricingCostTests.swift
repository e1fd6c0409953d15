import ConveyorKit
import Testing

@Suite("Cost estimates")
struct PricingCostTests {
    static let sonnet4 = PricingTable.price(for: "anthropic.claude-sonnet-4-20250514-v1:0")!
    static let haiku3 = PricingTable.price(for: "anthropic.claude-3-haiku-20240307-v1:0")!
    static let haiku45 = PricingTable.price(for: "global.anthropic.claude-haiku-4-5-20251001-v1:0")!
    static let novaLite = PricingTable.price(for: "amazon.nova-lite-v1:0")!

    @Test func inputAndOutput() {
        let cost = Self.sonnet4.cost(inputTokens: 100_000, outputTokens: 10_000)
        #expect(close(cost.usd, 0.3 + 0.15))
        #expect(cost.approximations.isEmpty)
        #expect(Self.sonnet4.cost(inputTokens: 0, outputTokens: 0).usd == 0)
    }

    @Test func cacheTokensArePricedApart() {
        // 1k input at 0.003, 10k cache read at 0.0003, 2k cache write at 0.00375.
        let cost = Self.sonnet4.cost(inputTokens: 1000, outputTokens: 0, cacheReadTokens: 10_000, cacheWriteTokens: 2000)
        #expect(close(cost.usd, 0.003 + 0.003 + 0.0075))
        #expect(cost.approximations.isEmpty)
    }

    @Test func missingCachePricesAreFlagged() {
        // Nova lists a cache-read price but no cache-write price.
        let cost = Self.novaLite.cost(inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000, cacheWriteTokens: 1000)
        #expect(close(cost.usd, 0.000015 + 0.00006))
        #expect(cost.approximations == [.cacheWriteAtInputPrice])
        let haiku = Self.haiku3.cost(inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000)
        #expect(close(haiku.usd, 0.00025))
        #expect(haiku.approximations == [.cacheReadAtInputPrice])
    }

    @Test func batchPrices() {
        let listed = Self.haiku45.cost(inputTokens: 1_000_000, outputTokens: 1_000_000, mode: .batch)
        #expect(close(listed.usd, 0.5 + 2.5))
        #expect(listed.approximations.isEmpty)
        let ruled = Self.sonnet4.cost(inputTokens: 100_000, outputTokens: 100_000, mode: .batch)
        #expect(close(ruled.usd, 0.15 + 0.75))
        #expect(ruled.approximations == [.batchAtHalfOnDemand])
    }

    @Test func longContextTier() {
        // Sonnet 4 above 200k input tokens: 0.006 / 0.0225 for the whole request.
        let long = Self.sonnet4.cost(inputTokens: 250_000, outputTokens: 1000)
        #expect(close(long.usd, 250 * 0.006 + 0.0225))
        let atThreshold = Self.sonnet4.cost(inputTokens: 200_000, outputTokens: 1000)
        #expect(close(atThreshold.usd, 200 * 0.003 + 0.015))
        // Cache tokens count toward the threshold.
        let cached = Self.sonnet4.cost(inputTokens: 100_000, outputTokens: 0, cacheReadTokens: 150_000)
        #expect(close(cached.usd, 100 * 0.006 + 150 * 0.0003))
        #expect(cached.approximations == [.longContextCacheAtStandardPrice])
        let batch = Self.sonnet4.cost(inputTokens: 250_000, outputTokens: 0, mode: .batch)
        #expect(close(batch.usd, 250 * 0.006))
        #expect(batch.approximations == [.longContextBatchAtOnDemand])
    }

    @Test func runFromTotalsAndWorstCase() {
        // 100 items, 50k input tokens in all, 10k output expected, maxTokens 512.
        let estimate = CostEstimate.run(
            price: Self.haiku3, items: 100, inputTokens: 50_000, outputTokens: 10_000, maxTokens: 512)
        #expect(close(estimate.usd, 50 * 0.00025 + 10 * 0.00125))
        #expect(close(estimate.worstCaseUSD, 50 * 0.00025 + 51.2 * 0.00125))
        #expect(estimate.requests == 100)
        #expect(!estimate.isApproximate)
        #expect(CostEstimate.run(price: Self.haiku3, items: 1, inputTokens: 1, outputTokens: 1).worstCaseUSD == nil)
        let none = CostEstimate.run(price: Self.haiku3, items: 0, inputTokens: 0, outputTokens: 0, maxTokens: 100)
        #expect(none.usd == 0 && none.worstCaseUSD == 0)
    }

    @Test func runFromTotalsUsesTheAverageForTheLongContextTier() {
        let small = CostEstimate.run(price: Self.sonnet4, items: 10, inputTokens: 1_000_000, outputTokens: 0)
        #expect(close(small.usd, 1000 * 0.003), "100k per item: standard tier")
        let large = CostEstimate.run(price: Self.sonnet4, items: 2, inputTokens: 600_000, outputTokens: 0, maxTokens: 100)
        #expect(close(large.usd, 600 * 0.006), "300k per item: long-context tier")
        #expect(close(large.worstCaseUSD, 600 * 0.006 + 0.2 * 0.0225))
    }

    @Test func requestByRequestMatchesTotals() {
        var estimate = CostEstimate(price: Self.sonnet4, maxTokens: 1000)
        for i in 1...20 { estimate.add(inputTokens: 1000 * i, outputTokens: 10 * i) }
        let totals = CostEstimate.run(
            price: Self.sonnet4, items: 20, inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens,
            maxTokens: 1000)
        #expect(close(estimate.usd, totals.usd, tolerance: 1e-9))
        #expect(close(estimate.worstCaseUSD, totals.worstCaseUSD, tolerance: 1e-9))
        #expect(estimate.inputTokens == 210_000)
        #expect(estimate.requests == 20)
    }

    @Test func requestByRequestAppliesTheTierPerRequest() {
        var estimate = CostEstimate(price: Self.sonnet4)
        estimate.add(inputTokens: 300_000, outputTokens: 0)
        estimate.add(inputTokens: 100_000, outputTokens: 0)
        #expect(close(estimate.usd, 300 * 0.006 + 100 * 0.003))
    }

    @Test func mergeAndApproximations() throws {
        let quote = try #require(PricingTable.quote(for: "meta.llama3-1-8b-instruct-v1:0", region: "ap-south-1"))
        var a = CostEstimate(quote: quote, mode: .batch, maxTokens: 10)
        a.add(inputTokens: 1000, outputTokens: 5)
        #expect(a.isApproximate)
        #expect(a.approximations.isEmpty, "Llama 3.1 8B has a listed batch price")
        var b = CostEstimate(quote: quote, mode: .batch, maxTokens: 10)
        b.add(inputTokens: 3000, outputTokens: 5)
        a.merge(b)
        #expect(a.requests == 2)
        #expect(close(a.usd, 4 * 0.00011 + 0.01 * 0.00011))
        #expect(close(a.worstCaseUSD, 4 * 0.00011 + 0.02 * 0.00011))

        var ruled = CostEstimate(price: Self.sonnet4, mode: .batch)
        ruled.add(inputTokens: 1, outputTokens: 1)
        #expect(ruled.isApproximate)
        #expect(ruled.notes == ["no batch price listed; 50% of the on-demand price assumed"])
    }

    @Test func overridePricesAnUnknownModel() throws {
        let override = try PricingOverride(fields: ["inputPerMillion": 2, "outputPerMillion": 8])
        let quote = try #require(PricingTable.quote(for: "acme.private-model-v1", override: override))
        let estimate = CostEstimate.run(price: quote.price, items: 10, inputTokens: 500_000, outputTokens: 50_000, maxTokens: 1000)
        #expect(close(estimate.usd, 1.0 + 0.4))
        #expect(close(estimate.worstCaseUSD, 1.0 + 0.08))
    }

    @Test func formatting() {
        #expect(CostEstimate.formatUSD(0) == "$0.00")
        #expect(CostEstimate.formatUSD(12.345) == "$12.35")
        #expect(CostEstimate.formatUSD(0.0042) == "$0.0042")
        #expect(CostEstimate.formatUSD(0.5) == "$0.50")
    }

    @Test func perMillionViews() {
        #expect(close(Self.sonnet4.inputPerMillion, 3))
        #expect(close(Self.sonnet4.outputPerMillion, 15))
    }
}
