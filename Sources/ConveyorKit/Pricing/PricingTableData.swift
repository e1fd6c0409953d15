// The price table, copied from shared/reference/bedrock-pricing.md (gathered 2026-11-30).
// USD per 1,000 tokens, on-demand Standard tier, us-east-1 unless a row says otherwise.
// Every figure below is in the reference; a figure the reference does not give is nil. Where
// sources disagree, the reference's preferred (bold, newer) value is used and the note says so.
// Source keys: LL-new (litellm 1.110.2 price file, citing the AWS Price List), LL-old (litellm
// 1.72.0), LF (langfuse default-model-prices.json @6275144), PF (promptfoo bedrock pricing.ts
// @01e1a3c), SW (simonw/llm-prices amazon.json @510f9a3), AWS pricing and user-guide pages.

extension PricingTable {
    static let data: [PricingEntry] = anthropic + nova + meta + mistralAndCohere

    // MARK: §1 Anthropic Claude

    private static let anthropic: [PricingEntry] = [
        PricingEntry(
            "anthropic.claude-3-haiku-20240307-v1:0",
            ModelPrice(inputPer1k: 0.00025, outputPer1k: 0.00125),
            burndown: 1, burndownVerified: false, confidence: .high, note: "LL-old, LF, PF: H"),
        PricingEntry(
            "anthropic.claude-3-sonnet-20240229-v1:0",
            ModelPrice(inputPer1k: 0.003, outputPer1k: 0.015, cacheWritePer1k: 0.00375, cacheReadPer1k: 0.0003),
            burndown: 1, burndownVerified: false, confidence: .high,
            note: "LL-old, LF: H; cache prices LF only: L"),
        PricingEntry(
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            ModelPrice(inputPer1k: 0.0008, outputPer1k: 0.004, cacheWritePer1k: 0.001, cacheReadPer1k: 0.00008),
            burndown: 1, burndownVerified: false, confidence: .high,
            note: "LL-new, LL-old, LF, PF: H (LL-old's eu. price of 0.00025 / 0.00125 is Claude 3 Haiku's; LL-new used)"),
        PricingEntry(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            ModelPrice(inputPer1k: 0.003, outputPer1k: 0.015, cacheWritePer1k: 0.00375, cacheReadPer1k: 0.0003),
            burndown: 1, burndownVerified: false, confidence: .high,
            note: "LL-new, LF, PF: H (LL-old has no cache price)"),
        PricingEntry(
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            ModelPrice(inputPer1k: 0.003, outputPer1k: 0.015, cacheWritePer1k: 0.00375, cacheReadPer1k: 0.0003),
            burndown: 1, burndownVerified: false, confidence: .high, note: "LL-new, LL-old, LF: H"),
        PricingEntry(
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            ModelPrice(inputPer1k: 0.003, outputPer1k: 0.015, cacheWritePer1k: 0.00375, cacheReadPer1k: 0.0003),
            burndown: 1, burndownVerified: false, confidence: .high,
            note: "LL-new, LL-old, LF, PF: H; burndown 1x or 5x (unconfirmed), 1x used as for Claude 3.x"),
        PricingEntry(
            "anthropic.claude-sonnet-4-20250514-v1:0",
            ModelPrice(
                inputPer1k: 0.003, outputPer1k: 0.015, cacheWritePer1k: 0.00375, cacheReadPer1k: 0.0003,
                longContext: LongContextPrice(inputPer1k: 0.006, outputPer1k: 0.0225)),
            burndown: 5, confidence: .high,
            note: "LL-new, LL-old, LF, PF: H; input > 200k tokens LL-new: M"),
        PricingEntry(
            "anthropic.claude-opus-4-20250514-v1:0",
            ModelPrice(inputPer1k: 0.015, outputPer1k: 0.075, cacheWritePer1k: 0.01875, cacheReadPer1k: 0.0015),
            burndown: 5, confidence: .high, note: "LL-new, LL-old, LF, PF: H"),
        PricingEntry(
            "anthropic.claude-opus-4-1-20250805-v1:0",
            ModelPrice(inputPer1k: 0.015, outputPer1k: 0.075, cacheWritePer1k: 0.01875, cacheReadPer1k: 0.0015),
            burndown: 5, confidence: .high, note: "LL-new, LF, PF: H"),
        PricingEntry(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            ModelPrice(
                inputPer1k: 0.003, outputPer1k: 0.015, batchInputPer1k: 0.0015, batchOutputPer1k: 0.0075,
                cacheWritePer1k: 0.00375, cacheWrite1hPer1k: 0.006, cacheReadPer1k: 0.0003,
                longContext: LongContextPrice(
                    inputPer1k: 0.006, outputPer1k: 0.0225, cacheWritePer1k: 0.0075, cacheReadPer1k: 0.0006)),
            geographic: ModelPrice(
                inputPer1k: 0.0033, outputPer1k: 0.0165, batchInputPer1k: 0.00165, batchOutputPer1k: 0.00825,
                cacheWritePer1k: 0.004125, cacheWrite1hPer1k: 0.0066, cacheReadPer1k: 0.00033,
                longContext: LongContextPrice(inputPer1k: 0.0066, outputPer1k: 0.02475)),
            profiles: ["us-gov": ModelPrice(inputPer1k: 0.0036, outputPer1k: 0.018)],
            regionIndependent: true, burndown: 5, confidence: .high,
            note: "LL-new, LF, PF: H; batch LL-new: M; geo +10% LL-new: M (rule: H); > 200k LL-new: M; us-gov LL-new: M"),
        PricingEntry(
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            ModelPrice(
                inputPer1k: 0.001, outputPer1k: 0.005, batchInputPer1k: 0.0005, batchOutputPer1k: 0.0025,
                cacheWritePer1k: 0.00125, cacheWrite1hPer1k: 0.002, cacheReadPer1k: 0.0001),
            geographic: ModelPrice(
                inputPer1k: 0.0011, outputPer1k: 0.0055, batchInputPer1k: 0.00055, batchOutputPer1k: 0.00275,
                cacheWritePer1k: 0.001375, cacheReadPer1k: 0.00011),
            profiles: ["us-gov": ModelPrice(inputPer1k: 0.0012, outputPer1k: 0.006)],
            regionIndependent: true, burndown: 5, confidence: .high,
            note: "LL-new, LF, PF: H; batch LL-new: M; geo LL-new: M; us-gov LL-new: M"),
        PricingEntry(
            "anthropic.claude-opus-4-5-20251101-v1:0",
            ModelPrice(
                inputPer1k: 0.005, outputPer1k: 0.025, cacheWritePer1k: 0.00625, cacheWrite1hPer1k: 0.01,
                cacheReadPer1k: 0.0005),
            geographic: ModelPrice(
                inputPer1k: 0.0055, outputPer1k: 0.0275, cacheWritePer1k: 0.006875, cacheReadPer1k: 0.00055),
            regionIndependent: true, burndown: 5, confidence: .high,
            note: "LL-new, LF, PF: H; geo LL-new: M"),
        PricingEntry(
            "anthropic.claude-opus-4-6-v1",
            ModelPrice(
                inputPer1k: 0.005, outputPer1k: 0.025, cacheWritePer1k: 0.00625, cacheWrite1hPer1k: 0.01,
                cacheReadPer1k: 0.0005),
            geographic: ModelPrice(inputPer1k: 0.0055, outputPer1k: 0.0275),
            regionIndependent: true, burndown: 5, confidence: .high,
            note: "LL-new, LF, PF: H; geo +10%: 0.0055 / 0.0275"),
        PricingEntry(
            "anthropic.claude-opus-4-7",
            ModelPrice(
                inputPer1k: 0.005, outputPer1k: 0.025, cacheWritePer1k: 0.00625, cacheWrite1hPer1k: 0.01,
                cacheReadPer1k: 0.0005),
            geographic: ModelPrice(inputPer1k: 0.0055, outputPer1k: 0.0275),
            regionIndependent: true, burndown: 5, confidence: .high,
            note: "LL-new, LF, PF: H; geo +10%: 0.0055 / 0.0275"),
        PricingEntry(
            "anthropic.claude-opus-4-8",
            ModelPrice(inputPer1k: 0.005, outputPer1k: 0.025, cacheWritePer1k: 0.00625, cacheReadPer1k: 0.0005),
            regionIndependent: true, burndown: 15, confidence: .high,
            note: "LL-new, LF, PF: H; no geo price in the sources; burndown 15x from the newer AWS text: M"),
        PricingEntry(
            "anthropic.claude-sonnet-4-6",
            ModelPrice(inputPer1k: 0.003, outputPer1k: 0.015, cacheWritePer1k: 0.00375, cacheReadPer1k: 0.0003),
            geographic: ModelPrice(inputPer1k: 0.0033, outputPer1k: 0.0165),
            regionIndependent: true, burndown: 5, confidence: .high,
            note: "LL-new, LF: H (us./eu. 0.0033 / 0.0165)"),
    ]

    // MARK: §2 Amazon Nova

    private static let nova: [PricingEntry] = [
        PricingEntry(
            "amazon.nova-micro-v1:0",
            ModelPrice(
                inputPer1k: 0.000035, outputPer1k: 0.00014, batchInputPer1k: 0.0000175, batchOutputPer1k: 0.00007,
                cacheReadPer1k: 0.00000875),
            profiles: [
                "eu": ModelPrice(inputPer1k: 0.000046, outputPer1k: 0.000184),
                "apac": ModelPrice(inputPer1k: 0.000037, outputPer1k: 0.000148),
            ],
            confidence: .high, note: "LL-new, LL-old, PF, SW: H; eu./apac. LL-new: M; no cache-write price"),
        PricingEntry(
            "amazon.nova-lite-v1:0",
            ModelPrice(
                inputPer1k: 0.00006, outputPer1k: 0.00024, batchInputPer1k: 0.00003, batchOutputPer1k: 0.00012,
                cacheReadPer1k: 0.000015),
            profiles: [
                "eu": ModelPrice(inputPer1k: 0.000078, outputPer1k: 0.000312),
                "apac": ModelPrice(inputPer1k: 0.000063, outputPer1k: 0.000252),
            ],
            confidence: .high, note: "LL-new, LL-old, PF, SW: H; eu./apac. LL-new: M; no cache-write price"),
        PricingEntry(
            "amazon.nova-pro-v1:0",
            ModelPrice(
                inputPer1k: 0.0008, outputPer1k: 0.0032, batchInputPer1k: 0.0004, batchOutputPer1k: 0.0016,
                cacheReadPer1k: 0.0002),
            profiles: [
                "eu": ModelPrice(inputPer1k: 0.00105, outputPer1k: 0.0042),
                "apac": ModelPrice(inputPer1k: 0.00084, outputPer1k: 0.00336),
            ],
            confidence: .high, note: "LL-new, LL-old, PF, SW: H; eu. LL-new, LL-old: H; apac. LL-new: M; no cache-write price"),
        PricingEntry(
            "amazon.nova-premier-v1:0",
            ModelPrice(
                inputPer1k: 0.0025, outputPer1k: 0.0125, batchInputPer1k: 0.00125, batchOutputPer1k: 0.00625,
                cacheReadPer1k: 0.000625),
            confidence: .medium, note: "LL-new, LL-old, SW: output 0.0125; PF disagrees (0.010): M; no cache-write price"),
    ]

    // MARK: §3 Meta Llama

    private static let meta: [PricingEntry] = [
        PricingEntry(
            "meta.llama3-8b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.0003, outputPer1k: 0.0006),
            regions: ["eu-west-2": ModelPrice(inputPer1k: 0.00039, outputPer1k: 0.00078)],
            confidence: .high, note: "LL-new, LL-old (AWS model card): H; eu-west-2: H"),
        PricingEntry(
            "meta.llama3-70b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00265, outputPer1k: 0.0035),
            regions: [
                "eu-west-2": ModelPrice(inputPer1k: 0.00345, outputPer1k: 0.00455),
                "eu-west-1": ModelPrice(inputPer1k: 0.00286, outputPer1k: 0.00378),
            ],
            confidence: .high, note: "LL-new, LL-old: H; eu-west-2, eu-west-1: H"),
        PricingEntry(
            "meta.llama3-1-8b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00022, outputPer1k: 0.00022, batchInputPer1k: 0.00011, batchOutputPer1k: 0.00011),
            confidence: .high, note: "LL-new, LL-old, PF: H"),
        PricingEntry(
            "meta.llama3-1-70b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00072, outputPer1k: 0.00072, batchInputPer1k: 0.00036, batchOutputPer1k: 0.00036),
            confidence: .low, note: "LL-new (AWS Price List) 0.00072 vs LL-old and PF 0.00099: L; newer value used"),
        PricingEntry(
            "meta.llama3-1-405b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.0024, outputPer1k: 0.0024),
            confidence: .low, note: "LL-new (AWS metered-unit map) 0.0024 vs LL-old and PF 0.00532 / 0.016: L; newer value used"),
        PricingEntry(
            "meta.llama3-2-1b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.0001, outputPer1k: 0.0001),
            confidence: .high, note: "LL-new, LL-old, PF: H"),
        PricingEntry(
            "meta.llama3-2-3b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00015, outputPer1k: 0.00015),
            confidence: .high, note: "LL-new, LL-old, PF: H"),
        PricingEntry(
            "meta.llama3-2-11b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00016, outputPer1k: 0.00016),
            confidence: .low, note: "LL-new 0.00016 vs LL-old and PF 0.00035: L; newer value used"),
        PricingEntry(
            "meta.llama3-2-90b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00072, outputPer1k: 0.00072),
            confidence: .low, note: "LL-new 0.00072 vs LL-old and PF 0.002: L; newer value used"),
        PricingEntry(
            "meta.llama3-3-70b-instruct-v1:0",
            ModelPrice(inputPer1k: 0.00072, outputPer1k: 0.00072, batchInputPer1k: 0.00036, batchOutputPer1k: 0.00036),
            confidence: .medium, note: "LL-new, LL-old vs PF (input 0.00099): M"),
    ]

    // MARK: §4 Mistral and Cohere

    private static let mistralAndCohere: [PricingEntry] = [
        PricingEntry(
            "mistral.mistral-7b-instruct-v0:2",
            ModelPrice(inputPer1k: 0.00015, outputPer1k: 0.0002),
            regions: ["eu-west-3": ModelPrice(inputPer1k: 0.0002, outputPer1k: 0.00026)],
            confidence: .high, note: "LL-new, LL-old, PF: H"),
        PricingEntry(
            "mistral.mixtral-8x7b-instruct-v0:1",
            ModelPrice(inputPer1k: 0.00045, outputPer1k: 0.0007),
            regions: ["eu-west-3": ModelPrice(inputPer1k: 0.00059, outputPer1k: 0.00091)],
            confidence: .high, note: "LL-new, LL-old, PF: H"),
        PricingEntry(
            "mistral.mistral-small-2402-v1:0",
            ModelPrice(inputPer1k: 0.001, outputPer1k: 0.003, batchInputPer1k: 0.0005, batchOutputPer1k: 0.0015),
            confidence: .high, note: "LL-new, LL-old, PF: H; batch LL-new: M"),
        PricingEntry(
            "mistral.mistral-large-2402-v1:0",
            ModelPrice(inputPer1k: 0.004, outputPer1k: 0.012),
            regions: ["eu-west-3": ModelPrice(inputPer1k: 0.0052, outputPer1k: 0.0156)],
            confidence: .medium,
            note: "LL-new (AWS model card) and PF vs LL-old (0.008 / 0.024): M; eu-west-3 LL-new vs LL-old (0.0104 / 0.0312): L"),
        PricingEntry(
            "mistral.mistral-large-2407-v1:0",
            ModelPrice(inputPer1k: 0.002, outputPer1k: 0.006),
            confidence: .low, note: "LL-new vs LL-old (0.003 / 0.009); PF's prefix match would give 0.004 / 0.012: L"),
        PricingEntry(
            "mistral.pixtral-large-2502-v1:0",
            ModelPrice(inputPer1k: 0.002, outputPer1k: 0.006),
            confidence: .high, note: "LL-new, PF: H (us./eu. the same)"),
        PricingEntry(
            "mistral.mistral-large-3-675b-instruct",
            ModelPrice(inputPer1k: 0.0005, outputPer1k: 0.0015, batchInputPer1k: 0.00025, batchOutputPer1k: 0.00075),
            confidence: .medium, note: "LL-new: M"),
        PricingEntry(
            "cohere.command-r-v1:0",
            ModelPrice(inputPer1k: 0.0005, outputPer1k: 0.0015),
            confidence: .high, note: "LL-old, PF: H (absent from LL-new)"),
        PricingEntry(
            "cohere.command-r-plus-v1:0",
            ModelPrice(inputPer1k: 0.003, outputPer1k: 0.015),
            confidence: .high, note: "LL-old, PF: H (one blog says 0.0025 / 0.01: L)"),
        PricingEntry(
            "cohere.command-text-v14",
            ModelPrice(inputPer1k: 0.001, outputPer1k: 0.002),
            confidence: .medium, note: "LL-new (AWS pricing page) vs LL-old (input 0.0015): M"),
        PricingEntry(
            "cohere.command-light-text-v14",
            ModelPrice(inputPer1k: 0.0003, outputPer1k: 0.0006),
            confidence: .high, note: "LL-new, LL-old: H"),
    ]
}
