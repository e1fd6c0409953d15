import AWSCore
import AWSServices
import Foundation
import Testing
@testable import ConveyorKit

/// The validator of answers against `output.schema`: one test per keyword, and paths into nested
/// values.
@Suite struct OutputSchemaValidationTests {
    func problems(_ schema: JSONValue, _ value: JSONValue) -> [String] { OutputSchema(schema).violations(of: value) }

    @Test func typeAcceptsItsKindsOnly() {
        #expect(problems(["type": "string"], "a").isEmpty)
        #expect(problems(["type": "string"], 3) == [#"$: expected string, found integer 3"#])
        #expect(problems(["type": "integer"], 3).isEmpty)
        #expect(problems(["type": "integer"], 3.0).isEmpty)  // a whole number written as 3.0
        #expect(problems(["type": "integer"], 3.5) == ["$: expected integer, found number 3.5"])
        #expect(problems(["type": "number"], 3).isEmpty)
        #expect(problems(["type": "boolean"], "true") == [#"$: expected boolean, found string "true""#])
        #expect(problems(["type": "null"], nil).isEmpty)
        #expect(problems(["type": "object"], []) == ["$: expected object, found an array []"])
        #expect(problems(["type": "array"], [:]) == ["$: expected array, found an object {}"])
        #expect(problems(["type": ["string", "null"]], nil).isEmpty)
        #expect(problems(["type": ["string", "null"]], 1) == ["$: expected string or null, found integer 1"])
    }

    @Test func propertiesRequiredAndAdditionalProperties() {
        let schema: JSONValue = ["type": "object", "required": ["label", "confidence"],
                                 "properties": ["label": ["type": "string"], "confidence": ["type": "number"]],
                                 "additionalProperties": false]
        #expect(problems(schema, ["label": "a", "confidence": 0.5]).isEmpty)
        #expect(problems(schema, ["label": "a"]) == [#"$: missing the required property "confidence""#])
        #expect(problems(schema, ["label": 1, "confidence": 0.5]) == ["$.label: expected string, found integer 1"])
        #expect(problems(schema, ["label": "a", "confidence": 1, "why": "x"])
            == [#"$: unexpected property "why" (additionalProperties is false; expected only label, confidence)"#])
        // without additionalProperties: false, other members are allowed; with a schema, checked
        let open: JSONValue = ["type": "object", "properties": ["label": ["type": "string"]]]
        #expect(problems(open, ["label": "a", "why": "x"]).isEmpty)
        let typed: JSONValue = ["type": "object", "additionalProperties": ["type": "integer"]]
        #expect(problems(typed, ["a": 1, "b": "two"]) == [#"$.b: expected integer, found string "two""#])
    }

    @Test func enumListsTheAllowedValues() {
        let schema: JSONValue = ["enum": ["a", "b", 3]]
        #expect(problems(schema, "a").isEmpty)
        #expect(problems(schema, 3.0).isEmpty)  // numbers compare by value
        #expect(problems(schema, "c") == [#"$: expected one of a, b, 3, found string "c""#])
    }

    @Test func itemsMinItemsAndMaxItems() {
        let schema: JSONValue = ["type": "array", "items": ["type": "integer"], "minItems": 1, "maxItems": 2]
        #expect(problems(schema, [1, 2]).isEmpty)
        #expect(problems(schema, []) == ["$: expected at least 1 item, found 0"])
        #expect(problems(schema, [1, 2, 3]) == ["$: expected at most 2 items, found 3"])
        #expect(problems(schema, [1, "x"]) == [#"$[1]: expected integer, found string "x""#])
    }

    @Test func minimumAndMaximum() {
        let schema: JSONValue = ["type": "number", "minimum": 0, "maximum": 1]
        #expect(problems(schema, 0).isEmpty)
        #expect(problems(schema, 1).isEmpty)
        #expect(problems(schema, -0.5) == ["$: expected at least 0, found -0.5"])
        #expect(problems(schema, 2) == ["$: expected at most 1, found 2"])
    }

    @Test func minLengthAndMaxLengthCountCharacters() {
        let schema: JSONValue = ["type": "string", "minLength": 2, "maxLength": 3]
        #expect(problems(schema, "été").isEmpty)  // three characters, five bytes
        #expect(problems(schema, "a") == ["$: expected at least 2 characters, found 1"])
        #expect(problems(schema, "abcd") == ["$: expected at most 3 characters, found 4"])
    }

    @Test func nestedPathsNameTheValue() {
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "items": ["type": "array", "items": [
                    "type": "object", "required": ["label"],
                    "properties": ["label": ["enum": ["a", "b"]], "odd key": ["type": "integer"]],
                ]],
            ],
        ]
        let value: JSONValue = ["items": [["label": "a"], ["label": "b"], ["label": "c", "odd key": "x"], [:]]]
        #expect(problems(schema, value) == [
            #"$.items[2].label: expected one of a, b, found string "c""#,
            #"$.items[2]["odd key"]: expected integer, found string "x""#,
            #"$.items[3]: missing the required property "label""#,
        ])
    }

    @Test func theAnswerIsTheForcedToolsInput() {
        let structured = StructuredOutput(schema: ["type": "object", "required": ["label"],
                                                   "properties": ["label": ["enum": ["a", "b"]]]], retries: 2)
        func answer(_ content: [ContentBlock]) -> ConverseResponse {
            ConverseResponse(message: Message(role: .assistant, content: content), stopReason: .toolUse,
                             usage: TokenUsage(inputTokens: 1, outputTokens: 1, totalTokens: 2), latencyMs: 1)
        }
        let good = answer([.toolUse(ToolUseBlock(toolUseId: "t1", name: StructuredOutput.toolName, input: ["label": "a"]))])
        #expect(structured.check(good) == .value(["label": "a"]))
        let bad = answer([.text("Here:"), .toolUse(ToolUseBlock(toolUseId: "t2", name: StructuredOutput.toolName,
                                                                  input: ["label": "z"]))])
        #expect(structured.check(bad) == .mismatch([#"$.label: expected one of a, b, found string "z""#]))
        // the follow-up: the assistant's answer, then the errors as a failed tool result
        let first = ConverseRequest(modelId: "anthropic.claude-3-haiku-20240307-v1:0", messages: [.user("classify")],
                                    toolConfig: structured.toolConfiguration)
        #expect(first.toolConfig?.toolChoice == .tool(name: StructuredOutput.toolName))
        let next = structured.followUp(first, answer: bad, problems: ["$.label: expected one of a, b"])
        #expect(next.messages.count == 3)
        #expect(next.messages[1] == bad.message)
        guard case .toolResult(let result)? = next.messages[2].content.first else {
            Issue.record("expected a toolResult, found \(next.messages[2])")
            return
        }
        #expect(result.toolUseId == "t2")
        #expect(result.status == "error")
        #expect(result.content == [.text("The input does not match the schema:\n- $.label: expected one of a, b\n"
            + "Call \(StructuredOutput.toolName) again with input that does.")])
        #expect(next.toolConfig == first.toolConfig)
        // Mistral Large refuses a toolResult status: the errors go without it
        var mistral = first
        mistral.modelId = "mistral.mistral-large-2407-v1:0"
        guard case .toolResult(let plain)? = structured.followUp(mistral, answer: bad, problems: ["p"]).messages[2].content.first
        else {
            Issue.record("expected a toolResult")
            return
        }
        #expect(plain.status == nil)
        #expect(StructuredOutput.acceptsToolResultStatus("us.amazon.nova-pro-v1:0"))
        #expect(!StructuredOutput.acceptsToolResultStatus("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/x"))
        // an answer in text only: asked again in a user turn
        let text = answer([.text("a")])
        #expect(structured.check(text) == .mismatch(["the answer did not call the tool structured_output (stop reason tool_use)"]))
        #expect(structured.followUp(first, answer: text, problems: ["p"]).messages.last?.role == .user)
    }

    @Test func modelsThatAcceptAForcedTool() {
        for id in ["anthropic.claude-3-haiku-20240307-v1:0", "us.anthropic.claude-sonnet-4-20250514-v1:0",
                   "anthropic.claude-3-5-sonnet-20240620-v1:0", "mistral.mistral-large-2407-v1:0", "amazon.nova-pro-v1:0",
                   "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"] {
            #expect(StructuredOutput.supportsForcedTool(id) == true, "\(id)")
        }
        for id in ["anthropic.claude-v2:1", "anthropic.claude-instant-v1", "meta.llama3-70b-instruct-v1:0",
                   "mistral.mistral-7b-instruct-v0:2", "amazon.titan-text-express-v1"] {
            #expect(StructuredOutput.supportsForcedTool(id) == false, "\(id)")
        }
        #expect(StructuredOutput.supportsForcedTool("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc") == nil)
    }
}

/// Schema follow-ups in the report: apart from retries, kept through a reload and a merge.
@Suite struct SchemaRetriesReportTests {
    func report(shard: Int) throws -> RunReport {
        let stats = RunStats()
        // one item fitted at the second answer after a throttle; one never fitted (three answers)
        var fitted = ItemRecord.succeeded(id: "a\(shard)", attempts: 3, throttled: 1, latencyMs: 10, inputTokens: 30,
                                          outputTokens: 6)
        fitted.schemaRetries = 1
        var failed = ItemRecord.failed(id: "b\(shard)", code: "SchemaMismatch", message: "$: expected object", attempts: 3,
                                       inputTokens: 40, outputTokens: 9)
        failed.schemaRetries = 2
        stats.record(fitted)
        stats.record(failed)
        #expect(try ItemRecord(manifest: failed.manifestJSON.objectValue!).schemaRetries == 2)
        var context = ReportTests.context
        context.shard = try Shard(index: shard, count: 2)
        return stats.report(run: context, finishedAt: ReportTests.context.startedAt.addingTimeInterval(5))
    }

    @Test func countedApartFromRetries() throws {
        let one = try report(shard: 0)
        #expect(one.calls == RunReport.Calls(attempts: 6, throttled: 1, retried: 1, schemaRetries: 3))
        #expect(one.failures.first?.code == "SchemaMismatch")
        let loaded = try RunReport.load(from: one.encoded())
        #expect(loaded.calls == one.calls)
        #expect(one.render().contains("6 attempts, 1 throttled, 1 retried, 3 schema follow-ups"))
        let merged = try RunReport.merge([one, try report(shard: 1)])
        #expect(merged.calls == RunReport.Calls(attempts: 12, throttled: 2, retried: 2, schemaRetries: 6))
    }
}

/// `output.schema` checked when the job is loaded, every problem at its line and column.
@Suite struct OutputSchemaLoadingTests {
    func job(output: String, model: String = "anthropic.claude-3-haiku-20240307-v1:0") -> String {
        """
        version: 1
        name: labels
        model: {id: \(model), maxTokens: 100}
        prompt: "Classify {{input}}"
        inputs: {s3: "s3://acme-labels/in/"}
        output:
          s3: "s3://acme-labels/out/{{item.name}}.json"
        \(output.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test func aValidSchemaLoads() throws {
        let loaded = try JobLoader.load(text: job(output: """
            schemaRetries: 1
            schema:
              type: object
              description: The ticket's label
              required: [label, confidence]
              additionalProperties: false
              properties:
                label: {enum: [bug, feature, praise, other]}
                confidence: {type: number, minimum: 0, maximum: 1}
                tags: {type: array, items: {type: string, minLength: 1, maxLength: 20}, maxItems: 3}
            """), path: "job.yaml")
        #expect(loaded.output.schemaRetries == 1)
        #expect(loaded.output.schema?["properties"]?["confidence"]?["maximum"] == 1)
        #expect(loaded.warnings.isEmpty)
        let defaults = try JobLoader.load(text: job(output: "schema: {type: object}"), path: "job.yaml")
        #expect(defaults.output.schemaRetries == 2)
    }

    @Test func anUnsupportedKeywordIsAnErrorAtItsPlace() {
        let found = errors(job(output: """
            schema:
              type: object
              properties:
                label: {type: string, pattern: "^[a-z]+$"}
                code: {type: string, fromat: date}
            """))
        #expect(found.map(\.description) == [
            "job.yaml:11:29: error: 'pattern' is not supported in output.schema.properties.label: Conveyor checks answers "
                + "against type, properties, required, enum, items, minimum, maximum, minLength, maxLength, minItems, maxItems, "
                + "additionalProperties (and reads description and title); remove it, or check its rule after the run",
            "job.yaml:12:28: error: 'fromat' is not supported in output.schema.properties.code: Conveyor checks answers "
                + "against type, properties, required, enum, items, minimum, maximum, minLength, maxLength, minItems, maxItems, "
                + "additionalProperties (and reads description and title); remove it, or check its rule after the run",
        ])
    }

    @Test func wrongKindsOfValuesAreErrorsAtTheirPlace() {
        let found = errors(job(output: """
            schema:
              type: object
              required: label
              properties:
                label: {type: strng}
                score: {type: integer, minimum: low, maxLength: -1}
                size: {type: integer, minimum: 5, maximum: 1}
                kind: {type: string, enum: []}
                flag: {type: string, enum: [yes, 1]}
                list: {type: array, items: [a]}
            """)).map(\.description)
        #expect(found == [
            "job.yaml:10:15: error: output.schema.required must be a list of property names, found 'label'",
            "job.yaml:12:21: error: output.schema.properties.label.type must be one of object, array, string, integer, "
                + "number, boolean, null, found 'strng'; did you mean 'string'?",
            "job.yaml:13:39: error: output.schema.properties.score.minimum must be a number, found 'low'",
            "job.yaml:13:55: error: output.schema.properties.score.maxLength must be a whole number, 0 or more, found '-1'",
            "job.yaml:14:50: error: output.schema.properties.size.maximum (1) is below minimum (5): no value could fit",
            "job.yaml:15:34: error: output.schema.properties.kind.enum must be a non-empty list of the allowed values, found a list",
            "job.yaml:16:40: error: output.schema.properties.flag.enum: integer 1 is not of the schema's type string; "
                + "quote it if it is meant as text",
            "job.yaml:17:34: error: output.schema.properties.list.items must be a schema (a mapping such as {type: string}), "
                + "found a list",
        ])
    }

    @Test func theRootDescribesAnObjectAndRequiredNamesProperties() {
        #expect(errors(job(output: "schema: {type: string}")).first?.description.hasPrefix(
            "job.yaml:8:18: error: output.schema must describe an object (type: object)") == true)
        #expect(errors(job(output: "schema: [a]")).first?.description
            == "job.yaml:8:11: error: output.schema must be a JSON Schema mapping, such as {type: object, properties: {...}}")
        #expect(errors(job(output: "schema: {type: object, required: [lable], properties: {label: {type: string}}}"))
            .first?.description == "job.yaml:8:37: error: output.schema.required names 'lable', which is not among the "
                + "properties; did you mean 'label'?")
    }

    @Test func formatJsonlNeedsASchemaAndCollect() {
        #expect(errors(job(output: "format: jsonl\ncollect: out/all.jsonl")).map(\.message)
            == ["output.format jsonl collects the values that output.schema describes: add output.schema, or use format json"])
        #expect(errors(job(output: "format: jsonl\nschema: {type: object}")).map(\.message) == [
            "output.format jsonl needs output.collect, where the values are collected: such as out/{{run.date}}/values.jsonl"])
        #expect(errors(job(output: "collect: out/all.jsonl\nschema: {type: object}")).map(\.message)
            == ["output.collect applies with output.format jsonl: set format: jsonl, or remove it"])
        #expect(errors(job(output: "schemaRetries: 3")).map(\.message)
            == ["output.schemaRetries applies with output.schema: add the schema, or remove it"])
        #expect(errors(job(output: "format: jsonl\nschema: {type: object}\ncollect: \"out/{{item.name}}.jsonl\""))
            .first?.location?.line == 10)
    }

    @Test func aModelWithoutForcedToolChoiceIsNamedAtValidateTime() throws {
        let llama = try JobLoader.load(text: job(output: "schema: {type: object}", model: "meta.llama3-70b-instruct-v1:0"),
                                       path: "job.yaml")
        #expect(llama.warnings.map(\.description) == [
            "job.yaml:8:11: warning: output.schema forces a tool choice, and meta.llama3-70b-instruct-v1:0 is not known to "
                + "accept one (a forced tool choice works with Anthropic Claude 3 and later, Mistral Large, Amazon Nova): "
                + "its calls may fail with ValidationException"])
        let arn = try JobLoader.load(text: job(output: "schema: {type: object}",
                                               model: "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/x"),
                                     path: "job.yaml")
        #expect(arn.warnings.first?.message.contains("does not say which model it is") == true)
    }
}
