/// A job's own prices (`model.pricing`), which take precedence over the table for any model,
/// known or not:
///
/// ```yaml
/// model:
///   id: arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123
///   pricing: {inputPer1k: 0.003, outputPer1k: 0.015}          # USD per 1,000 tokens
///   # or:  {inputPerMillion: 3, outputPerMillion: 15}         # USD per 1,000,000 tokens
///   # optional: burndown: 5                                   # output burndown for quota pacing
/// ```
///
/// Both prices are required, in one unit (not mixed); each is a finite number ≥ 0. `burndown` is
/// an integer ≥ 1; without it the table's rate (or its Claude rule) applies. The override has no
/// batch or cache prices: batch estimates use 50% of it, cache tokens are priced as input, and both
/// are flagged as approximations.
public struct PricingOverride: Sendable, Equatable, Hashable {
    public var inputPer1k: Double
    public var outputPer1k: Double
    public var burndown: Int?

    /// The keys `model.pricing` accepts.
    public static let keys = ["inputPer1k", "outputPer1k", "inputPerMillion", "outputPerMillion", "burndown"]

    public init(inputPer1k: Double, outputPer1k: Double, burndown: Int? = nil) {
        self.inputPer1k = inputPer1k
        self.outputPer1k = outputPer1k
        self.burndown = burndown
    }

    public init(inputPerMillion: Double, outputPerMillion: Double, burndown: Int? = nil) {
        self.init(inputPer1k: inputPerMillion / 1000, outputPer1k: outputPerMillion / 1000, burndown: burndown)
    }

    /// From the `model.pricing` mapping of a job file, with errors that name the key.
    public init(fields: [String: Double]) throws(PricingOverrideError) {
        for key in fields.keys.sorted() where !Self.keys.contains(key) {
            throw PricingOverrideError(
                key: key,
                message: "unknown key \"\(key)\"; expected inputPer1k and outputPer1k, or inputPerMillion and outputPerMillion, and optionally burndown")
        }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !(value.isFinite && value >= 0) {
            throw PricingOverrideError(key: key, message: "\(key) must be a number ≥ 0")
        }
        var burndown: Int?
        if let b = fields["burndown"] {
            guard let rate = Int(exactly: b), rate >= 1 else {
                throw PricingOverrideError(key: "burndown", message: "burndown must be a whole number ≥ 1")
            }
            burndown = rate
        }
        let perThousand = fields["inputPer1k"] != nil || fields["outputPer1k"] != nil
        let perMillion = fields["inputPerMillion"] != nil || fields["outputPerMillion"] != nil
        if perThousand, perMillion {
            throw PricingOverrideError(
                key: nil, message: "give prices per 1k (inputPer1k, outputPer1k) or per million (inputPerMillion, outputPerMillion), not both")
        }
        if perMillion {
            guard let input = fields["inputPerMillion"] else {
                throw PricingOverrideError(key: nil, message: "inputPerMillion is missing (outputPerMillion is given)")
            }
            guard let output = fields["outputPerMillion"] else {
                throw PricingOverrideError(key: nil, message: "outputPerMillion is missing (inputPerMillion is given)")
            }
            self.init(inputPerMillion: input, outputPerMillion: output, burndown: burndown)
        } else {
            guard let input = fields["inputPer1k"] else {
                throw PricingOverrideError(
                    key: nil, message: perThousand ? "inputPer1k is missing (outputPer1k is given)" : "inputPer1k and outputPer1k are missing")
            }
            guard let output = fields["outputPer1k"] else {
                throw PricingOverrideError(key: nil, message: "outputPer1k is missing (inputPer1k is given)")
            }
            self.init(inputPer1k: input, outputPer1k: output, burndown: burndown)
        }
    }

    public var price: ModelPrice { ModelPrice(inputPer1k: inputPer1k, outputPer1k: outputPer1k) }
}

/// A `model.pricing` mapping that cannot be used; `key` names the offending key, if one does.
public struct PricingOverrideError: Error, Sendable, Equatable, CustomStringConvertible {
    public var key: String?
    public var message: String

    public init(key: String?, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "model.pricing: \(message)" }
}
