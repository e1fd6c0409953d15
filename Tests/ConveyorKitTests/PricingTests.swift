import ConveyorKit
import Testing

func close(_ a: Double?, _ b: Double?, tolerance: Double = 1e-12) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}

@Suite("Pricing table")
struct PricingTableTests {
    static let sonnet4 = "anthropic.claude-sonnet-4-20250514-v1:0"
    static let sonnet45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    static let haiku45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
    static let novaPro = "amazon.nova-pro-v1:0"

    @Test func bareIds() throws {
        let haiku35 = try #require(PricingTable.price(for: "anthropic.claude-3-5-haiku-20241022-v1:0"))
        #expect(haiku35.inputPer1k == 0.0008)
        #expect(haiku35.outputPer1k == 0.004)
        #expect(haiku35.cacheWritePer1k == 0.001)
        #expect(haiku35.cacheReadPer1k == 0.00008)
        #expect(haiku35.batchInputPer1k == nil)

        let llama = try #require(PricingTable.price(for: "meta.llama3-1-70b-instruct-v1:0"))
        #expect(llama.inputPer1k == 0.00072)  // the newer (bold) figure of a disputed pair
        let premier = try #require(PricingTable.quote(for: "amazon.nova-premier-v1:0"))
        #expect(premier.price.outputPer1k == 0.0125)
        #expect(premier.confidence == .medium)
        #expect(PricingTable.price(for: "cohere.command-r-plus-v1:0")?.inputPer1k == 0.003)
        #expect(PricingTable.price(for: "mistral.mistral-large-2407-v1:0")?.outputPer1k == 0.006)
    }

    @Test func tableIsConsistent() {
        var seen: Set<String> = []
        for entry in PricingTable.entries {
            #expect(seen.insert(entry.modelId).inserted, "duplicate \(entry.modelId)")
            #expect(PricingTable.entry(for: entry.modelId) == entry)
            #expect(ModelReference(parsing: entry.modelId)?.profilePrefix == nil, "\(entry.modelId) looks prefixed")
            #expect(entry.price.inputPer1k > 0 && entry.price.outputPer1k > 0)
            #expect(!entry.note.isEmpty)
            #expect([1, 5, 10, 15].contains(entry.burndown))
        }
        #expect(PricingTable.entries.count == 41)
        #expect(PricingTable.asOf == "2026-11-30")
    }

    /// The reference says every listed batch price is exactly 50% of on-demand, and Claude cache
    /// prices are 1.25× (write), 0.1× (read) and 2× (1-hour write) of input: a check on the copying.
    @Test func transcribedRatiosHold() {
        for entry in PricingTable.entries {
            var prices = [entry.price] + Array(entry.profilePrices.values) + Array(entry.regionalPrices.values)
            if let geo = entry.geographicPrice { prices.append(geo) }
            for p in prices {
                if let b = p.batchInputPer1k { #expect(close(b, p.inputPer1k * 0.5), "\(entry.modelId) batch in") }
                if let b = p.batchOutputPer1k { #expect(close(b, p.outputPer1k * 0.5), "\(entry.modelId) batch out") }
                guard entry.modelId.hasPrefix("anthropic.") else { continue }
                if let w = p.cacheWritePer1k { #expect(close(w, p.inputPer1k * 1.25), "\(entry.modelId) cache write") }
                if let r = p.cacheReadPer1k { #expect(close(r, p.inputPer1k * 0.1), "\(entry.modelId) cache read") }
                if let h = p.cacheWrite1hPer1k { #expect(close(h, p.inputPer1k * 2), "\(entry.modelId) 1h write") }
            }
            if let geo = entry.geographicPrice {
                #expect(close(geo.inputPer1k, entry.price.inputPer1k * 1.1), "\(entry.modelId) geo in")
                #expect(close(geo.outputPer1k, entry.price.outputPer1k * 1.1), "\(entry.modelId) geo out")
            }
        }
    }

    @Test func olderClaudeProfilesCostTheSame() throws {
        let bare = try #require(PricingTable.price(for: Self.sonnet4))
        for prefix in ["us", "eu", "apac", "jp", "au", "global"] {
            #expect(PricingTable.price(for: "\(prefix).\(Self.sonnet4)") == bare, "\(prefix).")
        }
        #expect(PricingTable.price(for: "eu.anthropic.claude-opus-4-1-20250805-v1:0")?.inputPer1k == 0.015)
    }

    @Test func newerClaudeGeographicProfilesCost10PercentMore() throws {
        let global = try #require(PricingTable.price(for: "global.\(Self.sonnet45)"))
        #expect(global.inputPer1k == 0.003)
        #expect(global.batchInputPer1k == 0.0015)
        for prefix in ["us", "eu", "apac", "jp", "au"] {
            let geo = try #require(PricingTable.price(for: "\(prefix).\(Self.sonnet45)"))
            #expect(geo.inputPer1k == 0.0033)
            #expect(geo.outputPer1k == 0.0165)
            #expect(geo.batchOutputPer1k == 0.00825)
            #expect(geo.cacheWritePer1k == 0.004125)
            #expect(geo.longContext?.inputPer1k == 0.0066)
        }
        #expect(PricingTable.price(for: "apac.\(Self.haiku45)")?.inputPer1k == 0.0011)
        #expect(PricingTable.price(for: "us.anthropic.claude-opus-4-5-20251101-v1:0")?.outputPer1k == 0.0275)
        #expect(PricingTable.price(for: "eu.anthropic.claude-sonnet-4-6")?.outputPer1k == 0.0165)
        let opus47 = try #require(PricingTable.price(for: "us.anthropic.claude-opus-4-7"))
        #expect(opus47.inputPer1k == 0.0055)
        #expect(opus47.cacheReadPer1k == nil, "the reference gives no geo cache price for Opus 4.7")
        // No geo figure in the reference for Opus 4.8: the base price.
        #expect(PricingTable.price(for: "us.anthropic.claude-opus-4-8")?.inputPer1k == 0.005)
    }

    @Test func bareIdOfNewerClaudeIsTheGlobalPriceWithANote() throws {
        let quote = try #require(PricingTable.quote(for: Self.sonnet45))
        #expect(quote.price.inputPer1k == 0.003)
        #expect(quote.notes.count == 1)
        #expect(PricingTable.quote(for: "global.\(Self.sonnet45)")?.notes == [])
    }

    @Test func novaProfiles() throws {
        #expect(PricingTable.price(for: "eu.\(Self.novaPro)")?.inputPer1k == 0.00105)
        #expect(PricingTable.price(for: "apac.\(Self.novaPro)")?.outputPer1k == 0.00336)
        #expect(PricingTable.price(for: "us.\(Self.novaPro)") == PricingTable.price(for: Self.novaPro))
        #expect(PricingTable.price(for: "eu.amazon.nova-micro-v1:0")?.outputPer1k == 0.000184)
        #expect(PricingTable.price(for: "eu.\(Self.novaPro)")?.batchInputPer1k == nil)
    }

    @Test func govCloud() {
        #expect(PricingTable.price(for: "us-gov.\(Self.sonnet45)")?.inputPer1k == 0.0036)
        #expect(PricingTable.price(for: "us-gov.\(Self.haiku45)")?.outputPer1k == 0.006)
        #expect(PricingTable.price(for: "us-gov.\(Self.sonnet4)") == nil)
    }

    @Test func arns() throws {
        let foundation = try #require(PricingTable.quote(for: "arn:aws:bedrock:us-east-1::foundation-model/\(Self.sonnet4)"))
        #expect(foundation.price.inputPer1k == 0.003)
        #expect(foundation.reference?.modelId == Self.sonnet4)
        #expect(foundation.region == "us-east-1")

        let profile = try #require(PricingTable.quote(
            for: "arn:aws:bedrock:eu-west-2:123456789012:inference-profile/eu.\(Self.sonnet45)"))
        #expect(profile.price.inputPer1k == 0.0033)
        #expect(profile.reference?.profilePrefix == "eu")
        #expect(profile.region == "eu-west-2")
        #expect(!profile.isApproximate)

        #expect(PricingTable.quote(for: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3") == nil)
        #expect(PricingTable.quote(for: "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz") == nil)
        #expect(PricingTable.quote(for: "arn:aws-cn:bedrock:cn-north-1::foundation-model/\(Self.sonnet4)") == nil)
        #expect(PricingTable.quote(for: "arn:aws:s3:::bucket/\(Self.sonnet4)") == nil)
    }

    @Test("unknown models", arguments: [
        "anthropic.claude-9-giant",
        "ca.\(PricingTableTests.sonnet4)",
        "",
        "  ",
        "us.",
        "anthropic.claude-3-7-sonnet-20240620-v1:0",  // a bogus key in one source, not a Bedrock id
        "ANTHROPIC.CLAUDE-SONNET-4-20250514-V1:0",
    ])
    func unknown(_ model: String) {
        #expect(PricingTable.price(for: model) == nil)
    }

    @Test func whitespaceAroundTheIdIsIgnored() {
        #expect(PricingTable.price(for: " \(Self.novaPro) ") == PricingTable.price(for: Self.novaPro))
    }

    @Test func regions() throws {
        let london = try #require(PricingTable.quote(for: "meta.llama3-8b-instruct-v1:0", region: "eu-west-2"))
        #expect(london.price.inputPer1k == 0.00039)
        #expect(!london.isApproximate)
        let virginia = try #require(PricingTable.quote(for: "meta.llama3-8b-instruct-v1:0", region: "us-east-1"))
        #expect(virginia.price.inputPer1k == 0.0003)
        #expect(!virginia.isApproximate)
        let unlisted = try #require(PricingTable.quote(for: "meta.llama3-1-8b-instruct-v1:0", region: "eu-west-2"))
        #expect(unlisted.price.inputPer1k == 0.00022)
        #expect(unlisted.isApproximate)
        #expect(unlisted.notes == ["no price listed for eu-west-2; the us-east-1 price is used"])
        #expect(PricingTable.quote(for: "mistral.mistral-7b-instruct-v0:2", region: "eu-west-3")?.price.outputPer1k == 0.00026)
        // Claude 4.5 and newer: the same whatever the Region.
        #expect(PricingTable.quote(for: "eu.\(Self.sonnet45)", region: "eu-west-2")?.isApproximate == false)
        // Older Claude: no London price in any source.
        #expect(PricingTable.quote(for: "eu.\(Self.sonnet4)", region: "eu-west-2")?.isApproximate == true)
        // Nova eu. has its own price.
        #expect(PricingTable.quote(for: "eu.\(Self.novaPro)", region: "eu-west-2")?.isApproximate == false)
        #expect(PricingTable.quote(for: Self.novaPro)?.isApproximate == false)
    }

    @Test func overrideTakesPrecedence() throws {
        let override = PricingOverride(inputPer1k: 0.01, outputPer1k: 0.02)
        let known = try #require(PricingTable.quote(for: Self.sonnet4, override: override))
        #expect(known.price == ModelPrice(inputPer1k: 0.01, outputPer1k: 0.02))
        #expect(known.isOverride)
        #expect(known.source == "model.pricing in the job file")
        #expect(known.burndownRate == 5, "the table's burndown still applies")

        let app = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
        let perMillion = PricingOverride(inputPerMillion: 3, outputPerMillion: 15, burndown: 5)
        let unknown = try #require(PricingTable.quote(for: app, override: perMillion))
        #expect(close(unknown.price.inputPer1k, 0.003))
        #expect(close(unknown.price.outputPer1k, 0.015))
        #expect(unknown.burndownRate == 5)
        #expect(PricingTable.price(for: "my.custom-model", override: override) != nil)
    }

    @Test func overrideFromTheJobFile() throws {
        #expect(try PricingOverride(fields: ["inputPer1k": 0.001, "outputPer1k": 0.002])
            == PricingOverride(inputPer1k: 0.001, outputPer1k: 0.002))
        let m = try PricingOverride(fields: ["inputPerMillion": 0.8, "outputPerMillion": 4, "burndown": 5])
        #expect(close(m.inputPer1k, 0.0008) && close(m.outputPer1k, 0.004) && m.burndown == 5)

        let cases: [([String: Double], PricingOverrideError)] = [
            (["inputPer1K": 1, "outputPer1k": 1], PricingOverrideError(key: "inputPer1K", message: "unknown key \"inputPer1K\"; expected inputPer1k and outputPer1k, or inputPerMillion and outputPerMillion, and optionally burndown")),
            (["inputPer1k": 1], PricingOverrideError(key: nil, message: "outputPer1k is missing (inputPer1k is given)")),
            (["outputPerMillion": 1], PricingOverrideError(key: nil, message: "inputPerMillion is missing (outputPerMillion is given)")),
            ([:], PricingOverrideError(key: nil, message: "inputPer1k and outputPer1k are missing")),
            (["inputPer1k": 1, "outputPerMillion": 1], PricingOverrideError(key: nil, message: "give prices per 1k (inputPer1k, outputPer1k) or per million (inputPerMillion, outputPerMillion), not both")),
            (["inputPer1k": -1, "outputPer1k": 1], PricingOverrideError(key: "inputPer1k", message: "inputPer1k must be a number ≥ 0")),
            (["inputPer1k": 1, "outputPer1k": .nan], PricingOverrideError(key: "outputPer1k", message: "outputPer1k must be a number ≥ 0")),
            (["inputPer1k": 1, "outputPer1k": 1, "burndown": 2.5], PricingOverrideError(key: "burndown", message: "burndown must be a whole number ≥ 1")),
        ]
        for (fields, expected) in cases {
            #expect(throws: expected) { try PricingOverride(fields: fields) }
        }
        #expect(PricingOverrideError(key: nil, message: "x").description == "model.pricing: x")
    }

    @Test("burndown rates", arguments: [
        (PricingTableTests.sonnet4, 5),
        ("eu.\(PricingTableTests.sonnet4)", 5),
        ("anthropic.claude-opus-4-20250514-v1:0", 5),
        ("global.\(PricingTableTests.sonnet45)", 5),
        ("anthropic.claude-opus-4-8", 15),
        ("us.anthropic.claude-opus-4-8", 15),
        ("anthropic.claude-3-haiku-20240307-v1:0", 1),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", 1),
        (PricingTableTests.novaPro, 1),
        ("meta.llama3-8b-instruct-v1:0", 1),
        // Not in the table: the Claude version rule.
        ("anthropic.claude-sonnet-4-7-20260101-v1:0", 5),
        ("us.anthropic.claude-haiku-4-8", 15),
        ("anthropic.claude-sonnet-5-20270101-v1:0", 10),
        ("anthropic.claude-3-5-opus-20250101-v1:0", 1),
        ("some.unknown-model", 1),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3", 1),
        ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-opus-4-1-20250805-v1:0", 5),
    ])
    func burndown(_ model: String, _ rate: Int) {
        #expect(PricingTable.burndownRate(for: model) == rate)
    }

    @Test func quoteCarriesTheBurndownAndSource() throws {
        let quote = try #require(PricingTable.quote(for: "us.\(Self.haiku45)"))
        #expect(quote.burndownRate == 5)
        #expect(quote.confidence == .high)
        #expect(quote.source.contains("LL-new"))
        #expect(PricingTable.entry(for: "anthropic.claude-3-haiku-20240307-v1:0")?.burndownVerified == false)
    }

    @Test func modelReferences() throws {
        let r = try #require(ModelReference(parsing: "apac.amazon.nova-lite-v1:0"))
        #expect(r == ModelReference(modelId: "amazon.nova-lite-v1:0", profilePrefix: "apac"))
        #expect(r.isGeographic)
        #expect(ModelReference(parsing: "global.x.y")?.isGeographic == false)
        let arn = try #require(ModelReference(parsing: "arn:aws:bedrock:us-west-2:1:inference-profile/us.meta.llama3-1-8b-instruct-v1:0"))
        #expect(arn == ModelReference(modelId: "meta.llama3-1-8b-instruct-v1:0", profilePrefix: "us", arnRegion: "us-west-2"))

        func version(_ id: String) -> String? {
            ModelReference(modelId: id).claudeVersion.map { "\($0.major).\($0.minor)" }
        }
        #expect(version("anthropic.claude-3-haiku-20240307-v1:0") == "3.0")
        #expect(version("anthropic.claude-3-5-sonnet-20241022-v2:0") == "3.5")
        #expect(version("anthropic.claude-sonnet-4-20250514-v1:0") == "4.0")
        #expect(version("anthropic.claude-opus-4-1-20250805-v1:0") == "4.1")
        #expect(version("anthropic.claude-opus-4-6-v1") == "4.6")
        #expect(version("anthropic.claude-instant-v1") == nil)
        #expect(version("amazon.nova-pro-v1:0") == nil)
    }
}
