import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

/// `conveyor doctor --policy`: the IAM policy a job needs. The strong check runs a real job (moto
/// behind a private signature-checking proxy, the emulator behind another) and asks a small IAM
/// evaluator whether the generated policy allows every request the run and doctor made.
@Suite(.timeLimit(.minutes(3))) struct PolicyTests {
    static let account = "123456789012"

    @Test func patternsFromTheJobFileAndModelForms() throws {
        let job = try KitFixture.job("""
            version: 1
            name: tickets
            model: {id: eu.anthropic.claude-3-7-sonnet-20250219-v1:0, region: eu-west-1, maxTokens: 10}
            system: {ssm: /conveyor/system}
            prompt: {s3: "s3://prompts-bucket/p*1.txt"}
            inputs: {s3: ["s3://in-bucket/tickets/{{vars.team}}/", "s3://in-bucket/one.txt"]}
            output: {s3: "s3://out-bucket/summaries/{{run.date}}/{{item.name}}.json"}
            report: s3://out-bucket/reports/{{job.name}}/{{run.id}}.json
            vars: {team: support}
            """)
        let generated = JobPolicy(job: job, options: JobPolicy.Options(account: Self.account, dataRegion: "eu-west-1",
                                                                       modelRegion: "eu-west-1"))
        let policy = try Self.parse(generated.policy.jsonText())
        func statement(_ sid: String) throws -> [String: Any] {
            try #require(policy.first { $0["Sid"] as? String == sid }, "no statement \(sid)")
        }
        #expect(try statement("ReadInputs")["Resource"] as? [String] == [
            "arn:aws:s3:::in-bucket/tickets/support/*", "arn:aws:s3:::in-bucket/one.txt",
            "arn:aws:s3:::prompts-bucket/p${*}1.txt"])
        #expect(try statement("WriteOutputs")["Action"] as? [String] == ["s3:PutObject", "s3:GetObject"])
        #expect(try statement("WriteOutputs")["Resource"] as? [String] == ["arn:aws:s3:::out-bucket/summaries/*/*.json"])
        #expect(try statement("RunLock")["Resource"] as? [String] == [
            "arn:aws:s3:::out-bucket/reports/tickets/tickets.lock",
            "arn:aws:s3:::out-bucket/reports/tickets/tickets.shard-*-of-*.lock"])
        let listIn = try statement("ListBucket1")
        #expect(listIn["Resource"] as? [String] == ["arn:aws:s3:::in-bucket"])
        #expect((listIn["Condition"] as? [String: [String: [String]]])?["StringLike"]?["s3:prefix"] == ["tickets/support/"])
        let listOut = try statement("ListBucket2")
        #expect((listOut["Condition"] as? [String: [String: [String]]])?["StringLike"]?["s3:prefix"]
            == ["summaries/*/", "reports/tickets/"])
        #expect(try statement("ReadParameters")["Resource"] as? [String]
            == ["arn:aws:ssm:eu-west-1:123456789012:parameter/conveyor/system"])
        let kms = try statement("DecryptSecureStringParameters")
        #expect((kms["Condition"] as? [String: [String: [String]]])?["StringEquals"]?["kms:ViaService"]
            == ["ssm.eu-west-1.amazonaws.com"])
        #expect(try statement("InvokeModel")["Resource"] as? [String] == [
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-7-sonnet-20250219-v1:0"])
        // without an account or regions: wildcards
        let open = JobPolicy(job: job).policy.jsonText()
        #expect(open.contains("arn:aws:ssm:*:*:parameter/conveyor/system"))
        #expect(open.contains("\"ssm.*.amazonaws.com\""))
    }

    @Test func explicitPromptsAWholeBucketAndAnApplicationProfile() throws {
        let job = try KitFixture.job("""
            version: 1
            name: reviews
            model: {id: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", maxTokens: 10}
            inputs: {s3: "s3://whole-bucket/"}
            prompt: "x {{input}}"
            prompts:
              - {id: q3, prompt: "Review {{input}}", input: "s3://docs-bucket/q3.md", output: "s3://docs-bucket/reviews/q3.json"}
            output: {s3: "s3://out-bucket/{{item.id}}.json"}
            """)
        let generated = JobPolicy(job: job, options: JobPolicy.Options(account: Self.account))
        let policy = try Self.parse(generated.policy.jsonText())
        func statement(_ sid: String) -> [String: Any]? { policy.first { $0["Sid"] as? String == sid } }
        #expect(statement("ReadInputs")?["Resource"] as? [String]
            == ["arn:aws:s3:::whole-bucket/*", "arn:aws:s3:::docs-bucket/q3.md"])
        #expect(statement("CheckExistingOutputs")?["Resource"] as? [String] == ["arn:aws:s3:::docs-bucket/reviews/q3.json"])
        // the whole bucket is listed: no prefix condition can hold
        let whole = policy.first { ($0["Resource"] as? [String]) == ["arn:aws:s3:::whole-bucket"] }
        #expect(whole != nil && whole?["Condition"] == nil)
        // no report: the lock goes beside the outputs
        #expect(statement("RunLock")?["Resource"] as? [String]
            == ["arn:aws:s3:::out-bucket/reviews.lock", "arn:aws:s3:::out-bucket/reviews.shard-*-of-*.lock"])
        #expect(statement("InvokeModel")?["Resource"] as? [String] == [
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
            "arn:aws:bedrock:*::foundation-model/*"])
        #expect(generated.notes.contains { $0.contains("application-inference-profile") })
    }

    @Test func outputIsListedEvenWhenEveryItemHasItsOwn() throws {
        let job = try KitFixture.job("""
            version: 1
            name: own
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 10}
            prompts:
              - {id: a, prompt: "A", output: "s3://own-bucket/a.json"}
              - {id: b, prompt: "B", output: "s3://own-bucket/b.json"}
            output: {s3: "s3://shared-bucket/out/{{item.id}}.json"}
            """)
        let statements = JobPolicy(job: job).policy.statements
        #expect(statements.first { $0.sid == "WriteOutputs" }?.resources == ["arn:aws:s3:::own-bucket/a.json",
                                                                              "arn:aws:s3:::own-bucket/b.json"])
        // ExistingOutputs lists output's folder whatever uses it
        #expect(statements.contains { $0.resources == ["arn:aws:s3:::shared-bucket"]
            && $0.condition?["StringLike"]?["s3:prefix"] == ["out/"] })
    }

    @Test func theEvaluatorDeniesWhatNoStatementAllows() throws {
        let policy = try Self.parse(#"""
            {"Version": "2012-10-17", "Statement": [
              {"Sid": "A", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::b"],
               "Condition": {"StringLike": {"s3:prefix": ["in/*"]}}},
              {"Sid": "B", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/x${*}y/*"]}]}
            """#)
        #expect(IAMCheck.allows(policy, IAMCheck.Request(action: "s3:ListBucket", resource: "arn:aws:s3:::b",
                                                          context: ["s3:prefix": "in/2026/"])))
        #expect(!IAMCheck.allows(policy, IAMCheck.Request(action: "s3:ListBucket", resource: "arn:aws:s3:::b",
                                                           context: ["s3:prefix": "out/"])))
        #expect(!IAMCheck.allows(policy, IAMCheck.Request(action: "s3:ListBucket", resource: "arn:aws:s3:::b", context: [:])))
        #expect(IAMCheck.allows(policy, IAMCheck.Request(action: "s3:GetObject", resource: "arn:aws:s3:::b/x*y/z")))
        #expect(!IAMCheck.allows(policy, IAMCheck.Request(action: "s3:GetObject", resource: "arn:aws:s3:::b/xzy/z")))
        #expect(!IAMCheck.allows(policy, IAMCheck.Request(action: "s3:PutObject", resource: "arn:aws:s3:::b/x*y/z")))
    }

    @Test func everyRequestOfARealRunAndOfDoctorIsAllowed() async throws {
        let parameter = "/conveyor-test/\(TestAWS.uniqueName("policy"))"
        try await KitFixture.putParameter(parameter, "You are brief.", secure: true)
        var objects = ["prompts/p.txt": "Summarise: {{input}}", "extra/one.txt": "single"]
        for i in 0..<4 { objects["in/t\(i).txt"] = i == 3 ? "bad [[error:ValidationException]]" : "ticket \(i)" }
        objects["in/skip.md"] = "not included"
        let bucket = try await KitFixture.bucket(objects)
        let (emulator, emulatorURL) = try KitFixture.startEmulator()
        defer { try? emulator.stop() }
        let s3Proxy = try TestAWS.privateProxyURL()
        let modelProxy = try TestAWS.privateProxyURL(upstream: URL(string: emulatorURL)!)
        let dir = try KitFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let jobPath = dir + "/job.yaml"
        try """
            version: 1
            name: policy-run
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 50}
            system: {ssm: \(parameter)}
            prompt: {s3: "s3://\(bucket)/prompts/p.txt"}
            inputs:
              s3: ["s3://\(bucket)/in/", "s3://\(bucket)/extra/one.txt"]
              include: ["*.txt"]
            output: {s3: "s3://\(bucket)/out/{{run.date}}/{{item.name}}.json"}
            report: s3://\(bucket)/reports/{{job.name}}/{{run.id}}.json
            """.write(toFile: jobPath, atomically: true, encoding: .utf8)
        let environment = ["AWS_ENDPOINT_URL_S3": s3Proxy.absoluteString, "AWS_ENDPOINT_URL_SSM": s3Proxy.absoluteString,
                           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": modelProxy.absoluteString]
        // one item fails (exit 1); the rerun skips the others; --retry-failed reads the report and manifest
        let first = try CLI.run(["run", jobPath, "--progress", "never"], environment: environment)
        #expect(first.status == 1, "\(first.output)")
        let second = try CLI.run(["run", jobPath, "--progress", "never"], environment: environment)
        #expect(second.status == 1, "\(second.output)")
        #expect(second.output.contains("4 skipped"), "\(second.output)")
        let report = try #require(try await KitFixture.keys(bucket).first { $0.hasPrefix("reports/") && $0.hasSuffix(".json") })
        let retry = try CLI.run(["run", jobPath, "--progress", "never", "--retry-failed", "s3://\(bucket)/\(report)"],
                                environment: environment)
        #expect(retry.status == 1, "\(retry.output)")
        #expect(retry.output.contains("0 succeeded, 1 failed"), "\(retry.output)")
        let doctor = try CLI.run(["doctor", jobPath], environment: environment)
        #expect(doctor.status == 0, "\(doctor.output)")
        // the policy as the command prints it (its notes go to standard error, mixed in here)
        let printed = try CLI.run(["doctor", "--policy", jobPath, "--account", Self.account], environment: environment)
        #expect(printed.status == 0, "\(printed.output)")
        let json = printed.output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("note: ") }.joined(separator: "\n")
        let policy = try Self.parse(json)

        var requests: [IAMCheck.Request] = []
        for request in try await TestAWS.proxiedRequests(s3Proxy) + (try await TestAWS.proxiedRequests(modelProxy)) {
            requests += try IAMCheck.requests(for: request, account: Self.account)
        }
        let actions = Set(requests.map(\.action))
        // the run really did each kind of call, so the check below is not vacuous
        #expect(actions == ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "ssm:GetParameter",
                            "bedrock:InvokeModel"], "\(actions)")
        #expect(requests.filter { $0.action == "bedrock:InvokeModel" }.count == 7)  // 5, then the failed one twice
        #expect(requests.contains { $0.action == "s3:GetObject" && $0.resource.hasSuffix(".items.jsonl") })
        #expect(requests.contains { $0.action == "s3:ListBucket" && $0.context["s3:prefix"]?.hasPrefix("out/") == true })
        for request in requests {
            #expect(IAMCheck.allows(policy, request), "not allowed by the generated policy: \(request)")
        }
        // and the policy is not simply everything: the emulator's proxy saw no S3, moto's no model call
        #expect(!IAMCheck.allows(policy, IAMCheck.Request(action: "s3:PutObject", resource: "arn:aws:s3:::\(bucket)/in/t0.txt")))
        #expect(!IAMCheck.allows(policy, IAMCheck.Request(action: "s3:ListBucket", resource: "arn:aws:s3:::\(bucket)",
                                                           context: ["s3:prefix": "prompts/"])))
    }

    /// The statements of a policy document, after checking its grammar.
    static func parse(_ text: String) throws -> [[String: Any]] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        #expect(document["Version"] as? String == "2012-10-17")
        #expect(Set(document.keys) == ["Version", "Statement"])
        let statements = try #require(document["Statement"] as? [[String: Any]])
        var sids = Set<String>()
        for statement in statements {
            let sid = try #require(statement["Sid"] as? String)
            #expect(!sid.isEmpty && sid.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }, "Sid \(sid)")
            #expect(sids.insert(sid).inserted, "Sid \(sid) twice")
            #expect(statement["Effect"] as? String == "Allow")
            #expect((statement["Action"] as? [String])?.isEmpty == false)
            #expect((statement["Resource"] as? [String])?.allSatisfy { $0.hasPrefix("arn:") } == true)
            #expect(Set(statement.keys).isSubset(of: ["Sid", "Effect", "Action", "Resource", "Condition"]))
        }
        return statements
    }
}

/// Just enough of IAM's evaluation for Allow statements: actions and resources with `*` and `?`
/// (and the `${*}`, `${?}`, `${$}` escapes), StringLike and StringEquals conditions. A condition
/// on a key the request does not carry is not met, as in IAM.
enum IAMCheck {
    struct Request: CustomStringConvertible {
        var action: String
        var resource: String
        var context: [String: String] = [:]
        var description: String { "\(action) on \(resource)" + (context.isEmpty ? "" : " \(context)") }
    }

    static func allows(_ statements: [[String: Any]], _ request: Request) -> Bool {
        statements.contains { statement in
            guard statement["Effect"] as? String == "Allow",
                  let actions = statement["Action"] as? [String], let resources = statement["Resource"] as? [String]
            else { return false }
            guard actions.contains(where: { matches($0.lowercased(), request.action.lowercased()) }),
                  resources.contains(where: { matches($0, request.resource) }) else { return false }
            let conditions = statement["Condition"] as? [String: [String: [String]]] ?? [:]
            return conditions.allSatisfy { op, keys in
                keys.allSatisfy { key, values in
                    guard let value = request.context[key] else { return false }
                    switch op {
                    case "StringLike": return values.contains { matches($0, value) }
                    case "StringEquals": return values.contains(value)
                    default: return false
                    }
                }
            }
        }
    }

    enum Token: Equatable { case char(Character), any, one }

    static func tokens(_ pattern: String) -> [Token] {
        var out: [Token] = []
        var rest = Substring(pattern)
        while let c = rest.first {
            if rest.hasPrefix("${*}") || rest.hasPrefix("${?}") || rest.hasPrefix("${$}") {
                out.append(.char(rest[rest.index(rest.startIndex, offsetBy: 2)]))
                rest = rest.dropFirst(4)
                continue
            }
            out.append(c == "*" ? .any : c == "?" ? .one : .char(c))
            rest = rest.dropFirst()
        }
        return out
    }

    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = tokens(pattern)
        let t = Array(text)
        // reach[j]: the pattern so far matches t[0..<j]
        var reach = [Bool](repeating: false, count: t.count + 1)
        reach[0] = true
        for token in p {
            var next = [Bool](repeating: false, count: t.count + 1)
            for j in 0...t.count {
                switch token {
                case .any: next[j] = reach[j] || (j > 0 && next[j - 1])
                case .one: next[j] = j > 0 && reach[j - 1]
                case .char(let c): next[j] = j > 0 && reach[j - 1] && t[j - 1] == c
                }
            }
            reach = next
        }
        return reach[t.count]
    }

    /// The IAM action, resource and context of one request the proxy saw, as AWS authorises it.
    static func requests(for request: ProxiedRequest, account: String) throws -> [Request] {
        func decode(_ s: Substring) -> String { String(s).removingPercentEncoding ?? String(s) }
        var query: [String: String] = [:]
        for pair in request.query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        switch request.service {
        case "s3":
            let path = request.path.dropFirst()
            let bucket = decode(path.prefix { $0 != "/" })
            let key = path.firstIndex(of: "/").map { decode(path[path.index(after: $0)...]) } ?? ""
            if key.isEmpty {
                var context: [String: String] = [:]
                if let prefix = query["prefix"] { context["s3:prefix"] = prefix }
                switch request.method {
                case "GET" where query["list-type"] != nil, "HEAD":
                    return [Request(action: "s3:ListBucket", resource: "arn:aws:s3:::\(bucket)", context: context)]
                default:
                    return [Request(action: "s3:\(request.method)Bucket?", resource: "arn:aws:s3:::\(bucket)")]
                }
            }
            let action: String
            switch request.method {
            case "GET", "HEAD": action = "s3:GetObject"
            case "PUT", "POST": action = "s3:PutObject"
            case "DELETE": action = query["uploadId"] != nil ? "s3:AbortMultipartUpload" : "s3:DeleteObject"
            default: action = "s3:\(request.method)?"
            }
            return [Request(action: action, resource: "arn:aws:s3:::\(bucket)/\(key)")]
        case "ssm":
            let operation = try #require(request.target?.split(separator: ".").last.map(String.init))
            return request.names.map { name in
                let path = name.hasPrefix("/") ? String(name.dropFirst()) : name
                return Request(action: "ssm:\(operation)",
                               resource: "arn:aws:ssm:\(request.region):\(account):parameter/\(path)")
            }
        case "bedrock":
            let parts = request.path.split(separator: "/")
            #expect(parts.count == 3 && parts[0] == "model" && parts[2] == "converse", "\(request.path)")
            let model = decode(parts[1])
            return [Request(action: "bedrock:InvokeModel",
                            resource: "arn:aws:bedrock:\(request.region)::foundation-model/\(model)")]
        default:
            Issue.record("a request to an unexpected service: \(request)")
            return []
        }
    }
}

/// Where the lock of a job without a report goes: beside the outputs, with one slash.
@Suite struct LockBesideOutputsTests {
    @Test func theLockKeyHasNoEmptySegment() throws {
        let job = try KitFixture.job("""
            version: 1
            name: no-report
            model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 10}
            prompt: "x {{input}}"
            inputs: {s3: "s3://b-in/in/"}
            output: {s3: "s3://b-out/out/{{run.date}}/{{item.name}}.json"}
            """)
        let run = TemplateValues.Run(jobName: job.name, runID: "20261130T020000Z-abcd", runDate: "2026-11-30")
        let builder = RequestBuilder(job: job, prompts: ResolvedPrompts(system: nil, prompt: nil, ssmParameters: [], s3Objects: []),
                                     run: run)
        let lock = try RunSession.lockLocation(job: job, report: nil, builder: builder, shard: nil)
        #expect(lock == .s3(bucket: "b-out", key: "out/2026-11-30/no-report.lock"))
        let policy = JobPolicy(job: job).policy
        #expect(policy.statements.first { $0.sid == "RunLock" }?.resources.first == "arn:aws:s3:::b-out/out/*/no-report.lock")
    }
}

/// docs/operations.md shows the policy the command prints for jobs/ticket-summaries.yaml.
@Suite struct PolicyDocumentationTests {
    @Test func theDocumentedPolicyIsTheGeneratedOne() throws {
        let root = TestServers.repositoryRoot.path
        let docs = try String(contentsOfFile: root + "/docs/operations.md", encoding: .utf8)
        let section = try #require(docs.range(of: "## IAM policy for a run"))
        let rest = docs[section.upperBound...]
        let open = try #require(rest.range(of: "```json\n"))
        let close = try #require(rest.range(of: "\n```", range: open.upperBound..<rest.endIndex))
        let job = try JobLoader.load(path: root + "/jobs/ticket-summaries.yaml")
        // as `conveyor doctor --policy jobs/ticket-summaries.yaml --account 123456789012` with no region configured
        let generated = JobPolicy(job: job, options: JobPolicy.Options(account: "123456789012", dataRegion: job.model.region,
                                                                       modelRegion: job.model.region))
        #expect(String(rest[open.upperBound..<close.lowerBound]) == generated.policy.jsonText(),
                "regenerate the policy in docs/operations.md with conveyor doctor --policy jobs/ticket-summaries.yaml --account 123456789012")
    }
}
