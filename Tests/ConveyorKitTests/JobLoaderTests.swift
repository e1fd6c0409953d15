import AWSCore
import Foundation
import Testing
@testable import ConveyorKit

/// A valid job, to be broken one line at a time.
let validJob = """
    version: 1
    name: ticket-summaries
    description: Nightly summaries
    model:
      id: anthropic.claude-3-haiku-20240307-v1:0
      region: eu-west-2
      maxTokens: 512
      temperature: 0.2
      topP: 0.9
      stopSequences: ["###"]
      additionalFields: {top_k: 200}
    system: You summarise support tickets.
    prompt: |
      Summarise this ticket:
      {{input}}
    inputs:
      s3: s3://acme-support/tickets/
      include: ["*.txt"]
      exclude: ["archive/*"]
      format: text
    output:
      s3: s3://acme-support/summaries/{{run.date}}/{{item.name}}.json
      format: json
      onExisting: skip
    report: s3://acme-support/reports/{{job.name}}/{{run.id}}.json
    limits:
      concurrency: 16
      requestsPerMinute: 500
      tokensPerMinute: 200000
      maxAttempts: 10
      connectTimeout: 5s
      readTimeout: 60s
      maxFailures: 5%
      budgetUSD: 25
    vars:
      team: support
    """

/// The diagnostics of loading `text`, or none.
func diagnostics(_ text: String, overrides: [String: String] = [:]) -> [Diagnostic] {
    do {
        _ = try JobLoader.load(text: text, path: "job.yaml", overrides: overrides)
        return []
    } catch {
        return error.diagnostics
    }
}

func errors(_ text: String) -> [Diagnostic] { diagnostics(text).filter { $0.severity == .error } }

/// `validJob` with one line replaced (matched by its start) or removed.
func replacing(_ prefix: String, with line: String?) -> String {
    var lines = validJob.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let index = lines.firstIndex { $0.hasPrefix(prefix) }!
    if let line { lines[index] = line } else { lines.remove(at: index) }
    return lines.joined(separator: "\n")
}

@Suite struct JobLoaderTests {
    @Test func theContractExampleLoads() throws {
        let job = try JobLoader.load(text: validJob, path: "jobs/x.yaml")
        #expect(job.name == "ticket-summaries")
        #expect(job.model.id == "anthropic.claude-3-haiku-20240307-v1:0")
        #expect(job.model.maxTokens == 512)
        #expect(job.model.additionalFields == ["top_k": 200])
        #expect(job.model.stopSequences == ["###"])
        #expect(job.inputs?.format == .text)
        #expect(job.inputs?.include == ["*.txt"])
        #expect(job.output.onExisting == .skip)
        #expect(job.limits.readTimeout == .seconds(60))
        #expect(job.limits.maxFailures == .percent(5))
        #expect(job.limits.budgetUSD == 25)
        #expect(job.vars == ["team": "support"])
        if case .inline(let prompt) = job.prompt {
            #expect(prompt.text == "Summarise this ticket:\n{{input}}\n")
            #expect(prompt.location == SourceLocation(file: "jobs/x.yaml", line: 14, column: 3))
            #expect(prompt.locate(prompt.text.count - 10) == SourceLocation(file: "jobs/x.yaml", line: 15, column: 3))
        } else {
            Issue.record("prompt should be inline")
        }
        #expect(job.baseDirectory == "jobs")
    }

    @Test func varsOverridesWin() throws {
        let job = try JobLoader.load(text: validJob, path: "x.yaml", overrides: ["team": "billing", "extra": "1"])
        #expect(job.vars == ["team": "billing", "extra": "1"])
    }

    @Test(arguments: [
        // (line prefix, replacement, expected "line:col: error: message" prefix)
        ("name:", "name: Ticket_Summaries", "2:7: error: name 'Ticket_Summaries' is not valid"),
        ("version:", "version: 2", "1:10: error: version must be at most 1"),
        ("  maxTokens:", "  maxTokns: 512", "7:3: error: unknown key 'maxTokns' in model; did you mean 'maxTokens'?"),
        ("  maxTokens:", "  maxTokens: lots", "7:14: error: model.maxTokens must be a whole number, found 'lots'"),
        ("  maxTokens:", "  maxTokens: 0", "7:14: error: model.maxTokens must be at least 1"),
        ("  temperature:", "  temperature: 1.5", "8:16: error: model.temperature must be at most 1"),
        ("  temperature:", "  temperature: warm", "8:16: error: model.temperature must be a number"),
        ("  stopSequences:", "  stopSequences: \"###\"", "10:18: error: model.stopSequences must be a list"),
        ("  format: text", "  format: txt", "20:11: error: inputs.format must be one of text, jsonl, csv; found 'txt'; did you mean 'text'?"),
        ("  onExisting:", "  onExisting: skipp", "24:15: error: output.onExisting must be one of skip, overwrite, fail"),
        ("  concurrency:", "  concurrency: 0", "27:16: error: limits.concurrency must be at least 1"),
        ("  readTimeout:", "  readTimeout: 60 seconds", "32:16: error: limits.readTimeout '60 seconds' is not a duration"),
        ("  connectTimeout:", "  connectTimeout: [5]", "31:19: error: limits.connectTimeout must be a duration"),
        ("  maxFailures:", "  maxFailures: 5 percent", "33:16: error: limits.maxFailures must be a count such as 10"),
        ("  budgetUSD:", "  budgetUSD: -1", "34:14: error: limits.budgetUSD must be at least 0"),
        ("engine", "engine: spot", ""),  // handled below: appended line
        ("report:", "report: ftp://host/x", "25:9: error: unsupported URI scheme ftp://"),
        ("  s3: s3://acme-support/tickets/", "  s3: s3://Acme_Support/tickets/", "17:7: error: inputs.s3: 'Acme_Support' is not a valid bucket name"),
        ("  s3: s3://acme-support/tickets/", "  s3: s3://acme-support/{{item.name}}/", "17:27: error: item.name differs from item to item, and this template is rendered once per run"),
        ("  s3: s3://acme-support/summaries", "  s3: s3://{{vars.team}}/x/{{item.name}}", "22:12: error: the bucket name must be written out"),
        ("  team:", "  team-name: support", "36:3: error: vars names are letters, digits and '_'"),
        ("system:", "system: {ssm: }", "12:15: error: system.ssm must name a parameter"),
        ("system:", "system: {vault: /x}", "12:9: error: system must be text, {ssm: /parameter/name} or {s3: s3://bucket/key}"),
        ("system:", "system: {s3: /local/path}", "12:14: error: system.s3 must be an s3:// URI"),
        ("description:", "descripton: x", "3:1: error: unknown key 'descripton' in the job; did you mean 'description'?"),
    ])
    func eachMistakeIsReportedWhereItIs(prefix: String, replacement: String, expected: String) {
        guard !expected.isEmpty else { return }
        let found = errors(replacing(prefix, with: replacement)).map { "\($0.location!.line):\($0.location!.column): error: \($0.message)" }
        #expect(found.contains { $0.hasPrefix(expected) }, "\(found)")
        #expect(found.count == 1, "\(found)")
    }

    @Test func templateMistakesPointAtTheVariable() {
        let text = validJob.replacingOccurrences(of: "  {{input}}", with: "  Ticket {{inptu}} for {{vars.tem}}")
        let found = errors(text).map { "\($0.location!.line):\($0.location!.column): \($0.message)" }
        #expect(found.count == 2, "\(found)")
        #expect(found.first?.hasPrefix("15:12: unknown variable inptu; did you mean input?") == true, "\(found)")
        #expect(found.last?.hasPrefix("15:31: vars.tem is not defined") == true, "\(found)")  // at "tem"
        #expect(errors(text.replacingOccurrences(of: "{{vars.tem}}", with: "{{vars.team}}")).count == 1)
    }

    @Test func recordFieldsNeedRecordInputs() {
        let found = errors(validJob.replacingOccurrences(of: "  {{input}}", with: "  {{record.title}}"))
        #expect(found.first?.message.contains("record fields exist only for inputs with format jsonl or csv") == true)
        #expect(errors(validJob.replacingOccurrences(of: "  {{input}}", with: "  {{record.title}}")
            .replacingOccurrences(of: "  format: text", with: "  format: jsonl")).isEmpty)
    }

    @Test func anOutputKeyShouldDifferPerItem() {
        let found = errors(validJob.replacingOccurrences(of: "{{item.name}}.json", with: "all.json"))
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("every item would be written to") == true)
        #expect(found.first?.location?.line == 22)
    }

    @Test func varsFromTheCommandLineSatisfyTemplates() {
        let text = validJob.replacingOccurrences(of: "  {{input}}", with: "  {{input}} for {{vars.region}}")
        #expect(!errors(text).isEmpty)
        #expect(diagnostics(text, overrides: ["region": "emea"]).filter { $0.severity == .error }.isEmpty)
    }

    @Test func allErrorsAreReportedInOrder() {
        let text = validJob
            .replacingOccurrences(of: "name: ticket-summaries", with: "name: Bad Name")
            .replacingOccurrences(of: "  format: text", with: "  format: xml")
            .replacingOccurrences(of: "  concurrency: 16", with: "  concurrency: -3")
        let found = errors(text)
        #expect(found.count == 3)
        #expect(found.map { $0.location!.line } == [2, 20, 27])
        #expect(found[0].description.hasPrefix("job.yaml:2:7: error: "))
    }

    @Test func missingRequiredKeysAreNamed() {
        let found = errors(replacing("output:", with: "outputs:"))
        #expect(found.contains { $0.message.hasPrefix("unknown key 'outputs' in the job; did you mean 'output'?") })
        #expect(found.contains { $0.message.hasPrefix("missing required key 'output'") && $0.location?.line == 1 })
        let noModelId = errors(replacing("  id: anthropic", with: "  name: x"))
        #expect(noModelId.contains { $0.message.hasPrefix("missing required key 'id' in model") && $0.location?.line == 5 })
    }

    @Test func itemsAndPromptRules() {
        let noItems = errors(validJob.replacingOccurrences(of: "inputs:\n  s3: s3://acme-support/tickets/\n  include: [\"*.txt\"]\n  exclude: [\"archive/*\"]\n  format: text\n", with: ""))
        #expect(noItems.contains { $0.message.hasPrefix("the job has no items") })
        let noPrompt = errors(validJob.replacingOccurrences(of: "prompt: |\n  Summarise this ticket:\n  {{input}}\n", with: ""))
        #expect(noPrompt.contains { $0.message.hasPrefix("inputs need a prompt") && $0.location?.line == 14 })
        let both = errors(validJob + "\nmessages:\n  - {role: user, text: hi}\n")
        #expect(both.contains { $0.message == "use either prompt or messages, not both" })
    }

    @Test func messagesMustAlternateAndEndWithTheUser() {
        let text = validJob.replacingOccurrences(of: "prompt: |\n  Summarise this ticket:\n  {{input}}\n", with: """
            messages:
              - {role: user, text: "Here is a ticket"}
              - {role: assistant, text: "Go on"}
              - {role: assistant, text: "Really"}

            """)
        let found = errors(text)
        #expect(found.contains { $0.message.hasPrefix("the last of messages must be the user's turn") && $0.location?.line == 16 })
        #expect(found.contains { $0.message.hasPrefix("messages must alternate") && $0.location?.line == 16 })
        let role = errors(validJob.replacingOccurrences(of: "prompt: |\n  Summarise this ticket:\n  {{input}}\n",
                                                        with: "messages:\n  - {role: human, text: hi}\n"))
        #expect(role.contains { $0.message.hasPrefix("messages[0].role must be one of user, assistant") })
    }

    @Test func promptItemsFormB() throws {
        let text = """
            version: 1
            name: reviews
            model: {id: m, maxTokens: 100}
            prompts:
              - id: q3-review
                prompt: "Review this document: {{input}}"
                input: s3://acme/docs/q3.md
                output: s3://acme/reviews/q3.json
              - id: q4-review
                prompt: "Review the plan"
            output:
              s3: s3://acme/reviews/{{item.id}}.json
            """
        let job = try JobLoader.load(text: text, path: "x.yaml")
        #expect(job.prompts.map(\.id) == ["q3-review", "q4-review"])
        #expect(job.prompts[0].input?.text == "s3://acme/docs/q3.md")
        #expect(job.prompts[0].prompt.location == SourceLocation(file: "x.yaml", line: 6, column: 13))
        let duplicate = errors(text.replacingOccurrences(of: "id: q4-review", with: "id: q3-review"))
        #expect(duplicate.contains { $0.message == "the prompt id 'q3-review' is used twice (first at line 5)" && $0.location?.line == 9 })
    }

    @Test func batchEngineNeedsRoleAndStaging() {
        let found = errors(validJob + "\nengine: batch\n")
        #expect(found.contains { $0.message.hasPrefix("engine batch needs batch.roleArn") })
        #expect(errors(validJob + "\nengine: batch\nbatch:\n  roleArn: arn:aws:iam::123456789012:role/r\n  staging: s3://acme/staging/\n").isEmpty)
        #expect(errors(validJob + "\nengine: spot\n").contains { $0.message.hasPrefix("engine must be one of ondemand, batch") })
    }

    @Test func pricingOverridesInEitherUnit() throws {
        let perMillion = try JobLoader.load(text: validJob.replacingOccurrences(
            of: "  additionalFields: {top_k: 200}",
            with: "  additionalFields: {top_k: 200}\n  pricing: {inputPerMillion: 3, outputPerMillion: 15, burndown: 5}"), path: "x.yaml")
        #expect(perMillion.model.pricing == PricingOverride(inputPerMillion: 3, outputPerMillion: 15, burndown: 5))
        let mixed = errors(validJob.replacingOccurrences(
            of: "  additionalFields: {top_k: 200}",
            with: "  additionalFields: {top_k: 200}\n  pricing: {inputPer1k: 3, outputPerMillion: 15}"))
        #expect(mixed.count == 1)
        #expect(mixed.first?.message.hasPrefix("model.pricing: give prices per 1k") == true)
        #expect(mixed.first?.location?.line == 12)
    }

    @Test func missingMaxTokensIsAWarningNotAnError() {
        let found = diagnostics(replacing("  maxTokens:", with: nil))
        #expect(found.isEmpty)  // a warning alone does not fail loading
        #expect((try? JobLoader.load(text: replacing("  maxTokens:", with: nil), path: "x.yaml")) != nil)
    }
}

@Suite struct HostileFileTests {
    @Test func syntaxErrorsHaveTheirPlace() {
        let found = diagnostics("version: 1\nname: [unclosed\nmodel: x\n")
        #expect(found.count == 1)
        #expect(found[0].message.hasPrefix("invalid YAML"))
        #expect(found[0].location?.line == 3)
    }

    @Test func duplicateKeys() {
        let found = diagnostics("version: 1\nname: a\nname: b\n")
        #expect(found.first?.message == "the key 'name' appears more than once in the same mapping")
        #expect(found.first?.location?.line == 2)
    }

    @Test func aliasBombIsRefused() {
        var text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        var previous = "a"
        for name in ["b", "c", "d", "e", "f", "g"] {
            text += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]\n"
            previous = name
        }
        let found = diagnostics(text)
        #expect(found.first?.message.contains("expands to more than") == true)
    }

    @Test func deepNestingIsRefused() {
        let text = "version: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"
        #expect(diagnostics(text).first?.message.contains("nested more than") == true)
        let blocks = (0..<80).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " x\n"
        #expect(diagnostics(blocks).first?.message.contains("nested more than") == true)
    }

    @Test func oversizedFileIsRefused() {
        let data = Data(repeating: UInt8(ascii: "#"), count: YAMLDocument.maxBytes + 1)
        #expect(throws: DiagnosticsError.self) { try YAMLDocument(path: "big.yaml", data: data) }
    }

    @Test func nonUTF8IsRefusedWithItsPlace() {
        var data = Data("version: 1\nname: caf".utf8)
        data.append(0xE9)  // Latin-1 é
        data.append(contentsOf: Array("\n".utf8))
        do {
            _ = try YAMLDocument(path: "latin1.yaml", data: data)
            Issue.record("accepted non-UTF-8")
        } catch {
            #expect(error.diagnostics.first?.location == SourceLocation(file: "latin1.yaml", line: 2, column: 10))
            #expect(error.diagnostics.first?.message.contains("not valid UTF-8") == true)
        }
    }

    @Test func emptyFile() {
        #expect(diagnostics("").first?.message.hasPrefix("the file is empty") == true)
        #expect(diagnostics("# only a comment\n").first?.message.hasPrefix("the file is empty") == true)
    }

    @Test func missingFileIsNamed() {
        do {
            _ = try JobLoader.load(path: "/nonexistent/job.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.diagnostics.first?.message == "cannot read /nonexistent/job.yaml: no such file")
        }
    }
}

@Suite struct JobValueTests {
    @Test(arguments: [("5s", 5000), ("500ms", 500), ("2m", 120_000), ("1h", 3_600_000), ("1.5s", 1500), ("30", 30_000)])
    func durations(text: String, ms: Int64) {
        #expect(DurationText.parse(text) == .milliseconds(ms))
    }

    @Test func badDurations() {
        for text in ["", "s", "5 s", "-1s", "5x", "1d", "ms"] { #expect(DurationText.parse(text) == nil, "\(text)") }
    }

    @Test func failureLimits() {
        #expect(FailureLimitText.parse("10") == .count(10))
        #expect(FailureLimitText.parse("5%") == .percent(5))
        #expect(FailureLimitText.parse("0.5%") == .percent(0.5))
        #expect(FailureLimitText.parse("150%") == nil)
        #expect(FailureLimitText.parse("-1") == nil)
        #expect(FailureLimit.count(2).isExceeded(failed: 3, total: 10))
        #expect(!FailureLimit.count(2).isExceeded(failed: 2, total: 10))
        #expect(FailureLimit.percent(10).isExceeded(failed: 11, total: 100))
        #expect(!FailureLimit.percent(10).isExceeded(failed: 10, total: 100))
    }

    @Test func storageURIs() throws {
        #expect(try StorageURI.parse("s3://bucket-1/a/b.txt") == .s3(bucket: "bucket-1", key: "a/b.txt"))
        #expect(try StorageURI.parse("s3://bucket-1") == .s3(bucket: "bucket-1", key: ""))
        #expect(try StorageURI.parse("file:///tmp/x") == .file(path: "/tmp/x"))
        #expect(try StorageURI.parse("data/in/") == .file(path: "data/in/"))
        #expect(StorageURI.file(path: "data/x").resolved(against: "/jobs") == .file(path: "/jobs/data/x"))
        #expect(throws: StorageURI.ParseError.self) { try StorageURI.parse("file://relative/x") }
        #expect(throws: StorageURI.ParseError.self) { try StorageURI.parse("s3://UPPER/x") }
        #expect(throws: StorageURI.ParseError.self) { try StorageURI.parse("gs://b/x") }
    }

    @Test func suggestions() {
        #expect(Suggest.closest("maxTokns", among: ["maxTokens", "topP"]) == "maxTokens")
        #expect(Suggest.closest("zzzzzz", among: ["maxTokens", "topP"]) == nil)
        #expect(Suggest.distance("kitten", "sitting") == 3)
    }
}
