/// One model in the ``PricingTable``.
public struct PricingEntry: Sendable, Equatable {
    /// The base Bedrock model id, without profile prefix.
    public var modelId: String
    /// The price of the bare id, and of a `global.` profile: us-east-1 (or a US source Region).
    public var price: ModelPrice
    /// The price of a geographic profile (`us.`, `eu.`, `apac.`, `jp.`, `au.`) where the reference
    /// gives one: Claude 4.5 and newer, about 10% over global. Nil: the same as ``price``.
    public var geographicPrice: ModelPrice?
    /// Prices for particular profile prefixes, which win over ``geographicPrice``: Nova `eu.` and
    /// `apac.`, Claude 4.5 `us-gov.`.
    public var profilePrices: [String: ModelPrice]
    /// Prices in particular source Regions (`eu-west-2`), which win over profile prices.
    public var regionalPrices: [String: ModelPrice]
    /// Whether the reference says the price does not vary by source Region (Claude 4.5 and newer).
    public var regionIndependent: Bool
    /// Output-token burndown for quota (never billing): output tokens count this many times
    /// against tokens-per-minute quotas.
    public var burndown: Int
    /// False when the reference marks the burndown rate unverified (`1x?`).
    public var burndownVerified: Bool
    public var confidence: PriceConfidence
    /// Sources and remarks, as in the reference (`LL-new, LF, PF: H; batch LL-new: M`).
    public var note: String

    public init(
        _ modelId: String, _ price: ModelPrice,
        geographic: ModelPrice? = nil, profiles: [String: ModelPrice] = [:], regions: [String: ModelPrice] = [:],
        regionIndependent: Bool = false, burndown: Int = 1, burndownVerified: Bool = true,
        confidence: PriceConfidence, note: String
    ) {
        self.modelId = modelId
        self.price = price
        self.geographicPrice = geographic
        self.profilePrices = profiles
        self.regionalPrices = regions
        self.regionIndependent = regionIndependent
        self.burndown = burndown
        self.burndownVerified = burndownVerified
        self.confidence = confidence
        self.note = note
    }
}
