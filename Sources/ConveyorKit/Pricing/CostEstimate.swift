import Foundation

/// The estimated cost of a run, request by request or from totals.
///
/// - Expected cost: each request's input tokens (and cache tokens) and its output tokens (actual,
///   or what the caller expects) at the model's prices; see ``ModelPrice/cost(inputTokens:outputTokens:cacheReadTokens:cacheWriteTokens:mode:)``.
/// - Worst case: every request writes `maxTokens` output tokens (items × maxTokens in all); nil
///   without a `maxTokens`.
/// - ``isApproximate`` when the quote was for another Region, or when a batch, cache or
///   long-context price was derived by rule (``approximations``).
public struct CostEstimate: Sendable, Equatable {
    public let price: ModelPrice
    public let mode: PricingMode
    /// `model.maxTokens`: the most output tokens one request can produce.
    public let maxTokens: Int?
    /// The quote's own approximation (a Region without a listed price).
    public let priceIsApproximate: Bool

    public private(set) var requests = 0
    public private(set) var inputTokens = 0
    public private(set) var outputTokens = 0
    public private(set) var cacheReadTokens = 0
    public private(set) var cacheWriteTokens = 0
    /// USD at the given output tokens.
    public private(set) var usd: Double = 0
    /// USD if every request wrote `maxTokens` output tokens.
    public private(set) var worstCaseUSD: Double?
    public private(set) var approximations: Set<RequestCost.Approximation> = []

    public init(price: ModelPrice, mode: PricingMode = .onDemand, maxTokens: Int? = nil, priceIsApproximate: Bool = false) {
        self.price = price
        self.mode = mode
        self.maxTokens = maxTokens
        self.priceIsApproximate = priceIsApproximate
        self.worstCaseUSD = maxTokens == nil ? nil : 0
    }

    public init(quote: PriceQuote, mode: PricingMode = .onDemand, maxTokens: Int? = nil) {
        self.init(price: quote.price, mode: mode, maxTokens: maxTokens, priceIsApproximate: quote.isApproximate)
    }

    public var isApproximate: Bool { priceIsApproximate || !approximations.isEmpty }

    /// Notes to print beside the figures.
    public var notes: [String] {
        RequestCost.Approximation.allCases.filter(approximations.contains).map(\.note)
    }

    /// Adds one request (one item's model call).
    public mutating func add(inputTokens: Int, outputTokens: Int, cacheReadTokens: Int = 0, cacheWriteTokens: Int = 0) {
        let cost = price.cost(
            inputTokens: inputTokens, outputTokens: outputTokens, cacheReadTokens: cacheReadTokens,
            cacheWriteTokens: cacheWriteTokens, mode: mode)
        record(cost, requests: 1, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens)
        if let maxTokens {
            let worst = price.cost(
                inputTokens: inputTokens, outputTokens: maxTokens, cacheReadTokens: cacheReadTokens,
                cacheWriteTokens: cacheWriteTokens, mode: mode)
            worstCaseUSD = (worstCaseUSD ?? 0) + worst.usd
            approximations.formUnion(worst.approximations)
        }
    }

    /// A run from totals: `items` requests with `inputTokens` input tokens in all and
    /// `outputTokens` expected output tokens in all. Without per-request sizes, the long-context
    /// rates apply when the average input per item passes the threshold.
    public static func run(
        price: ModelPrice, mode: PricingMode = .onDemand, items: Int, inputTokens: Int, outputTokens: Int,
        maxTokens: Int? = nil, priceIsApproximate: Bool = false
    ) -> CostEstimate {
        var estimate = CostEstimate(price: price, mode: mode, maxTokens: maxTokens, priceIsApproximate: priceIsApproximate)
        guard items > 0 else { return estimate }
        // Cost is linear within a tier: price the average request and scale.
        let (inputEach, inputRest) = inputTokens.quotientAndRemainder(dividingBy: items)
        let tierInput = inputEach + (inputRest > 0 ? 1 : 0)
        let expected = price.cost(inputTokens: inputTokens, outputTokens: outputTokens, mode: mode, tierInputTokens: tierInput)
        estimate.record(expected, requests: items, inputTokens, outputTokens, 0, 0)
        if let maxTokens {
            let worst = price.cost(inputTokens: inputTokens, outputTokens: items * maxTokens, mode: mode, tierInputTokens: tierInput)
            estimate.worstCaseUSD = worst.usd
            estimate.approximations.formUnion(worst.approximations)
        }
        return estimate
    }

    /// Adds another estimate with the same price, mode and maxTokens (shards, batches of items).
    public mutating func merge(_ other: CostEstimate) {
        requests += other.requests
        inputTokens += other.inputTokens
        outputTokens += other.outputTokens
        cacheReadTokens += other.cacheReadTokens
        cacheWriteTokens += other.cacheWriteTokens
        usd += other.usd
        if let w = other.worstCaseUSD { worstCaseUSD = (worstCaseUSD ?? 0) + w }
        approximations.formUnion(other.approximations)
    }

    private mutating func record(_ cost: RequestCost, requests: Int, _ input: Int, _ output: Int, _ cacheRead: Int, _ cacheWrite: Int) {
        self.requests += requests
        inputTokens += input
        outputTokens += output
        cacheReadTokens += cacheRead
        cacheWriteTokens += cacheWrite
        usd += cost.usd
        approximations.formUnion(cost.approximations)
    }

    /// Dollars for people: `$12.35`, `$0.0042` below a cent, `$0.00` for zero.
    public static func formatUSD(_ usd: Double) -> String {
        if usd == 0 { return "$0.00" }
        if abs(usd) < 0.01 { return String(format: "$%.4f", usd) }
        return String(format: "$%.2f", usd)
    }
}

extension ModelPrice {
    /// ``cost(inputTokens:outputTokens:cacheReadTokens:cacheWriteTokens:mode:)`` for totals of many
    /// requests, with the long-context tier chosen by `tierInputTokens` (one request's input).
    func cost(inputTokens: Int, outputTokens: Int, mode: PricingMode, tierInputTokens: Int) -> RequestCost {
        guard longContext != nil else { return cost(inputTokens: inputTokens, outputTokens: outputTokens, mode: mode) }
        // Price one request of the tier's size to learn the per-token rates, then scale.
        var tiered = self
        if let long = longContext, tierInputTokens <= long.thresholdTokens { tiered.longContext = nil }
        if let long = tiered.longContext {
            tiered.longContext = nil
            tiered.inputPer1k = long.inputPer1k
            tiered.outputPer1k = long.outputPer1k
            tiered.batchInputPer1k = nil
            tiered.batchOutputPer1k = nil
            var cost = tiered.cost(inputTokens: inputTokens, outputTokens: outputTokens, mode: .onDemand)
            if mode == .batch { cost.approximations.insert(.longContextBatchAtOnDemand) }
            return cost
        }
        return tiered.cost(inputTokens: inputTokens, outputTokens: outputTokens, mode: mode)
    }
}
