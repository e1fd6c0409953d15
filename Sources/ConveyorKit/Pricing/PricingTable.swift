/// Bedrock token prices for cost estimates and budgets, and output burndown rates for quota pacing.
///
/// The table is Swift source (the release binary is one file, with no resource bundle). It is a
/// faithful copy of `shared/reference/bedrock-pricing.md`, **gathered 2026-11-30** (``asOf``), from:
/// litellm 1.110.2 `model_prices_and_context_window_backup.json` (which cites the AWS Price List),
/// litellm 1.72.0 for models the newer file dropped, langfuse `default-model-prices.json`
/// @6275144, promptfoo `src/providers/bedrock/pricing.ts` @01e1a3c, simonw/llm-prices
/// `data/amazon.json` @510f9a3, https://aws.amazon.com/bedrock/pricing/, and the Bedrock user guide
/// pages on capacity and cost, global cross-Region inference, and token burndown. Prices are USD
/// per 1,000 tokens, on-demand Standard tier, us-east-1; a price no source gave is nil, never a
/// guess. Prices change: check https://aws.amazon.com/bedrock/pricing/ before any billing use.
/// docs/pricing.md describes the rules below for users.
///
/// Lookup (``quote(for:region:override:)``):
/// 1. A `model.pricing` override in the job wins, whatever the model.
/// 2. The reference is parsed (``ModelReference``): bare id, profile id or ARN. Application
///    inference profiles and other ARNs that do not name the model are unknown (nil).
/// 3. The base id must be in the table; otherwise nil ("cost unknown").
/// 4. Price: a row for the source Region if the table has one; else a row for the profile prefix
///    (Nova `eu.`/`apac.`, Claude 4.5 `us-gov.`); else, for a geographic prefix (`us.`, `eu.`,
///    `apac.`, `jp.`, `au.`), the geographic price where the reference gives one (Claude 4.5 and
///    newer, +10%); else the base price, which is also the `global.` and bare-id price. A
///    `us-gov.` prefix without a listed price is unknown (GovCloud costs more, by no listed figure).
/// 5. The quote is flagged approximate when a source Region other than us-east-1 is known, the
///    table has no price for it or for the profile, and the model's price is not documented as the
///    same in every Region (Claude 4.5 and newer).
public enum PricingTable {
    /// When the prices were gathered.
    public static let asOf = "2026-11-30"

    /// Every model in the table, in the reference's order.
    public static var entries: [PricingEntry] { data }

    private static let byId: [String: PricingEntry] = Dictionary(
        data.map { ($0.modelId, $0) }, uniquingKeysWith: { first, _ in first })

    /// The table's row for a base model id (no prefix, no ARN).
    public static func entry(for modelId: String) -> PricingEntry? { byId[modelId] }

    /// The price of a model id, profile id or ARN; nil when unknown ("cost unknown").
    public static func price(for model: String, region: String? = nil, override: PricingOverride? = nil) -> ModelPrice? {
        quote(for: model, region: region, override: override)?.price
    }

    /// The price to use for a model, with where it came from. `region` is the Region the calls are
    /// made in (for a profile: the source Region); without one, an ARN's Region is used.
    public static func quote(for model: String, region: String? = nil, override: PricingOverride? = nil) -> PriceQuote? {
        let reference = ModelReference(parsing: model)
        let region = region ?? reference?.arnRegion
        if let override {
            return PriceQuote(
                model: model, reference: reference, region: region, price: override.price,
                burndownRate: override.burndown ?? burndownRate(for: model),
                confidence: nil, source: "model.pricing in the job file", isOverride: true, isApproximate: false,
                notes: [])
        }
        guard let reference, let entry = byId[reference.modelId] else { return nil }
        var notes: [String] = []
        var price = entry.price
        var specific = false
        if let region, let regional = entry.regionalPrices[region] {
            price = regional
            specific = true
        } else if let prefix = reference.profilePrefix, let profile = entry.profilePrices[prefix] {
            price = profile
            specific = true
        } else if reference.profilePrefix == "us-gov" {
            return nil
        } else if reference.isGeographic, let geographic = entry.geographicPrice {
            price = geographic
        }
        if reference.profilePrefix == nil, entry.regionIndependent {
            notes.append(
                "bare id priced as global; Anthropic says regional endpoints of Claude 4.5 and newer cost 10% more")
        }
        var approximate = false
        if let region, region != "us-east-1", !specific, !entry.regionIndependent {
            approximate = true
            notes.append("no price listed for \(region); the us-east-1 price is used")
        }
        return PriceQuote(
            model: model, reference: reference, region: region, price: price, burndownRate: entry.burndown,
            confidence: entry.confidence, source: entry.note, isOverride: false, isApproximate: approximate,
            notes: notes)
    }

    /// How many quota tokens one output token uses (input tokens count 1:1). Quota only, never
    /// billing. From the table when the model is in it; otherwise by Claude version, per the
    /// Bedrock burndown page as quoted in the reference: 4.8 → 15, 5 and later → 10, 4.0–4.7 → 5;
    /// 1 for Claude 3.x (unverified), every other model, and references that do not name a model
    /// (application inference profiles). The rate applies to every profile prefix of a model.
    public static func burndownRate(for model: String) -> Int {
        guard let reference = ModelReference(parsing: model) else { return 1 }
        if let entry = byId[reference.modelId] { return entry.burndown }
        guard let (major, minor) = reference.claudeVersion else { return 1 }
        switch (major, minor) {
        case (5..., _): return 10
        case (4, 8...): return 15
        case (4, _): return 5
        default: return 1
        }
    }
}

/// A price for a model, and where it came from.
public struct PriceQuote: Sendable, Equatable {
    /// The model as the job names it.
    public var model: String
    /// The parsed reference (nil for an override of a model reference that names no model).
    public var reference: ModelReference?
    /// The source Region used for the price, if known.
    public var region: String?
    public var price: ModelPrice
    /// Output-token burndown for quota pacing.
    public var burndownRate: Int
    /// The table's confidence; nil for a job override.
    public var confidence: PriceConfidence?
    /// The sources (`LL-new, LF, PF: H`) or `model.pricing in the job file`.
    public var source: String
    /// True when the job's `model.pricing` gave the price.
    public var isOverride: Bool
    /// True when the price is for another Region than the one the calls are made in.
    public var isApproximate: Bool
    /// Caveats worth showing beside the estimate.
    public var notes: [String]
}
