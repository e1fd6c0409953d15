import AWSCore
import ConveyorKit
import Foundation
import Testing

/// Rendering: every variable's value, record fields, and the render errors that name the item.
@Suite struct TemplateRenderTests {
    typealias F = TemplateFixture

    static let jsonRecord = TemplateRecord.json([
        "title": "Printer on fire",
        "count": 42,
        "ratio": 0.5,
        "whole": 2.0,
        "urgent": true,
        "customer": ["name": "Zoë", "tags": ["vip", 1, false, nil], "quote": "say \"hi\"\n"],
        "missing": nil,
    ])

    @Test func rendersEveryVariable() throws {
        let text = "{{input}}|{{record.title}}|{{item.id}}|{{item.key}}|{{item.name}}|{{item.index}}|"
            + "{{job.name}}|{{run.id}}|{{run.date}}|{{vars.team}}"
        let template = try Template(text, scope: F.scope)
        #expect(try template.render(F.values(record: Self.jsonRecord)) == "Printer on fire|Printer on fire|123|"
            + "tickets/2026/123.txt|123|7|ticket-summaries|20261130T020000Z-3f9a|2026-11-30|support")
    }

    @Test func jsonRecordValuesRenderAsTheirJSONText() throws {
        let template = try Template(
            "{{record.count}} {{record.ratio}} {{record.whole}} {{record.urgent}} {{record.customer.name}}",
            scope: F.scope)
        #expect(try template.render(F.values(record: Self.jsonRecord)) == "42 0.5 2.0 true Zoë")
        // Objects and arrays: compact JSON, non-ASCII as it is, strings escaped as JSON needs.
        let object = try Template("{{record.customer}}", scope: F.scope).render(F.values(record: Self.jsonRecord))
        #expect(object == #"{"name":"Zoë","tags":["vip",1,false,null],"quote":"say \"hi\"\n"}"#)
        #expect(try JSONValue.parse(Data(object.utf8)) == Self.jsonRecord.json?["customer"])
        let array = try Template("{{record.customer.tags}}", scope: F.scope).render(F.values(record: Self.jsonRecord))
        #expect(array == #"["vip",1,false,null]"#)
    }

    @Test func nullFieldIsARenderError() throws {
        let template = try Template("{{record.missing}}", scope: F.scope)
        let error = F.renderError(template, F.values(record: Self.jsonRecord))
        #expect(error?.message == "record.missing is null")
        #expect(error?.itemID == "123")
    }

    @Test func missingFieldIsARenderErrorNamingFieldAndItem() throws {
        let locator = TemplateLocator.lines(file: "jobs/x.yaml", line: 12, column: 9, indentation: 2)
        let template = try Template(#"Ticket: {{ record["Title"] }}"#, scope: F.scope, locator: locator)
        let error = F.renderError(template, F.values(id: "tickets-9", record: .fields(["title": "x", "body": "y"])))
        #expect(error?.description
            == #"jobs/x.yaml:12:17: item tickets-9: record has no field "Title" (it has "body", "title")"#)
        // Nested: the message names the object that lacks the field, and what it has.
        let nested = try Template("{{record.customer.email}}", scope: F.scope)
        #expect(F.renderError(nested, F.values(record: Self.jsonRecord))?.message
            == #"record.customer has no field "email" (it has "name", "tags", "quote")"#)
        let throughText = try Template("{{record.title.first}}", scope: F.scope)
        #expect(F.renderError(throughText, F.values(record: Self.jsonRecord))?.message
            == #"record.title is not an object, so it has no field "first""#)
    }

    @Test func csvFieldsRenderByHeaderName() throws {
        let template = try Template(#"{{record["Customer Name"]}} <{{record.email}}>"#, scope: F.scope)
        let row = TemplateRecord.fields(["Customer Name": "Ada Lovelace", "email": "ada@example.com"])
        #expect(try template.render(F.values(record: row)) == "Ada Lovelace <ada@example.com>")
        let nested = try Template("{{record.email.domain}}", scope: F.scope)
        #expect(F.renderError(nested, F.values(record: row))?.message
            == #"record.email is text, so it has no field "domain""#)
    }

    @Test func valuesTheItemLacksAreRenderErrors() throws {
        let record = try Template("{{record.title}}", scope: F.scope)
        #expect(F.renderError(record, F.values(record: nil))?.description
            == "<template>:1:1: item 123: record.title has no value: the item has no record")
        let input = try Template("{{input}}", scope: F.scope)
        #expect(F.renderError(input, F.values(key: nil, input: nil))?.message
            == "input has no value: the item has no input")
        let name = try Template("{{item.name}}", scope: F.scope)
        #expect(F.renderError(name, F.values(key: nil))?.message == "item.name has no value: the item has no input")
        let team = try Template("{{vars.team}}", scope: F.scope)
        let noVars = TemplateValues(run: .init(jobName: "j", runID: "r", runDate: "d"), item: nil)
        #expect(F.renderError(team, noVars)?.description == "<template>:1:1: vars.team has no value")
    }

    @Test func perRunTemplatesRenderWithoutAnItem() throws {
        let template = try Template("reports/{{job.name}}/{{run.id}}.json", scope: .perRun())
        #expect(try template.render(TemplateValues(run: F.run, item: nil))
            == "reports/ticket-summaries/20261130T020000Z-3f9a.json")
        // A per-item template given no item says so (the scope would have refused it for a report).
        let perItem = try Template("{{item.id}}", scope: F.scope)
        #expect(F.renderError(perItem, TemplateValues(run: F.run, item: nil))?.message
            == "item.id needs an item, and this template is rendered for none")
    }

    @Test func itemNameIsTheLastComponentWithoutItsExtension() {
        let cases = [
            "tickets/2026/123.txt": "123", "a/b.tar.gz": "b.tar", "a/.env": ".env", "README": "README",
            "dir/noext": "noext", "x/y.": "y", "trailing/": "", "": "", "a.b/c": "c",
        ]
        for (key, name) in cases {
            #expect(TemplateValues.Item.name(ofKey: key) == name, "\(key)")
            #expect(TemplateValues.Item(id: "1", index: 0, key: key).name == name)
        }
        #expect(TemplateValues.Item(id: "q3-review", index: 0, key: nil).name == nil)
    }

    @Test func runDateIsTheUTCDateOfTheStart() {
        // 2026-11-30T23:30:00Z is already Dec 1 east of UTC, still Nov 30 in UTC.
        let start = Date(timeIntervalSince1970: 1_796_081_400)
        #expect(TemplateValues.Run.utcDate(start) == "2026-11-30")
        #expect(TemplateValues.Run.utcDate(Date(timeIntervalSince1970: 0)) == "1970-01-01")
        #expect(TemplateValues.Run(jobName: "j", runID: "r", startedAt: start).runDate == "2026-11-30")
    }

    @Test func rendersConcurrentlyFromManyTasks() async throws {
        let template = try Template("{{item.index}}:{{input}}", scope: F.scope)
        let rendered = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<64 {
                group.addTask { try template.render(F.values(index: i, input: "x")) }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(rendered.count == 64)
        #expect(rendered.contains("63:x"))
    }

    /// A sanity check that rendering is linear and cheap, not a benchmark: 100,000 renders of
    /// a typical 1 KB prompt, each with fresh item values (about 0.3 s in a debug build).
    @Test func renderingManyItemsIsNotPathological() throws {
        let template = try Template(
            "Summarise ticket {{item.id}} ({{item.name}}) for the {{vars.team}} team.\n"
                + "Title: {{record.title}}\n\n{{input}}\n\nAnswer in JSON: {\"label\": ...}",
            scope: F.scope)
        let record = TemplateRecord.fields(["title": "Printer on fire"])
        let input = String(repeating: "The printer is on fire. ", count: 40)
        var total = 0
        for i in 0..<100_000 {
            let values = F.values(id: String(i), key: "tickets/\(i).txt", input: input, record: record)
            total += try template.render(values).utf8.count
        }
        #expect(total > 100_000 * input.utf8.count)
    }
}

extension TemplateRecord {
    fileprivate var json: JSONValue? {
        if case .json(let object) = self { return .object(object) }
        return nil
    }
}
