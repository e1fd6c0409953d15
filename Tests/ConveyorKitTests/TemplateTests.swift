import ConveyorKit
import Testing

/// Parsing: what is a variable, what is text, and which texts do not compile.
@Suite struct TemplateParsingTests {
    typealias F = TemplateFixture

    @Test func textWithoutVariablesIsConstant() throws {
        let template = try Template("You summarise support tickets.", scope: F.scope)
        #expect(template.constantText == "You summarise support tickets.")
        #expect(template.variables.isEmpty)
        #expect(!template.isPerItem)
        #expect(try template.render(F.values()) == "You summarise support tickets.")
        #expect(try Template("", scope: F.scope).constantText == "")
    }

    @Test func blanksInsideTheBracesAreAllowed() throws {
        let template = try Template("[{{ input }}|{{\tjob.name\t}}|{{input   }}]", scope: F.scope)
        #expect(try template.render(F.values()) == "[Printer on fire|ticket-summaries|Printer on fire]")
        #expect(template.variables == [.input, .jobName])
    }

    @Test func adjacentVariablesRenderBackToBack() throws {
        let template = try Template("{{item.id}}{{item.index}}{{run.date}}", scope: F.scope)
        #expect(try template.render(F.values()) == "12372026-11-30")
        #expect(template.constantText == nil)
    }

    @Test func singleBracesAndClosingBracesAloneAreText() throws {
        let text = #"Reply as JSON: {"label": {"name": "x"}} or } or { or }} then {{input}} }}"#
        let template = try Template(text, scope: F.scope)
        #expect(try template.render(F.values())
            == #"Reply as JSON: {"label": {"name": "x"}} or } or { or }} then Printer on fire }}"#)
        #expect(try Template("{ {{input}} }", scope: F.scope).render(F.values()) == "{ Printer on fire }")
    }

    @Test func backslashEscapesTheOpeningBraces() throws {
        let template = try Template(#"Write \{{name}} for a slot; \{{ input }} stays"#, scope: F.scope)
        #expect(template.constantText == "Write {{name}} for a slot; {{ input }} stays")
        // A pair of backslashes writes one and leaves the variable; three write `\{{`.
        #expect(try Template(#"\\{{input}}"#, scope: F.scope).render(F.values()) == #"\Printer on fire"#)
        #expect(try Template(#"\\\{{input}}"#, scope: F.scope).constantText == #"\{{input}}"#)
        // Other backslashes are text.
        #expect(try Template(#"C:\temp\n \} \{ {{input}}\"#, scope: F.scope).render(F.values())
            == #"C:\temp\n \} \{ Printer on fire\"#)
    }

    @Test func unterminatedVariableIsAnErrorAtItsBraces() {
        let d = F.diagnostics("Hello {{input")
        #expect(d.count == 1)
        #expect(F.places(d) == ["1:7"])
        #expect(d[0].message.contains("'{{' is not closed"))
        #expect(d[0].message.contains(#"\{{"#))
        #expect(d[0].description.hasPrefix("t:1:7: error: "))
    }

    @Test func aVariableMayNotSpanLines() {
        let d = F.diagnostics("Hello {{input\n}} and {{ item.\nname}}")
        #expect(F.places(d) == ["1:7", "2:8"])
        #expect(d.allSatisfy { $0.message.contains("not closed") })
    }

    @Test func emptyVariableIsAnError() {
        for text in ["{{}}", "x {{ }}", "{{\t}}"] {
            let d = F.diagnostics(text)
            #expect(d.count == 1, "\(text)")
            #expect(d.first?.message.hasPrefix("empty variable") == true, "\(text)")
        }
        #expect(F.places(F.diagnostics("ab {{  }}")) == ["1:4"])
    }

    @Test func nestedBracesAreAnError() {
        let triple = F.diagnostics("{{{input}}}")
        #expect(triple.count == 1)
        #expect(triple.first?.message.contains("braces do not nest") == true)
        let nested = F.diagnostics("a {{ {{input}} }} b")
        #expect(F.places(nested) == ["1:3"])
        #expect(nested.first?.message.contains("braces do not nest") == true)
        #expect(F.diagnostics("{{input {{item.id}}").first?.message.contains("braces do not nest") == true)
    }

    @Test func anythingButANameBetweenTheBracesIsAnError() {
        let space = F.diagnostics("{{ in put }}")
        #expect(space.first?.message == #"expected '}}' after 'in', found 'p'; write \{{ for a literal '{{'"#)
        #expect(F.diagnostics("{{input!}}").first?.message.contains("found '!'") == true)
        #expect(F.diagnostics("{{9lives}}").first?.message.contains("expected a variable name") == true)
        #expect(F.diagnostics("{{item.}}").first?.message.contains("expected a name after '.'") == true)
        #expect(F.diagnostics("{{item. name}}").first?.message.contains("found a space") == true)
        #expect(F.diagnostics("{{input\u{7}}}").first?.message.contains("found U+0007") == true)
    }

    @Test func everyErrorIsReportedInOrder() {
        let d = F.diagnostics("{{inptu}} and {{}} and {{item.nmae}} and {{ok\nthen {{vars.tema}} {{input}}")
        #expect(F.places(d) == ["1:3", "1:15", "1:31", "1:42", "2:13"])
        #expect(d.allSatisfy { $0.severity == .error && $0.location?.file == "t" })
    }

    @Test func aLineOfUnclosedBracesStaysLinear() {
        // Each `{{` is reported; the search for a `}}` does not start over for each of them.
        let d = F.diagnostics("x " + String(repeating: "{{ a ", count: 20_000) + "\n{{input}}")
        #expect(d.count == 20_000)
        #expect(F.places(Array(d.suffix(1))) == ["1:99998"])
    }

    @Test func bracketsTakeAnyFieldName() throws {
        let template = try Template(
            #"{{record["Customer Name"]}}|{{ record['a.b'] }}|{{record["say \"hi\" \\ "]}}|{{record.x["y z"]}}"#,
            scope: F.scope)
        #expect(template.variables == [
            .record(["Customer Name"]), .record(["a.b"]), .record([#"say "hi" \ "#]), .record(["x", "y z"]),
        ])
        // A variable spells itself back dotted where it can, bracketed where it must.
        #expect(template.variables.map(\.description) == [
            #"record["Customer Name"]"#, #"record["a.b"]"#, #"record["say \"hi\" \\ "]"#, #"record.x["y z"]"#,
        ])
        #expect(try Template(#"{{ item["name"] }}"#, scope: F.scope).variables == [.itemName])
    }

    @Test func badBracketsAreErrors() {
        #expect(F.diagnostics("{{record[name]}}").first?.message.contains("expected a quoted name after '['") == true)
        #expect(F.diagnostics(#"{{record[""]}}"#).first?.message.contains("empty name") == true)
        #expect(F.diagnostics(#"{{record["a"}}"#).first?.message.contains("expected ']'") == true)
        #expect(F.diagnostics("{{record[\"a}}\nx").first?.message.contains("runs to the end of the line") == true)
        #expect(F.diagnostics(#"{{record["a\n"]}}"#).first?.message.contains("backslash escapes only") == true)
    }

    @Test func variablesAreListedOnceInOrder() throws {
        let template = try Template("{{vars.team}} {{input}} {{vars.team}} {{record.a}}", scope: F.scope)
        #expect(template.variables == [.vars("team"), .input, .record(["a"])])
        #expect(template.isPerItem)
        #expect(try !Template("{{job.name}}/{{run.id}}/{{run.date}}/{{vars.team}}", scope: F.scope).isPerItem)
        #expect(try Template("{{item.index}}", scope: F.scope).isPerItem)
    }
}

/// Names: which are known, which the scope allows, and what the messages suggest.
@Suite struct TemplateNameTests {
    typealias F = TemplateFixture

    @Test func unknownMemberSuggestsTheNearestName() {
        let d = F.diagnostics("Ticket {{item.nmae}}")
        #expect(d.count == 1)
        #expect(d[0].message == "unknown variable item.nmae; did you mean item.name? (item has id, key, name and index)")
        #expect(F.places(d) == ["1:15"])  // at `nmae`
    }

    @Test func unknownNamesSuggestWithinTwoEdits() {
        let cases = [
            "inptu": "input", "Input": "input", "itme.name": "item.name", "run.data": "run.date",
            "job.nam": "job.name", "var.team": "vars.team", "records.title": "record.title", "item.idx": "item.id",
        ]
        for (written, expected) in cases {
            let message = F.diagnostics("{{\(written)}}").first?.message ?? ""
            #expect(message.contains("did you mean \(expected)?"), "\(written): \(message)")
        }
    }

    @Test func farOffNamesGetNoSuggestionButTheList() {
        let message = F.diagnostics("{{summary}}").first?.message ?? ""
        #expect(!message.contains("did you mean"))
        #expect(message == "unknown variable summary (usable here: input, record.FIELD, item.id, item.key, item.name, "
            + "item.index, job.name, run.id, run.date, vars.team)")
    }

    @Test func namespacesNeedTheirMembers() {
        #expect(F.diagnostics("{{item}}").first?.message
            == "item needs a member: item.id, item.key, item.name or item.index")
        #expect(F.diagnostics("{{job}}").first?.message == "job needs a member: job.name")
        #expect(F.diagnostics("{{record}}").first?.message.hasPrefix("record needs a field name") == true)
        #expect(F.diagnostics("{{vars}}").first?.message == "vars needs a name: {{vars.NAME}} (defined: team)")
        #expect(F.diagnostics("{{input.text}}").first?.message == "input has no members: write {{input}}")
        #expect(F.places(F.diagnostics("{{input.text}}")) == ["1:9"])
        #expect(F.diagnostics("{{item.name.first}}").first?.message == "item.name is text and has no members")
        #expect(F.diagnostics("{{vars.team.x}}").first?.message == "vars.team is text and has no members")
    }

    @Test func varsMustBeDefined() throws {
        _ = try Template("{{vars.team}}", scope: F.scope)
        let d = F.diagnostics("for {{ vars.tema }}")
        #expect(d.first?.message == "vars.tema is not defined; did you mean vars.team? (defined: team)")
        #expect(F.places(d) == ["1:13"])  // at `tema`
        let none = F.diagnostics("{{vars.team}}", scope: .perItem())
        #expect(none.first?.message
            == "vars.team is not defined (no vars are defined): define it under vars: or pass --var team=VALUE")
        // A --var override adds to the scope like vars: does.
        _ = try Template("{{vars.region}}", scope: .perItem(vars: ["team", "region"]))
    }

    @Test func recordFieldsNeedRecordInputs() throws {
        let d = F.diagnostics("Title: {{record.title}}", scope: .perItem(records: false))
        #expect(d.first?.message == "record.title: record fields exist only for inputs with format jsonl or csv")
        #expect(F.places(d) == ["1:10"])
        // With records, any field compiles: the names are known only with the data.
        let template = try Template("{{record.title}} {{record.anything_at-all}}", scope: .perItem(records: true))
        #expect(template.variables == [.record(["title"]), .record(["anything_at-all"])])
    }

    @Test func perRunTemplatesUseOnlyRunVariables() throws {
        let scope = TemplateScope.perRun(vars: ["team"])
        _ = try Template("reports/{{job.name}}/{{run.date}}/{{run.id}}-{{vars.team}}.json", scope: scope)
        for name in ["input", "item.id", "item.name", "record.x"] {
            let message = F.diagnostics("{{\(name)}}", scope: scope).first?.message ?? ""
            #expect(message == "\(name) differs from item to item, and this template is rendered once per run: "
                + "it can use job.name, run.id, run.date, vars.team", "\(name)")
        }
    }

    @Test func itemsWithoutInputHaveNoInputKeyOrName() throws {
        let scope = TemplateScope.perItem(input: false)
        _ = try Template("{{item.id}} {{item.index}} {{job.name}}", scope: scope)
        for name in ["input", "item.key", "item.name"] {
            #expect(F.diagnostics("{{\(name)}}", scope: scope).first?.message
                == "\(name) is not available: this item has no input")
        }
    }
}

/// Where diagnostics point: the job file's line and column, in Unicode scalars.
@Suite struct TemplateLocationTests {
    typealias F = TemplateFixture

    @Test func blockScalarErrorsPointIntoTheFile() {
        // 7 prompt: |
        // 8   Summarise this ticket
        // 9   from {{item.nmae}} for {{vars.team}}:
        // 10    {{input}} {{inptu}}        (two more spaces: kept in the text)
        let text = "Summarise this ticket\nfrom {{item.nmae}} for {{vars.team}}:\n  {{input}} {{inptu}}\n"
        let locator = TemplateLocator.lines(file: "jobs/x.yaml", line: 8, column: 3, indentation: 2)
        let d = F.diagnostics(text, locator: locator)
        #expect(d.map(\.description) == [
            "jobs/x.yaml:9:15: error: unknown variable item.nmae; did you mean item.name? (item has id, key, name and index)",
            "jobs/x.yaml:10:17: error: unknown variable inptu; did you mean input? (usable here: input, record.FIELD, "
                + "item.id, item.key, item.name, item.index, job.name, run.id, run.date, vars.team)",
        ])
    }

    @Test func singleLineScalarErrorsPointIntoTheLine() {
        // 5 prompt: "Review {{inptu}} now {{"
        let locator = TemplateLocator.lines(file: "job.yaml", line: 5, column: 10, indentation: 0)
        #expect(F.places(F.diagnostics("Review {{inptu}} now {{", locator: locator)) == ["5:19", "5:31"])
    }

    @Test func columnsCountCharactersNotBytes() {
        // "Résumé 日本語 " is 11 scalars and 17 bytes.
        let text = "R\u{E9}sum\u{E9} 日本語 {{inptu}}"
        let locator = TemplateLocator.lines(file: "job.yaml", line: 5, column: 10, indentation: 0)
        #expect(F.places(F.diagnostics(text, locator: locator)) == ["5:23"])
        // Like libYAML, a column counts Unicode scalars: a combining accent is one more.
        #expect(F.places(F.diagnostics("e\u{301} {{inptu}}")) == ["1:6"])
        // An emoji outside the BMP is one scalar.
        #expect(F.places(F.diagnostics("🙂 {{inptu}}")) == ["1:5"])
    }

    @Test func laterLinesStartAtTheIndentation() {
        let locator = TemplateLocator.lines(file: "f", line: 3, column: 20, indentation: 4)
        #expect(locator.location(of: TemplatePosition(offset: 0, line: 0, column: 0)).description == "f:3:20")
        #expect(locator.location(of: TemplatePosition(offset: 9, line: 1, column: 0)).description == "f:4:5")
        #expect(locator.location(of: TemplatePosition(offset: 15, line: 2, column: 3)).description == "f:5:8")
    }

    @Test func aCustomLocatorGetsTheOffsetToo() {
        // A folded or escaped scalar maps offsets its own way; here: everything one line, +100.
        let locator = TemplateLocator { SourceLocation(file: "j", line: 1, column: 100 + $0.offset) }
        let d = F.diagnostics("ab\ncd {{inptu}}", locator: locator)
        #expect(F.places(d) == ["1:108"])
    }
}
