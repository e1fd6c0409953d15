import Foundation

/// What a job's `model.id` names, in the forms Converse accepts (reference/aws-protocols.md §1.2):
/// a foundation model id, a cross-Region inference profile id, or an ARN of a foundation model,
/// an inference profile, an application inference profile, a provisioned model, a custom model
/// (or its deployment), an imported model, a prompt, a prompt router or a SageMaker endpoint.
///
/// `conveyor doctor` checks the form and its region against the model region; the IAM policy of
/// `conveyor doctor --policy` grants `bedrock:InvokeModel` on what it names.
public struct ModelTarget: Sendable, Equatable {
    public enum Form: String, Sendable, Equatable, CaseIterable {
        case foundationModel = "foundation model id"
        case inferenceProfile = "cross-Region inference profile id"
        case foundationModelARN = "foundation-model ARN"
        case inferenceProfileARN = "inference-profile ARN"
        case applicationInferenceProfileARN = "application-inference-profile ARN"
        case provisionedModelARN = "provisioned-model ARN"
        case customModelARN = "custom-model ARN"
        case customModelDeploymentARN = "custom-model-deployment ARN"
        case importedModelARN = "imported-model ARN"
        case promptARN = "prompt ARN"
        case promptRouterARN = "prompt-router ARN"
        case sageMakerEndpointARN = "SageMaker endpoint ARN"
    }

    public var form: Form
    /// The id as written in the job.
    public var text: String
    /// The foundation model behind it, when the string says (ids, foundation-model and
    /// inference-profile ARNs): `anthropic.claude-3-haiku-20240307-v1:0`.
    public var foundationModelId: String?
    /// `us`, `eu`, `apac`, `jp`, `au`, `global` or `us-gov` for inference profiles.
    public var profilePrefix: String?
    /// An ARN's partition, region and account (the region or account may be empty).
    public var arnPartition: String?
    public var arnRegion: String?
    public var arnAccount: String?

    /// Bedrock ARN resource types and the form each names.
    static let bedrockResourceTypes: [(prefix: String, form: Form)] = [
        ("foundation-model/", .foundationModelARN),
        ("inference-profile/", .inferenceProfileARN),
        ("application-inference-profile/", .applicationInferenceProfileARN),
        ("provisioned-model/", .provisionedModelARN),
        ("custom-model-deployment/", .customModelDeploymentARN),
        ("custom-model/", .customModelARN),
        ("imported-model/", .importedModelARN),
        ("prompt/", .promptARN),
        ("default-prompt-router/", .promptRouterARN),
        ("prompt-router/", .promptRouterARN),
    ]

    /// Reads `text`, or says what is wrong with it (a sentence for a doctor line).
    public static func parse(_ text: String) -> Result<ModelTarget, ModelTargetError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 2048 else {
            return .failure(ModelTargetError(message: "the model id is empty or longer than 2048 characters"))
        }
        if trimmed.hasPrefix("arn:") { return parseARN(trimmed) }
        guard isModelIdText(trimmed), let reference = ModelReference(parsing: trimmed) else {
            return .failure(ModelTargetError(message: "'\(trimmed.prefix(100))' is neither a model id "
                + "(provider.model, such as anthropic.claude-3-haiku-20240307-v1:0), an inference profile id "
                + "(us./eu./apac./global. + model id) nor an ARN"))
        }
        var target = ModelTarget(form: reference.profilePrefix == nil ? .foundationModel : .inferenceProfile,
                                 text: trimmed, foundationModelId: reference.modelId)
        target.profilePrefix = reference.profilePrefix
        return .success(target)
    }

    /// `provider.name[...]` of letters, digits, `.`, `-`, `_` and `:`.
    static func isModelIdText(_ text: String) -> Bool {
        guard let dot = text.firstIndex(of: "."), dot != text.startIndex, text.index(after: dot) != text.endIndex else {
            return false
        }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._:-".contains($0)) }
    }

    static func parseARN(_ text: String) -> Result<ModelTarget, ModelTargetError> {
        // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (a model id may itself hold ':')
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[1].hasPrefix("aws"), !parts[5].isEmpty else {
            return .failure(ModelTargetError(message: "'\(text.prefix(100))' is not an ARN "
                + "(arn:aws:bedrock:REGION:ACCOUNT:TYPE/ID)"))
        }
        var target = ModelTarget(form: .foundationModelARN, text: text)
        target.arnPartition = parts[1]
        target.arnRegion = parts[3]
        target.arnAccount = parts[4]
        let resource = parts[5]
        if parts[2] == "sagemaker" {
            guard resource.hasPrefix("endpoint/") else {
                return .failure(ModelTargetError(message: "a SageMaker ARN must name an endpoint (…:endpoint/NAME)"))
            }
            target.form = .sageMakerEndpointARN
            return .success(target)
        }
        guard parts[2] == "bedrock" else {
            return .failure(ModelTargetError(message: "'\(parts[2])' ARNs are not models: Converse takes bedrock "
                + "ARNs (or a SageMaker endpoint ARN)"))
        }
        guard let match = bedrockResourceTypes.first(where: { resource.hasPrefix($0.prefix) }),
              resource.count > match.prefix.count else {
            let known = bedrockResourceTypes.map { String($0.prefix.dropLast()) }.joined(separator: ", ")
            return .failure(ModelTargetError(message: "the ARN's resource '\(resource.prefix(80))' is not one "
                + "Converse takes (\(known))"))
        }
        target.form = match.form
        if match.form == .foundationModelARN || match.form == .inferenceProfileARN,
           let reference = ModelReference(parsing: text) {
            target.foundationModelId = reference.modelId
            target.profilePrefix = reference.profilePrefix
        }
        return .success(target)
    }

    /// What is wrong or doubtful about calling this model from `region` (the model region), if
    /// anything: a failure (the call cannot work) or a warning.
    public func regionProblem(modelRegion region: String) -> (fatal: Bool, message: String)? {
        if let arnRegion, !arnRegion.isEmpty, arnRegion != region {
            return (true, "the ARN is in \(arnRegion) but the model region is \(region): "
                + "calls go to bedrock-runtime.\(region)")
        }
        if let arnPartition, arnPartition != Self.partition(of: region) {
            return (true, "the ARN is in partition \(arnPartition), the region \(region) in \(Self.partition(of: region))")
        }
        guard let prefix = profilePrefix else { return nil }
        let fits: Bool
        let certain: Bool
        switch prefix {
        case "us": (fits, certain) = (region.hasPrefix("us-") && !region.hasPrefix("us-gov-"), true)
        case "us-gov": (fits, certain) = (region.hasPrefix("us-gov-"), true)
        case "eu": (fits, certain) = (region.hasPrefix("eu-"), true)
        case "apac": (fits, certain) = (region.hasPrefix("ap-"), true)
        case "jp": (fits, certain) = (region.hasPrefix("ap-northeast-"), false)
        case "au": (fits, certain) = (region.hasPrefix("ap-southeast-"), false)
        case "global": (fits, certain) = (Self.partition(of: region) == "aws", false)
        default: (fits, certain) = (true, false)
        }
        guard !fits else { return nil }
        return (certain, "the inference profile \(prefix). is called from its own geography's regions; "
            + "\(region) is not one of them")
    }

    /// The partition of a region: `aws-cn` for cn-, `aws-us-gov` for us-gov-, else `aws`.
    public static func partition(of region: String) -> String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }
}

public struct ModelTargetError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
