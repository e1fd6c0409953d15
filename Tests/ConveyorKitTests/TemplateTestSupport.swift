import AWSCore
import ConveyorKit
import Foundation

/// Shared fixtures for the template tests.
enum TemplateFixture {
    /// A scope where everything is usable: records, input, and one var, `team`.
    static let scope = TemplateScope.perItem(records: true, vars: ["team"])

    static let run = TemplateValues.Run(
        jobName: "ticket-summaries", runID: "20261130T020000Z-3f9a", runDate: "2026-11-30", vars: ["team": "support"])

    static func values(
        id: String = "123",
        index: Int = 7,
        key: String? = "tickets/2026/123.txt",
        input: String? = "Printer on fire",
        record: TemplateRecord? = nil
    ) -> TemplateValues {
        TemplateValues(run: run, item: TemplateValues.Item(id: id, index: index, key: key, input: input, record: record))
    }

    /// The diagnostics compiling `text` gives, empty when it compiles.
    static func diagnostics(
        _ text: String,
        scope: TemplateScope = scope,
        locator: TemplateLocator = .text(named: "t")
    ) -> [Diagnostic] {
        do {
            _ = try Template(text, scope: scope, locator: locator)
            return []
        } catch {
            return error.diagnostics
        }
    }

    /// The `line:column` of each diagnostic, for compact expectations.
    static func places(_ diagnostics: [Diagnostic]) -> [String] {
        diagnostics.map { d in d.location.map { "\($0.line):\($0.column)" } ?? "-" }
    }

    /// The render error for `template` with `values`, nil when it renders.
    static func renderError(_ template: Template, _ values: TemplateValues) -> TemplateRenderError? {
        do {
            _ = try template.render(values)
            return nil
        } catch {
            return error
        }
    }
}
