import Foundation

/// An IAM policy document (grammar version 2012-10-17) of Allow statements.
public struct IAMPolicy: Sendable, Equatable {
    public struct Statement: Sendable, Equatable, Encodable {
        /// Letters and digits only, as IAM requires.
        public var sid: String
        public var actions: [String]
        public var resources: [String]
        /// operator → condition key → values, e.g. `["StringLike": ["s3:prefix": ["in/*"]]]`.
        public var condition: [String: [String: [String]]]?

        public init(sid: String, actions: [String], resources: [String], condition: [String: [String: [String]]]? = nil) {
            self.sid = sid
            self.actions = actions
            self.resources = resources
            self.condition = condition
        }

        enum CodingKeys: String, CodingKey {
            case sid = "Sid", effect = "Effect", actions = "Action", resources = "Resource", condition = "Condition"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(sid, forKey: .sid)
            try container.encode("Allow", forKey: .effect)
            try container.encode(actions, forKey: .actions)
            try container.encode(resources, forKey: .resources)
            try container.encodeIfPresent(condition, forKey: .condition)
        }
    }

    public var statements: [Statement]

    private struct Document: Encodable {
        var statements: [Statement]
        enum CodingKeys: String, CodingKey { case version = "Version", statements = "Statement" }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("2012-10-17", forKey: .version)
            try container.encode(statements, forKey: .statements)
        }
    }

    /// The document as pretty-printed JSON with sorted keys.
    public func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // encoding strings, arrays and dictionaries of strings cannot fail
        let data = (try? encoder.encode(Document(statements: statements))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// The least-privilege IAM policy a job needs for `conveyor run` (and `conveyor doctor`), derived
/// from the job file and from the calls the code makes:
///
/// - inputs: `s3:GetObject` on each key, or on `prefix*` for a prefix (GetObject and HeadObject);
///   `s3:ListBucket` with an `s3:prefix` condition for each listed prefix (ListObjectsV2);
/// - `system:` / `prompt:` from S3, `prompts[].input`: `s3:GetObject` on the key;
/// - outputs: `s3:PutObject` on the output key pattern, and `s3:GetObject` on it (a write whose
///   answer was lost is recognised as the run's own by a HEAD of its metadata, rather than
///   counted as skipped); `s3:ListBucket` on its folder (resume
///   lists it; doctor lists it); `s3:GetObject` on `prompts[].output` when they are not
///   overwritten (HeadObject decides whether to skip);
/// - with `output.format: jsonl`: `s3:GetObject` on the outputs (a skipped item's value is read
///   back from its output), and `s3:PutObject` and `s3:AbortMultipartUpload` on `output.collect`
///   (also under a shard's name, `.shard-*-of-*` before the extension);
/// - the report and its manifest beside it: `s3:PutObject` (the manifest may be a multipart
///   upload, aborted on failure: `s3:AbortMultipartUpload`); `s3:GetObject` (`--retry-failed`
///   reads a report and its manifest); `s3:ListBucket` on its folder (doctor);
/// - the lock beside the report (else beside the outputs): `s3:GetObject`, `s3:PutObject`,
///   `s3:DeleteObject` (create with If-None-Match, heartbeat with If-Match, release);
/// - SSM parameters: `ssm:GetParameter`, and `kms:Decrypt` through SSM for SecureStrings;
/// - the model: `bedrock:InvokeModel` (Converse) on the model, or on the inference profile and
///   the foundation models it routes to.
///
/// Parts of keys that are known before the run (`{{job.name}}`, `{{vars.NAME}}`) are written
/// out; the others (`{{run.id}}`, `{{run.date}}`, per-item variables) become `*`.
public struct JobPolicy: Sendable {
    public struct Options: Sendable, Equatable {
        /// The account id in ARNs, else `*`.
        public var account: String?
        /// The region of S3 and SSM calls (SSM and KMS ARNs), else `*`.
        public var dataRegion: String?
        /// The model's region, else `*`.
        public var modelRegion: String?

        public init(account: String? = nil, dataRegion: String? = nil, modelRegion: String? = nil) {
            self.account = account
            self.dataRegion = dataRegion
            self.modelRegion = modelRegion
        }
    }

    public var policy: IAMPolicy
    /// What the policy could not narrow, or grants only on assumptions; printed beside it.
    public var notes: [String]

    public init(job: Job, options: Options = Options()) {
        var builder = Builder(job: job, options: options)
        builder.build()
        policy = IAMPolicy(statements: builder.statements)
        notes = builder.notes
    }

    struct Builder {
        let job: Job
        let options: Options
        var statements: [IAMPolicy.Statement] = []
        var notes: [String] = []
        var reads: [String] = []
        var writes: [String] = []
        var outputChecks: [String] = []
        var locks: [String] = []
        var reports: [String] = []
        var collections: [String] = []
        /// bucket → listed prefixes ("" for the whole bucket), in order of first use.
        var listings: [(bucket: String, prefixes: [String])] = []

        init(job: Job, options: Options) {
            self.job = job
            self.options = options
        }

        var account: String { options.account ?? "*" }
        var s3Partition: String { options.dataRegion.map(ModelTarget.partition(of:)) ?? "aws" }

        func s3ARN(_ bucket: String, _ key: String? = nil) -> String {
            "arn:\(s3Partition):s3:::\(bucket)" + (key.map { "/" + $0 } ?? "")
        }

        /// A template as an IAM pattern: job name and vars written out (IAM's own `*`, `?` and `$`
        /// escaped), other variables `*`; per-item variables as `perItem` when given.
        func pattern(_ template: Template, perItem: String = "*") -> String {
            let known: (TemplateVariable) -> String? = { variable in
                switch variable {
                case .jobName: return job.name
                case .vars(let name): return job.vars[name]
                default: return variable.isPerItem && perItem != "*" ? perItem : nil
                }
            }
            return collapse(template.pattern(known: known, wildcard: "*", literal: Self.escape))
        }

        static func escape(_ text: String) -> String {
            var out = ""
            for c in text {
                switch c {
                case "*": out += "${*}"
                case "?": out += "${?}"
                case "$": out += "${$}"
                default: out.append(c)
                }
            }
            return out
        }

        /// `**` → `*` (outside `${*}` escapes).
        func collapse(_ text: String) -> String {
            var out = ""
            var previous: Character?
            for c in text {
                if c == "*", previous == "*", !out.hasSuffix("${*") { continue }
                out.append(c)
                previous = c
            }
            return out
        }

        /// The folder of a key pattern, up to its first per-item part: what the run lists.
        func folderPattern(_ key: Template) -> String {
            let marker = "\u{1}"
            var text = pattern(key, perItem: marker)
            if let cut = text.range(of: marker) { text = String(text[..<cut.lowerBound]) }
            guard let slash = text.lastIndex(of: "/") else { return "" }
            return String(text[...slash])
        }

        mutating func list(_ bucket: String, _ prefix: String) {
            if let index = listings.firstIndex(where: { $0.bucket == bucket }) {
                if !listings[index].prefixes.contains(prefix) { listings[index].prefixes.append(prefix) }
            } else {
                listings.append((bucket, [prefix]))
            }
        }

        mutating func build() {
            addInputs()
            addOutputs()
            addCollection()
            addReportAndLock()
            addStatement("ReadInputs", ["s3:GetObject"], reads)
            addStatement("WriteOutputs", ["s3:PutObject", "s3:GetObject"], writes)
            addStatement("CheckExistingOutputs", ["s3:GetObject"], outputChecks)
            addStatement("ReportAndManifest", ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"], reports)
            addStatement("CollectValues", ["s3:PutObject", "s3:AbortMultipartUpload"], collections)
            addStatement("RunLock", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], locks)
            addBatch()
            for (index, listing) in listings.enumerated() {
                let condition: [String: [String: [String]]]? = listing.prefixes.contains("")
                    ? nil : ["StringLike": ["s3:prefix": listing.prefixes]]
                statements.append(IAMPolicy.Statement(sid: "ListBucket\(index + 1)", actions: ["s3:ListBucket"],
                                                      resources: [s3ARN(listing.bucket)], condition: condition))
            }
            addParameters()
            addModel()
            if job.engine == .batch {
                notes.append("engine batch: batch.roleArn (the role Bedrock assumes) needs s3:GetObject and s3:ListBucket on "
                    + "the staging folder, s3:PutObject on its output/, and the InvokeModel statement; that is the role's "
                    + "policy, not this one")
            }
            if job.inputs?.locations.contains(where: { !$0.text.hasPrefix("s3://") }) == true
                || !job.output.location.text.hasPrefix("s3://") {
                notes.append("locations on the local store need no IAM permission and are not in the policy")
            }
        }

        /// Engine batch: the batch jobs (create, check, stop), passing the service role to Bedrock,
        /// and the job's folder under batch.staging (records, state, results).
        mutating func addBatch() {
            guard job.engine == .batch, let settings = job.batch else { return }
            let region = options.modelRegion ?? "*"
            let partition = options.modelRegion.map(ModelTarget.partition(of:)) ?? "aws"
            addStatement("BatchJobs", ["bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob",
                                       "bedrock:StopModelInvocationJob"],
                         ["arn:\(partition):bedrock:\(region):\(account):model-invocation-job/*"])
            if let role = settings.roleArn {
                statements.append(IAMPolicy.Statement(sid: "PassBatchRole", actions: ["iam:PassRole"], resources: [role],
                                                      condition: ["StringEquals": ["iam:PassedToService": ["bedrock.amazonaws.com"]]]))
            }
            if let staging = settings.staging.flatMap({ Self.split($0.text) }) {
                let base = staging.key.isEmpty || staging.key.hasSuffix("/") ? staging.key : staging.key + "/"
                let folder = Self.escape(base) + job.name + "/"
                addStatement("BatchStaging", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                             [s3ARN(staging.bucket, folder + "*")])
                list(staging.bucket, folder)
            }
        }

        mutating func addStatement(_ sid: String, _ actions: [String], _ resources: [String]) {
            var unique: [String] = []
            for resource in resources where !unique.contains(resource) { unique.append(resource) }
            guard !unique.isEmpty else { return }
            statements.append(IAMPolicy.Statement(sid: sid, actions: actions, resources: unique))
        }

        /// `s3://bucket/key-pattern` split, or nil for the local store.
        static func split(_ text: String) -> (bucket: String, key: String)? {
            guard text.hasPrefix("s3://") else { return nil }
            let rest = text.dropFirst(5)
            guard let slash = rest.firstIndex(of: "/") else { return (String(rest), "") }
            return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
        }

        mutating func addInputs() {
            for template in job.templates.inputLocations {
                guard let (bucket, key) = Self.split(pattern(template)) else { continue }
                if key.isEmpty || key.hasSuffix("/") {
                    reads.append(s3ARN(bucket, key + "*"))
                    list(bucket, key)
                } else {
                    reads.append(s3ARN(bucket, key))
                }
            }
            for source in [job.system, job.prompt] {
                if case .s3(let uri, _)? = source, let (bucket, key) = Self.split(uri) {
                    reads.append(s3ARN(bucket, Self.escape(key)))
                }
            }
            for spec in job.prompts {
                if let text = spec.input?.text, let (bucket, key) = Self.split(text) {
                    reads.append(s3ARN(bucket, Self.escape(key)))
                }
            }
        }

        mutating func addOutputs() {
            // `output` is listed for resume (and by doctor) even when every item has its own output
            var templates: [(OutputKeyTemplate, own: Bool, written: Bool)] = [
                (job.templates.output, false, job.inputs != nil || job.prompts.contains { $0.output == nil }),
            ]
            for spec in job.prompts {
                if let own = job.templates.items[spec.id]?.output { templates.append((own, true, true)) }
            }
            for (template, own, written) in templates {
                guard case .s3(let bucket) = template.store else { continue }
                let key = pattern(template.key)
                if written { writes.append(s3ARN(bucket, key)) }
                let readsBack = job.output.format == .jsonl && job.output.onExisting == .skip
                if (own || readsBack) && job.output.onExisting != .overwrite { outputChecks.append(s3ARN(bucket, key)) }
                list(bucket, folderPattern(template.key))
            }
        }

        /// `output.collect`, and its shards' copies.
        mutating func addCollection() {
            guard job.output.format == .jsonl, let collect = job.templates.collect, case .s3(let bucket) = collect.store
            else { return }
            let key = pattern(collect.key)
            collections.append(s3ARN(bucket, key))
            list(bucket, key.lastIndex(of: "/").map { String(key[...$0]) } ?? "")  // doctor lists its folder
            let nameStart = key.lastIndex(of: "/").map { key.index(after: $0) } ?? key.startIndex
            if let dot = key[nameStart...].lastIndex(of: "."), dot != nameStart {
                collections.append(s3ARN(bucket, key[..<dot] + ".shard-*-of-*" + key[dot...]))
            } else {
                collections.append(s3ARN(bucket, key + ".shard-*-of-*"))
            }
        }

        mutating func addReportAndLock() {
            let lockNames = [job.name + ".lock", job.name + ".shard-*-of-*.lock"]
            if let report = job.templates.report {
                guard case .s3(let bucket) = report.store else { return }
                let key = pattern(report.key)
                let folder = key.lastIndex(of: "/").map { String(key[...$0]) } ?? ""
                reports += [s3ARN(bucket, key), s3ARN(bucket, folder + "*.items.jsonl")]
                locks += lockNames.map { s3ARN(bucket, folder + $0) }
                list(bucket, folder)
            } else if case .s3(let bucket) = job.templates.output.store {
                let folder = folderPattern(job.templates.output.key)
                locks += lockNames.map { s3ARN(bucket, folder + $0) }
            }
        }

        mutating func addParameters() {
            let names = job.ssmParameters.map(\.name)
            guard !names.isEmpty else { return }
            let region = options.dataRegion ?? "*"
            let partition = options.dataRegion.map(ModelTarget.partition(of:)) ?? "aws"
            let arns = names.map { name -> String in
                if name.hasPrefix("arn:") { return name }
                // a version or label selector (`name:3`, `name:prod`) is not part of the ARN
                let bare = name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name
                let path = bare.hasPrefix("/") ? String(bare.dropFirst()) : bare
                return "arn:\(partition):ssm:\(region):\(account):parameter/\(Self.escape(path))"
            }
            addStatement("ReadParameters", ["ssm:GetParameter"], arns)
            let via = options.dataRegion.map { "ssm.\($0).amazonaws.com" + ($0.hasPrefix("cn-") ? ".cn" : "") }
            statements.append(IAMPolicy.Statement(
                sid: "DecryptSecureStringParameters", actions: ["kms:Decrypt"],
                resources: ["arn:\(partition):kms:\(region):\(account):key/*"],
                condition: via.map { ["StringEquals": ["kms:ViaService": [$0]]] }
                    ?? ["StringLike": ["kms:ViaService": ["ssm.*.amazonaws.com"]]]))
            notes.append("kms:Decrypt is for SecureString parameters (SSM decrypts them with their KMS key, "
                + "only through SSM); narrow key/* to that key's id, or drop the statement if no parameter is a SecureString")
        }

        mutating func addModel() {
            guard case .success(let target) = ModelTarget.parse(job.model.id) else {
                notes.append("the model id is not a form Converse takes (see conveyor doctor); no bedrock statement")
                return
            }
            let region = options.modelRegion ?? "*"
            let partition = options.modelRegion.map(ModelTarget.partition(of:)) ?? target.arnPartition ?? "aws"
            func foundationModel(_ id: String, anyRegion: Bool) -> String {
                "arn:\(partition):bedrock:\(anyRegion ? "*" : region)::foundation-model/\(id)"
            }
            var resources: [String] = []
            switch target.form {
            case .foundationModel:
                resources = [foundationModel(target.foundationModelId ?? target.text, anyRegion: false)]
            case .inferenceProfile:
                resources = ["arn:\(partition):bedrock:\(region):\(account):inference-profile/\(target.text)"]
                // the profile routes each call to the model in one of its regions
                resources.append(foundationModel(target.foundationModelId ?? "*", anyRegion: true))
            case .inferenceProfileARN:
                resources = [target.text, foundationModel(target.foundationModelId ?? "*", anyRegion: true)]
            case .applicationInferenceProfileARN, .promptRouterARN:
                resources = [target.text, foundationModel("*", anyRegion: true)]
                notes.append("the foundation models behind \(target.form.rawValue)s are not in the job file: narrow "
                    + "foundation-model/* to them (aws bedrock get-inference-profile / get-prompt-router)")
            default:
                resources = [target.text]
            }
            addStatement("InvokeModel", ["bedrock:InvokeModel"], resources)
        }
    }
}
