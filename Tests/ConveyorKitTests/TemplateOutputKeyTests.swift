import ConveyorKit
import Testing

/// Output key templates: the store split, keys that cannot leave their bucket, and one key
/// per item.
@Suite struct TemplateOutputKeyTests {
    typealias F = TemplateFixture

    static let summaries = "s3://acme-support/summaries/{{run.date}}/{{item.name}}.json"

    @Test func s3URIsSplitIntoALiteralBucketAndAKeyTemplate() throws {
        let output = try OutputKeyTemplate(Self.summaries, scope: F.scope)
        #expect(output.store == .s3(bucket: "acme-support"))
        #expect(output.key.text == "summaries/{{run.date}}/{{item.name}}.json")
        #expect(output.key.variables == [.runDate, .itemName])
        let location = try output.render(F.values())
        #expect(location.key == "summaries/2026-11-30/123.json")
        #expect(location.description == "s3://acme-support/summaries/2026-11-30/123.json")
        #expect(output.description == Self.summaries)
    }

    @Test func aVariableInTheBucketIsAnErrorAtIt() {
        // 20 output:
        // 21   s3: s3://{{vars.team}}-out/x/{{item.id}}
        let locator = TemplateLocator.lines(file: "job.yaml", line: 21, column: 7, indentation: 0)
        let d = F.keyDiagnostics("s3://{{vars.team}}-out/x/{{item.id}}", locator: locator)
        #expect(d.map(\.description) == [
            "job.yaml:21:12: error: the bucket name must be written out: variables may appear only in the key, "
                + "as in s3://bucket/{{run.date}}/",
        ])
        #expect(F.keyDiagnostics("s3://acme{{vars.team}}/x").first?.message.hasPrefix("the bucket name") == true)
    }

    @Test func bucketAndKeyMustBothBeThere() {
        #expect(F.keyDiagnostics("s3://acme").first?.message == "expected a key after the bucket: s3://BUCKET/KEY")
        #expect(F.keyDiagnostics("s3:///key").first?.message == "expected a bucket name: s3://BUCKET/KEY")
        #expect(F.keyDiagnostics("s3://acme/").first?.message == "the key is empty: expected s3://BUCKET/KEY")
        #expect(F.keyDiagnostics("s3://acme/out/").first?.message == "the key ends with '/': expected a name after it")
    }

    @Test func literalKeyPartsMayNotEscapeTheBucket() {
        let d = F.keyDiagnostics("s3://b/a/../{{item.id}}/./x//y/z\u{7}.json")
        #expect(F.places(d) == ["1:10", "1:25", "1:29", "1:33"])
        #expect(d.map(\.message) == [
            "'..' segment in the key: a key may not step out of or stay in its directory; write the path out",
            "'.' segment in the key: a key may not step out of or stay in its directory; write the path out",
            "empty path segment ('//') in the key",
            "control character U+0007 in the key",
        ])
        #expect(F.keyDiagnostics("s3://b//{{item.id}}").first?.message.hasPrefix("the key starts with '/'") == true)
        // Dots inside a name, or beside a variable, are fine here (the rendered key is checked).
        #expect(F.keyDiagnostics("s3://b/.../a..b/.{{item.id}}/{{item.id}}../v1.2.json").isEmpty)
    }

    @Test func aLiteralKeyOverTheLimitIsAnError() {
        let long = String(repeating: "k", count: 1025)
        #expect(F.keyDiagnostics("s3://b/" + long).first?.message == "the key is longer than 1024 bytes")
        #expect(F.keyDiagnostics("s3://b/" + String(repeating: "k", count: 1024)).isEmpty)
    }

    @Test func aBadVariableDoesNotHideOrInventKeyProblems() {
        // The unknown name still stands in its place: no spurious "starts with '/'" or "//".
        let d = F.keyDiagnostics("s3://b/{{itme.name}}/x/../{{vars.nope}}")
        #expect(d.map(\.message) == [
            "unknown variable itme.name; did you mean item.name? (usable here: input, record.FIELD, item.id, "
                + "item.key, item.name, item.index, job.name, run.id, run.date, vars.team)",
            "'..' segment in the key: a key may not step out of or stay in its directory; write the path out",
            "vars.nope is not defined (defined: team)",
        ])
    }

    @Test func renderedKeysAreCheckedAgain() throws {
        let output = try OutputKeyTemplate("s3://b/out/{{record.category}}/{{item.id}}.json", scope: F.scope)
        func problem(_ category: String) -> String? {
            do {
                _ = try output.render(F.values(id: "t-9", record: .fields(["category": category])))
                return nil
            } catch {
                return error.description
            }
        }
        // Values may add levels.
        #expect(problem("billing/eu") == nil)
        #expect(problem("..") == #"<template>:1:1: item t-9: the output key "out/../t-9.json" has a '..' segment"#)
        #expect(problem(".")?.hasSuffix("has a '.' segment") == true)
        #expect(problem("a/../../x")?.hasSuffix("has a '..' segment") == true)
        #expect(problem("")?.hasSuffix("has an empty segment ('//')") == true)
        #expect(problem("a//b")?.hasSuffix("has an empty segment ('//')") == true)
        #expect(problem("line\nbreak") == #"<template>:1:1: item t-9: the output key "out/line\nbreak/t-9.json" "#
            + "contains a control character")
        #expect(problem("c1\u{85}")?.hasSuffix("contains a control character") == true)
        #expect(problem(String(repeating: "é", count: 510))?.hasSuffix("is 1033 bytes long, over the limit of 1024")
            == true)
        #expect(problem("...") == nil)
        #expect(problem("..a") == nil)
    }

    @Test func valuesAtTheEdgesOfTheKeyAreChecked() throws {
        let whole = try OutputKeyTemplate("s3://b/{{record.path}}", scope: F.scope)
        func problem(_ path: String) -> String? {
            do {
                _ = try whole.render(F.values(record: .fields(["path": path])))
                return nil
            } catch {
                return error.message
            }
        }
        #expect(problem("/etc/passwd") == #"the output key "/etc/passwd" starts with '/'"#)
        #expect(problem("a/b/") == #"the output key "a/b/" ends with '/'"#)
        #expect(problem("") == #"the output key "" is empty"#)
        #expect(problem("..") == #"the output key ".." has a '..' segment"#)
        #expect(problem("a/b.json") == nil)
        // item.key keeps its slashes; item.name never has any.
        let mirror = try OutputKeyTemplate("s3://b/mirror/{{item.key}}.out", scope: F.scope)
        #expect(try mirror.render(F.values()).key == "mirror/tickets/2026/123.txt.out")
    }

    @Test func aKeyWithoutPerItemVariablesIsTheSameForEveryItem() throws {
        let shared = try OutputKeyTemplate("s3://b/{{job.name}}/{{run.date}}/out.json", scope: F.scope)
        #expect(!shared.isPerItem)
        #expect(shared.sameKeyError?.description == "<template>:1:1: error: every item would be written to "
            + "s3://b/{{job.name}}/{{run.date}}/out.json: the key needs a variable that differs per item, such as "
            + "{{item.name}}, {{item.id}} or {{item.index}}")
        for perItem in ["{{item.id}}", "{{item.index}}", "{{item.name}}", "{{item.key}}", "{{record.id}}", "{{input}}"] {
            let output = try OutputKeyTemplate("s3://b/\(perItem).json", scope: F.scope)
            #expect(output.isPerItem, "\(perItem)")
            #expect(output.sameKeyError == nil)
        }
    }

    @Test func reportKeysAreRenderedOncePerRun() throws {
        let report = try OutputKeyTemplate("s3://acme-support/reports/{{job.name}}/{{run.id}}.json", scope: .perRun())
        #expect(try report.render(TemplateValues(run: F.run, item: nil)).description
            == "s3://acme-support/reports/ticket-summaries/20261130T020000Z-3f9a.json")
        #expect(F.keyDiagnostics("s3://b/reports/{{item.id}}.json", scope: .perRun()).first?.message.hasPrefix(
            "item.id differs from item to item, and this template is rendered once per run") == true)
    }

    @Test func localPathsSplitAtTheLastLiteralDirectory() throws {
        let cases: [(String, String, String)] = [
            ("file:///srv/out/{{run.date}}/{{item.name}}.json", "/srv/out/", "2026-11-30/123.json"),
            ("out/{{item.name}}.json", "out/", "123.json"),
            ("./out/x-{{item.id}}.txt", "./out/", "x-123.txt"),
            ("../shared/{{item.name}}", "../shared/", "123"),
            ("/tmp/conveyor/{{item.id}}/r.json", "/tmp/conveyor/", "123/r.json"),
            ("{{item.name}}.json", "", "123.json"),
            ("reports/latest.json", "reports/", "latest.json"),
        ]
        for (uri, root, key) in cases {
            let output = try OutputKeyTemplate(uri, scope: F.scope)
            #expect(output.store == .local(root: root), "\(uri)")
            let location = try output.render(F.values())
            #expect(location.key == key, "\(uri)")
            #expect(location.description == root + key, "\(uri)")
            #expect(root + output.key.text == uri.replacingOccurrences(of: "file://", with: ""), "\(uri)")
        }
    }

    @Test func localKeysFollowTheSameRules() throws {
        #expect(F.keyDiagnostics("out/{{item.id}}/../x").first?.message.hasPrefix("'..' segment in the key") == true)
        #expect(F.keyDiagnostics("out/{{item.id}}//x").first?.message == "empty path segment ('//') in the key")
        #expect(F.keyDiagnostics("out/").first?.message == "the path ends with '/': expected a file name after it")
        let output = try OutputKeyTemplate("out/{{record.name}}.json", scope: F.scope)
        #expect(throws: TemplateRenderError.self) {
            try output.render(F.values(record: .fields(["name": "../../etc/x"])))
        }
    }

    @Test func otherURIsAreRefused() {
        #expect(F.places(F.keyDiagnostics("file://host/srv/x")) == ["1:8"])
        #expect(F.keyDiagnostics("file://host/srv/x").first?.message == "a file URI takes an absolute path: file:///PATH")
        #expect(F.keyDiagnostics("https://example.com/{{item.id}}").first?.message
            == "unsupported URI scheme https:// (expected s3://, file:// or a path)")
    }
}

extension TemplateFixture {
    /// The diagnostics compiling an output key template gives, empty when it compiles.
    static func keyDiagnostics(
        _ text: String,
        scope: TemplateScope = scope,
        locator: TemplateLocator = .text(named: "<template>")
    ) -> [Diagnostic] {
        do {
            _ = try OutputKeyTemplate(text, scope: scope, locator: locator)
            return []
        } catch {
            return error.diagnostics
        }
    }
}
