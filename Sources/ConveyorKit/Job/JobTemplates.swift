import Foundation

/// Every template of a job, compiled once when the job is loaded (so `validate` reports their
/// mistakes at the variable's own line and column) and rendered per item by the runner.
public struct JobTemplates: Sendable, Equatable {
    public var system: Template?
    public var prompt: Template?
    public var messages: [(role: MessageSpec.Role, text: Template)]
    public var output: OutputKeyTemplate
    public var report: OutputKeyTemplate?
    /// `output.collect` (format jsonl), with run-wide variables only.
    public var collect: OutputKeyTemplate?
    /// The input locations, with run-wide variables only.
    public var inputLocations: [Template]
    /// Form B items' prompts and outputs, by id.
    public var items: [String: (prompt: Template, output: OutputKeyTemplate?)]

    public static func == (a: JobTemplates, b: JobTemplates) -> Bool {
        a.system == b.system && a.prompt == b.prompt && a.output == b.output && a.report == b.report
            && a.inputLocations == b.inputLocations && a.messages.map(\.text) == b.messages.map(\.text)
            && a.messages.map(\.role) == b.messages.map(\.role) && a.items.keys == b.items.keys
    }
}

extension LocatedText {
    /// Maps template positions to places in the job file.
    var locator: TemplateLocator {
        let copy = self
        return TemplateLocator { position in copy.locate(position.offset) }
    }
}

extension JobReader {
    /// Compiles the job's templates, adding their diagnostics.
    func compileTemplates(system: TextSource?, prompt: TextSource?, messages: [MessageSpec]?, inputs: InputsSpec?,
                          prompts: [PromptItemSpec], output: OutputSpec?, report: LocatedText?,
                          vars: Set<String>) -> JobTemplates? {
        let records = inputs.map { $0.format != .text } ?? false
        var itemScope = TemplateScope.perItem(input: true, records: records, vars: vars)
        itemScope.attachment = inputs?.attachAs
        func compile(_ text: LocatedText, _ scope: TemplateScope) -> Template? {
            do {
                return try Template(text.text, scope: scope, locator: text.locator)
            } catch {
                diagnostics += error.diagnostics
                return nil
            }
        }
        func compileKey(_ text: LocatedText, _ scope: TemplateScope) -> OutputKeyTemplate? {
            do {
                return try OutputKeyTemplate(text.text, scope: scope, locator: text.locator)
            } catch {
                diagnostics += error.diagnostics
                return nil
            }
        }
        var systemTemplate: Template?
        if case .inline(let text) = system { systemTemplate = compile(text, itemScope) }
        var promptTemplate: Template?
        if case .inline(let text) = prompt { promptTemplate = compile(text, itemScope) }
        let messageTemplates = (messages ?? []).compactMap { m in compile(m.text, itemScope).map { (m.role, $0) } }
        let inputTemplates = (inputs?.locations ?? []).compactMap { compile($0, .perRun(vars: vars)) }
        var items: [String: (Template, OutputKeyTemplate?)] = [:]
        for item in prompts {
            let scope = TemplateScope.perItem(input: item.input != nil, records: false, vars: vars)
            guard let p = compile(item.prompt, scope) else { continue }
            items[item.id] = (p, item.output.flatMap { compileKey($0, scope) })
        }
        guard let output else { return nil }
        // the shared output key renders for inputs and for form B items without their own output
        let outputScope = itemScope
        guard let outputTemplate = compileKey(output.location, outputScope) else { return nil }
        let singleItem = inputs == nil && prompts.count == 1
        let usesSharedOutput = inputs != nil || prompts.contains { $0.output == nil }
        if usesSharedOutput && !singleItem, let problem = outputTemplate.sameKeyError {
            diagnostics.append(problem)
        }
        let reportTemplate = report.flatMap { compileKey($0, .perRun(vars: vars)) }
        return JobTemplates(system: systemTemplate, prompt: promptTemplate, messages: messageTemplates,
                            output: outputTemplate, report: reportTemplate, inputLocations: inputTemplates, items: items)
    }
}
