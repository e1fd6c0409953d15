/// How sure the figures are, as graded in the pricing reference: `high` when two or more
/// independent sources agree or an AWS or Anthropic page states it, `medium` for one
/// machine-readable source, `low` for one weak source or sources that disagree.
public enum PriceConfidence: String, Sendable, Equatable, Hashable, Comparable {
    case high = "H"
    case medium = "M"
    case low = "L"

    public static func < (a: PriceConfidence, b: PriceConfidence) -> Bool {
        let order: [PriceConfidence] = [.low, .medium, .high]
        return order.firstIndex(of: a)! < order.firstIndex(of: b)!
    }
}

/// Token prices of one model in USD per 1,000 tokens. A nil price means no source gave one.
public struct ModelPrice: Sendable, Equatable, Hashable {
    public var inputPer1k: Double
    public var outputPer1k: Double
    /// Bedrock batch inference.
    public var batchInputPer1k: Double?
    public var batchOutputPer1k: Double?
    /// Prompt-cache write with the 5-minute TTL.
    public var cacheWritePer1k: Double?
    /// Prompt-cache write with the 1-hour TTL.
    public var cacheWrite1hPer1k: Double?
    public var cacheReadPer1k: Double?
    /// Prices that replace these for a request whose input passes a threshold.
    public var longContext: LongContextPrice?

    public init(
        inputPer1k: Double, outputPer1k: Double,
        batchInputPer1k: Double? = nil, batchOutputPer1k: Double? = nil,
        cacheWritePer1k: Double? = nil, cacheWrite1hPer1k: Double? = nil, cacheReadPer1k: Double? = nil,
        longContext: LongContextPrice? = nil
    ) {
        self.inputPer1k = inputPer1k
        self.outputPer1k = outputPer1k
        self.batchInputPer1k = batchInputPer1k
        self.batchOutputPer1k = batchOutputPer1k
        self.cacheWritePer1k = cacheWritePer1k
        self.cacheWrite1hPer1k = cacheWrite1hPer1k
        self.cacheReadPer1k = cacheReadPer1k
        self.longContext = longContext
    }

    /// Per million tokens, as most price pages show them.
    public var inputPerMillion: Double { inputPer1k * 1000 }
    public var outputPerMillion: Double { outputPer1k * 1000 }
}

/// The prices of a request with more than `thresholdTokens` input tokens (Claude Sonnet 4 and
/// 4.5 above 200k): the whole request is billed at these rates.
public struct LongContextPrice: Sendable, Equatable, Hashable {
    public var thresholdTokens: Int
    public var inputPer1k: Double
    public var outputPer1k: Double
    public var cacheWritePer1k: Double?
    public var cacheReadPer1k: Double?

    public init(
        thresholdTokens: Int = 200_000, inputPer1k: Double, outputPer1k: Double,
        cacheWritePer1k: Double? = nil, cacheReadPer1k: Double? = nil
    ) {
        self.thresholdTokens = thresholdTokens
        self.inputPer1k = inputPer1k
        self.outputPer1k = outputPer1k
        self.cacheWritePer1k = cacheWritePer1k
        self.cacheReadPer1k = cacheReadPer1k
    }
}

/// How the calls are billed: Converse on demand, or Bedrock batch inference.
public enum PricingMode: String, Sendable, Equatable, Hashable {
    case onDemand = "ondemand"
    case batch
}

/// The cost of one request, and whether some part of it rests on a rule rather than a listed price.
public struct RequestCost: Sendable, Equatable {
    public var usd: Double
    /// Reasons the figure is an estimate (empty when every token had a listed price).
    public var approximations: Set<Approximation>

    public enum Approximation: String, Sendable, Equatable, Hashable, CaseIterable {
        /// No batch price in the sources: 50% of on-demand (AWS-cap's general rule).
        case batchAtHalfOnDemand
        /// No cache-write price: cache writes priced as input tokens.
        case cacheWriteAtInputPrice
        /// No cache-read price: cache reads priced as input tokens (an upper bound).
        case cacheReadAtInputPrice
        /// The request passed the long-context threshold but no cache price is listed for that tier:
        /// the standard cache price is used.
        case longContextCacheAtStandardPrice
        /// A batch request past the long-context threshold: no source gives a batch figure for that
        /// tier, so the on-demand long-context price is used (an upper bound).
        case longContextBatchAtOnDemand

        public var note: String {
            switch self {
            case .batchAtHalfOnDemand: return "no batch price listed; 50% of the on-demand price assumed"
            case .cacheWriteAtInputPrice: return "no cache-write price listed; priced as input tokens"
            case .cacheReadAtInputPrice: return "no cache-read price listed; priced as input tokens"
            case .longContextCacheAtStandardPrice: return "no long-context cache price listed; the standard one is used"
            case .longContextBatchAtOnDemand: return "no long-context batch price listed; the on-demand one is used"
            }
        }
    }
}

extension ModelPrice {
    /// The cost of one request. Converse reports `inputTokens` apart from the cache-read and
    /// cache-write tokens, so each is priced on its own (5-minute cache writes). Above the
    /// long-context threshold (input + cache tokens), the long-context rates apply to the request.
    public func cost(
        inputTokens: Int, outputTokens: Int, cacheReadTokens: Int = 0, cacheWriteTokens: Int = 0,
        mode: PricingMode = .onDemand
    ) -> RequestCost {
        var approximations: Set<RequestCost.Approximation> = []
        var input = inputPer1k
        var output = outputPer1k
        var cacheWrite = cacheWritePer1k
        var cacheRead = cacheReadPer1k
        if let long = longContext, inputTokens + cacheReadTokens + cacheWriteTokens > long.thresholdTokens {
            input = long.inputPer1k
            output = long.outputPer1k
            if cacheReadTokens > 0, long.cacheReadPer1k == nil { approximations.insert(.longContextCacheAtStandardPrice) }
            if cacheWriteTokens > 0, long.cacheWritePer1k == nil { approximations.insert(.longContextCacheAtStandardPrice) }
            cacheWrite = long.cacheWritePer1k ?? cacheWrite
            cacheRead = long.cacheReadPer1k ?? cacheRead
            if mode == .batch { approximations.insert(.longContextBatchAtOnDemand) }
        } else if mode == .batch {
            if let batchIn = batchInputPer1k, let batchOut = batchOutputPer1k {
                input = batchIn
                output = batchOut
            } else {
                input *= 0.5
                output *= 0.5
                if inputTokens > 0 || outputTokens > 0 { approximations.insert(.batchAtHalfOnDemand) }
            }
        }
        if cacheWriteTokens > 0, cacheWrite == nil { approximations.insert(.cacheWriteAtInputPrice) }
        if cacheReadTokens > 0, cacheRead == nil { approximations.insert(.cacheReadAtInputPrice) }
        let usd = (Double(inputTokens) * input
            + Double(outputTokens) * output
            + Double(cacheWriteTokens) * (cacheWrite ?? input)
            + Double(cacheReadTokens) * (cacheRead ?? input)) / 1000
        return RequestCost(usd: usd, approximations: approximations)
    }
}
