// libFuzzer harness: the template engine. The input is a template, optionally followed by a NUL
// byte and a jsonl line used as the item's record. The text is compiled as a prompt template and
// as an output URI template, located as a block scalar in a job file; whatever compiles is
// rendered. Built only by `make fuzz`; see docs/fuzzing.md.
import AWSCore
import Foundation
import FuzzSupport

@testable import ConveyorKit

private let run = TemplateValues.Run(jobName: "fuzz-job", runID: "20261130T020000Z-3f9a", runDate: "2026-11-30",
                                     vars: ["team": "support", "a": "x/y"])
private let locator = TemplateLocator.lines(file: "fuzz.yaml", line: 7, column: 11, indentation: 2)

@main
enum FuzzTemplate: FuzzHarness {
    static func fuzz(_ input: UnsafeBufferPointer<UInt8>) {
        let split = input.firstIndex(of: 0) ?? input.count
        let text = String(decoding: input[..<split], as: UTF8.self)
        var record: TemplateRecord?
        if split < input.count, case .object(let object)? = try? JSONValue.parse(Data(input[(split + 1)...])) {
            record = .json(object)
        }
        let item = TemplateValues.Item(id: "item-1", index: 3, key: "tickets/2026/123.txt", input: "Printer on fire",
                                       record: record)
        let values = TemplateValues(run: run, item: item)
        let scope = TemplateScope.perItem(records: true, vars: ["team", "a"])
        do {
            let template = try Template(text, scope: scope, locator: locator)
            _ = template.constantText
            _ = try? template.render(values)
            _ = try? template.render(TemplateValues(run: run, item: nil))
        } catch {
            _ = error.description
        }
        do {
            let output = try OutputKeyTemplate(text, scope: scope, locator: locator)
            _ = output.sameKeyError
            _ = try? output.render(values)
        } catch {
            _ = error.description
        }
    }
}
