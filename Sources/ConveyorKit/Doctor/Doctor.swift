import AWSCore
import AWSServices
import Foundation

/// One finding of `conveyor doctor`: ok, warn or fail, with a hint of what to do.
public struct DoctorCheck: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Equatable, Codable {
        case ok, warn, fail
    }

    /// What is checked: `credentials`, `region`, `endpoint`, `input`, `ssm`, `model`, ...
    public var section: String
    public var status: Status
    public var message: String
    public var hint: String?

    public init(_ section: String, _ status: Status, _ message: String, hint: String? = nil) {
        self.section = section
        self.status = status
        self.message = message
        self.hint = hint
    }
}

/// Every finding of one `conveyor doctor` run.
public struct DoctorReport: Sendable, Equatable, Codable {
    /// The job file checked, if any.
    public var job: String?
    public var checks: [DoctorCheck]

    public init(job: String?, checks: [DoctorCheck]) {
        self.job = job
        self.checks = checks
    }

    /// True when no check failed (warnings allowed).
    public var passed: Bool { !checks.contains { $0.status == .fail } }
}

/// `conveyor doctor [JOB]`: where credentials, profile, region, endpoints and retry settings come
/// from, and, with a job, whether its inputs, outputs, report, SSM parameters and model are usable.
///
/// Read-only: it lists (one key), HEADs and reads SSM parameters without decryption (names and
/// types only); it never calls the model and never writes. It shows no secret: of the credentials
/// only the source, the access key id's last four characters and the expiry.
public enum Doctor {
    public static func run(job: Job?, environment: AWSEnvironment = .process, profile: String? = nil,
                           region: String? = nil, allowHTTP: Bool = false,
                           transport: any HTTPTransport = CurlTransport.shared,
                           now: Date = Date()) async -> DoctorReport {
        var checks: [DoctorCheck] = []
        let configuration: AWSConfiguration
        do {
            configuration = try AWSConfiguration.resolve(environment: environment, profile: profile, region: region)
        } catch {
            checks.append(DoctorCheck("configuration", .fail, "\(error)",
                                      hint: "fix the file or the profile named; nothing else can be checked until then"))
            if let job { checks += jobFileChecks(job) + modelChecks(job, modelRegion: job.model.region.map { ($0, "model.region") }) }
            return DoctorReport(job: job?.path, checks: checks)
        }
        checks += await configurationChecks(configuration, job: job, regionOverride: region, now: now)
        guard let job else { return DoctorReport(job: nil, checks: checks) }
        checks += jobFileChecks(job)
        let services: RunServices?
        do {
            services = try RunServices.make(for: job, environment: environment, profile: profile, region: region,
                                            model: false, allowHTTP: allowHTTP, transport: transport)
        } catch {
            services = nil
            checks.append(DoctorCheck("clients", .fail, "the S3 and SSM clients cannot be made: \(error)",
                                      hint: "fix the configuration above; inputs, outputs and SSM parameters are not checked"))
        }
        if let services { checks += await locationChecks(job, services: services) }
        checks += modelChecks(job, modelRegion: modelRegion(job, configuration: configuration, override: region))
        return DoctorReport(job: job.path, checks: checks)
    }

    // MARK: Configuration

    static func configurationChecks(_ configuration: AWSConfiguration, job: Job?, regionOverride: String?,
                                    now: Date) async -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let files = configuration.files
        checks.append(DoctorCheck("profile", .ok, "\(configuration.profile); config file \(files.configPath)"
            + (files.configFileFound ? "" : " (not found)") + ", credentials file \(files.credentialsPath)"
            + (files.credentialsFileFound ? "" : " (not found)")))
        checks.append(await credentialsCheck(configuration.credentials, now: now))
        // region: S3 and SSM use the configured region, else model.region (RunServices)
        let dataRegion: (name: String, source: String)?
        switch configuration.regionResult {
        case .success(let region):
            dataRegion = (region.name, region.source)
            checks.append(DoctorCheck("region", .ok, region.description))
        case .failure(let error):
            if let model = job?.model.region {
                dataRegion = (model, "model.region")
                checks.append(DoctorCheck("region", .warn, "\(error.message); S3 and SSM use model.region \(model)",
                                          hint: "set AWS_REGION (or pass --region) if the buckets are elsewhere"))
            } else {
                dataRegion = nil
                checks.append(DoctorCheck("region", .fail, error.description,
                                          hint: "set AWS_REGION, pass --region, or set model.region in the job"))
            }
        }
        let model = job.map { modelRegion($0, configuration: configuration, override: regionOverride) }
            ?? dataRegion.map { ($0.name, $0.source) }
        if let job, let model {
            checks.append(DoctorCheck("model region", .ok, "\(model.name) (from \(model.source))"
                + (job.model.region == nil ? "" : " for \(job.model.id)")))
        }
        for service in [AWSServiceID.s3, .ssm, .bedrockRuntime, .sts, .bedrock] {
            let modelSide = service == .bedrockRuntime || service == .bedrock
            let region = modelSide ? model?.name : dataRegion?.name
            do {
                let resolved = try configuration.endpoints.resolve(service, region: region)
                let origin = resolved.endpoint.isCustom ? "override from \(resolved.source)" : resolved.source
                checks.append(DoctorCheck("endpoint", .ok, "\(service.endpointPrefix): \(resolved.endpoint) (\(origin))"))
            } catch {
                // what a run needs: the model's endpoint; S3 when the job (or, without one, most jobs) uses it;
                // SSM when the job names parameters
                let used = service == .bedrockRuntime || (service == .s3 && job?.usesS3 ?? true)
                    || (service == .ssm && job?.usesSSM ?? false)
                checks.append(DoctorCheck("endpoint", used ? .fail : .warn, "\(service.endpointPrefix): \(error)",
                                          hint: used ? "set a region, or \(service.environmentVariable)" : nil))
            }
        }
        do {
            let retry = try configuration.retryConfiguration()
            let sources = configuration.retrySources
            var text = "S3 and SSM: mode \(retry.mode.rawValue) (from \(sources.mode)), "
                + "max attempts \(retry.maxAttempts) (from \(sources.maxAttempts))"
            if let job { text += "; model calls: the runner's own, limits.maxAttempts \(job.limits.maxAttempts)" }
            checks.append(DoctorCheck("retry", .ok, text))
        } catch {
            checks.append(DoctorCheck("retry", .fail, error.description, hint: "fix the variable or the profile setting"))
        }
        return checks
    }

    /// Which chain step gave credentials, the key id's last four characters, whether they are
    /// temporary and when they expire; never a secret.
    static func credentialsCheck(_ chain: DefaultCredentialChain, now: Date) async -> DoctorCheck {
        let steps = "chain: " + chain.providerNames.joined(separator: ", ")
        do {
            let credentials = try await chain.credentials()
            let source = chain.resolvedProviderName ?? credentials.source
            var text = "from \(source), access key id ending \(credentials.accessKeyId.suffix(4)), "
            var status = DoctorCheck.Status.ok
            var hint: String?
            text += credentials.sessionToken == nil ? "long-term" : "temporary (session token)"
            if let expiration = credentials.expiration {
                let minutes = Int(expiration.timeIntervalSince(now) / 60)
                text += ", expires \(RunIdentity.iso8601(expiration))"
                if expiration <= now {
                    status = .fail
                    text += " (expired)"
                    hint = "refresh the credentials (a new session, or the source's own refresh)"
                } else {
                    text += " (in \(minutes) min)"
                    if minutes < 15 {
                        status = .warn
                        hint = "they expire soon; a long run needs a source that refreshes them"
                    }
                }
            }
            return DoctorCheck("credentials", status, text + "; " + steps, hint: hint)
        } catch let error as CredentialsError {
            let message = error.kind == .noCredentials ? "no credentials found" : error.description
            let tried = error.tried.isEmpty ? "" : "tried: " + error.tried.joined(separator: "; ") + ". "
            return DoctorCheck("credentials", .fail, message + "; " + steps,
                               hint: tried + "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile that has credentials")
        } catch {
            return DoctorCheck("credentials", .fail, "\(error); " + steps, hint: "check the credential source named above")
        }
    }

    /// The model's region and where it came from: model.region, else --region, else the configuration.
    static func modelRegion(_ job: Job, configuration: AWSConfiguration, override: String?) -> (name: String, source: String)? {
        if let region = job.model.region { return (region, "model.region at \(job.model.location)") }
        if let override { return (override, "--region") }
        if case .success(let region) = configuration.regionResult { return (region.name, region.source) }
        return nil
    }

    // MARK: The job

    static func jobFileChecks(_ job: Job) -> [DoctorCheck] {
        var checks = [DoctorCheck("job", .ok, "\(job.path) loads: job '\(job.name)'")]
        for warning in job.warnings {
            checks.append(DoctorCheck("job", .warn, warning.description, hint: "see docs/job-format.md"))
        }
        return checks
    }

    static let writeNotTested = "write permission is not tested: doctor does not write"

    static func locationChecks(_ job: Job, services: RunServices) async -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let identity = RunIdentity.new()
        let run = TemplateValues.Run(jobName: job.name, runID: identity.id, startedAt: identity.startedAt, vars: job.vars)
        // inputs: list one key under a prefix, HEAD a key
        do {
            let written = job.inputs?.locations.map(\.location) ?? []
            for (index, location) in try ItemSource(job: job, storage: services.storage, run: run).inputLocations().enumerated() {
                checks.append(placed(await readable(location, section: "input", services: services),
                                     at: index < written.count ? written[index] : nil))
            }
        } catch {
            checks.append(DoctorCheck("input", .fail, "\(error)", hint: "fix inputs in the job"))
        }
        for (source, role) in [(job.system, "system"), (job.prompt, "prompt")] {
            guard case .s3(let uri, let at)? = source else { continue }
            guard let parsed = try? StorageURI.parse(uri) else { continue }  // the loader checked it
            var check = await readable(parsed, section: role, services: services)
            check.message = "\(at): " + check.message
            checks.append(check)
        }
        let inputs = job.prompts.compactMap { spec in spec.input.map { (spec.id, $0) } }
        for (id, text) in inputs.prefix(20) {
            guard let uri = try? StorageURI.parse(text.text).resolved(against: job.baseDirectory) else { continue }
            var check = await readable(uri, section: "input", services: services)
            check.message = "prompts[\(id)]: " + check.message
            checks.append(placed(check, at: text.location))
        }
        if inputs.count > 20 {
            checks.append(DoctorCheck("input", .warn, "only the first 20 of \(inputs.count) prompts[].input were checked"))
        }
        checks += await ssmChecks(job, services: services)
        // outputs and report: list only
        let builder = RequestBuilder(job: job, prompts: ResolvedPrompts(system: nil, prompt: nil, ssmParameters: [],
                                                                        s3Objects: []), run: run)
        for (folder, at) in JobLocations(job: job).outputFolders(builder: builder) {
            checks.append(placed(await listable(folder, section: "output", services: services), at: at))
        }
        if let collect = try? ValueCollection.location(job: job, builder: builder, shard: nil) {
            var check = await listable(JobLocations.folder(of: collect), section: "output", services: services)
            check.message = "output.collect: " + check.message
            checks.append(placed(check, at: job.output.collect?.location))
        }
        do {
            if let report = try builder.report() {
                let lock = try RunSession.lockLocation(job: job, report: report, builder: builder, shard: nil)
                var check = await listable(JobLocations.folder(of: lock ?? report), section: "report", services: services)
                if check.status == .ok, let lock {
                    check.message += "; the report, its manifest and the lock \(lock) go here"
                }
                checks.append(placed(check, at: job.report?.location))
            } else {
                checks.append(DoctorCheck("report", .warn, "the job has no report: cron runs leave no record",
                                          hint: "add report: s3://BUCKET/reports/{{job.name}}/{{run.id}}.json"))
            }
        } catch {
            checks.append(DoctorCheck("report", .fail, "\(error)", hint: "fix report in the job"))
        }
        return checks
    }

    /// `check`, its message prefixed with where the location is written when it is not ok.
    static func placed(_ check: DoctorCheck, at location: SourceLocation?) -> DoctorCheck {
        guard check.status != .ok, let location else { return check }
        var placed = check
        placed.message = "\(location): " + check.message
        return placed
    }

    /// A HEAD on a key, or a one-key listing of a prefix.
    static func readable(_ uri: StorageURI, section: String, services: RunServices) async -> DoctorCheck {
        if JobLocations.isPrefix(uri) { return await listable(uri, section: section, services: services, input: true) }
        do {
            guard let object = try await services.storage.head(uri) else {
                return DoctorCheck(section, .fail, "\(uri): no such object",
                                   hint: "fix the key in the job, or upload the object")
            }
            return elsewhere(DoctorCheck(section, .ok, "\(uri): readable (\(object.size) bytes)"), uri: uri,
                             services: services)
        } catch {
            return failure(error, uri: uri, section: section, action: "s3:GetObject")
        }
    }

    /// A listing of at most one key under `uri` (a bucket and prefix, or a local directory).
    static func listable(_ uri: StorageURI, section: String, services: RunServices, input: Bool = false) async
        -> DoctorCheck
    {
        let untested = input ? "" : "; " + writeNotTested
        switch uri {
        case .s3(let bucket, let prefix):
            guard let s3 = services.storage.s3 else {
                return DoctorCheck(section, .fail, "\(uri): no S3 client", hint: "configure a region")
            }
            do {
                let page = try await s3.listObjectsPage(bucket: bucket, prefix: prefix.isEmpty ? nil : prefix, delimiter: nil,
                                                        startAfter: nil, continuationToken: nil, maxKeys: 1)
                if input && page.keyCount == 0 {
                    return DoctorCheck(section, .warn, "\(uri): reachable, but nothing is under this prefix",
                                       hint: "the run will have no items from here; check the prefix")
                }
                let found = page.keyCount == 0 ? "empty so far" : "listed"
                return elsewhere(DoctorCheck(section, .ok, "\(uri): bucket \(bucket) reachable (\(found))" + untested),
                                 uri: uri, services: services)
            } catch {
                return failure(error, uri: uri, section: section, action: "s3:ListBucket")
            }
        case .file(let path):
            if input {
                guard FileManager.default.isDirectory(path) else {
                    return DoctorCheck(section, .fail, "\(uri): no such directory", hint: "fix the path in the job")
                }
                return DoctorCheck(section, .ok, "\(uri): local directory")
            }
            var directory = path
            while !directory.isEmpty, !FileManager.default.isDirectory(directory) {
                directory = (directory as NSString).deletingLastPathComponent
            }
            let made = FileManager.default.isDirectory(path) ? "exists" : "made by the run under \(directory.isEmpty ? "." : directory)"
            return DoctorCheck(section, .ok, "\(uri): local directory, \(made)" + untested)
        }
    }

    /// A warning on `check` when S3 answered that the bucket is in another region than the
    /// client's: the calls work, each redirected once.
    static func elsewhere(_ check: DoctorCheck, uri: StorageURI, services: RunServices) -> DoctorCheck {
        guard case .s3(let bucket, _) = uri, let s3 = services.storage.s3 as? S3Client else { return check }
        let home = s3.region(of: bucket)
        guard home != s3.client.region else { return check }
        var warned = check
        warned.status = .warn
        warned.message += "; the bucket is in \(home), not \(s3.client.region): S3 redirects the first call"
        warned.hint = "set AWS_REGION=\(home) or pass --region \(home) if all the job's buckets are there"
        return warned
    }

    static func failure(_ error: any Error, uri: StorageURI, section: String, action: String) -> DoctorCheck {
        let policy = "conveyor doctor --policy JOB prints the policy the job needs"
        var kind: AWSError.Kind?
        var code = ""
        var message = "\(error)"
        if let error = error as? StorageError { (kind, code, message) = (error.kind, error.code, "\(error.code): \(error.message)") }
        if let error = error as? AWSError { (kind, code, message) = (error.kind, error.code, error.description) }
        switch (kind, code) {
        case (_, "NoSuchBucket"):
            return DoctorCheck(section, .fail, "\(uri): the bucket does not exist",
                               hint: "create it, or fix the bucket name in the job (check the account and endpoint)")
        case (.accessDenied?, _):
            return DoctorCheck(section, .fail, "\(uri): access denied (\(message))", hint: "grant \(action); \(policy)")
        case (.notFound?, _):
            return DoctorCheck(section, .fail, "\(uri): not found (\(message))", hint: "fix the location in the job")
        case (.transport?, _):
            return DoctorCheck(section, .fail, "\(uri): S3 cannot be reached (\(message))",
                               hint: "check the network and AWS_ENDPOINT_URL_S3")
        default:
            return DoctorCheck(section, .fail, "\(uri): \(message)", hint: "see the error code in the S3 documentation")
        }
    }

    /// Each SSM parameter the job names: it exists, and its type (never its value: read without
    /// decryption).
    static func ssmChecks(_ job: Job, services: RunServices) async -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        for (name, at) in job.ssmParameters {
            guard let ssm = services.ssm else {
                checks.append(DoctorCheck("ssm", .fail, "\(at): \(name): no SSM client", hint: "configure a region"))
                continue
            }
            do {
                let parameter = try await ssm.getParameter(name: name, withDecryption: false)
                let kms = parameter.isSecure ? "; the run decrypts it: kms:Decrypt on its key is needed (not tested)" : ""
                checks.append(DoctorCheck("ssm", .ok, "\(at): \(name) exists (\(parameter.type.rawValue))" + kms))
            } catch let error as AWSError where error.kind == .notFound {
                checks.append(DoctorCheck("ssm", .fail, "\(at): the parameter \(name) does not exist in this account and region",
                                          hint: "create it (aws ssm put-parameter), or fix the name or the region"))
            } catch let error as AWSError where error.kind == .accessDenied {
                checks.append(DoctorCheck("ssm", .fail, "\(at): reading \(name) was refused: \(error.code)",
                                          hint: "grant ssm:GetParameter on it; conveyor doctor --policy JOB prints the policy"))
            } catch {
                checks.append(DoctorCheck("ssm", .fail, "\(at): \(name): \(error)", hint: "check the SSM endpoint and region"))
            }
        }
        return checks
    }

    // MARK: The model

    static func modelChecks(_ job: Job, modelRegion: (name: String, source: String)?) -> [DoctorCheck] {
        let at = job.model.location
        switch ModelTarget.parse(job.model.id) {
        case .failure(let error):
            return [DoctorCheck("model", .fail, "\(at): \(error.message)",
                                hint: "use a model id, an inference profile id or an ARN (aws bedrock list-foundation-models)")]
        case .success(let target):
            var checks = [DoctorCheck("model", .ok, "\(job.model.id): \(target.form.rawValue)")]
            switch target.form {
            case .importedModelARN:
                checks[0] = DoctorCheck("model", .fail, "\(at): \(job.model.id): Converse does not take imported models",
                                        hint: "Conveyor calls Converse only; use a model Converse supports")
            case .customModelARN:
                checks.append(DoctorCheck("model", .warn, "a custom model is called through a provisioned-model or "
                    + "custom-model-deployment ARN", hint: "use the ARN of its provisioned throughput or deployment"))
            case .promptARN:
                if job.system != nil || job.model.maxTokens != nil || job.model.additionalFields != nil {
                    checks.append(DoctorCheck("model", .warn, "with a prompt ARN Converse refuses system, inferenceConfig "
                        + "and additionalModelRequestFields", hint: "remove system, maxTokens and additionalFields"))
                }
            default:
                break
            }
            guard let modelRegion else {
                checks.append(DoctorCheck("model", .fail, "no region for the model",
                                          hint: "set model.region in the job, AWS_REGION, or pass --region"))
                return checks
            }
            if let problem = target.regionProblem(modelRegion: modelRegion.name) {
                checks.append(DoctorCheck("model", problem.fatal ? .fail : .warn,
                                          "\(at): \(problem.message) (model region from \(modelRegion.source))",
                                          hint: "set model.region to a region that fits the model id, or change the id"))
            } else {
                checks.append(DoctorCheck("model", .ok, "region \(modelRegion.name) fits the model id; the model is not "
                    + "called (doctor never calls it), so access to it is not tested"))
            }
            return checks
        }
    }
}

extension Job {
    /// The SSM parameters the job names (`system:` / `prompt:` `{ssm: NAME}`), with where.
    public var ssmParameters: [(name: String, at: SourceLocation)] {
        [system, prompt].compactMap { source in
            if case .ssm(let name, let at)? = source { return (name, at) }
            return nil
        }
    }
}
