import AWSCore
import Foundation
import Yams

extension JobReader {
    /// `output.schemaRetries`, `output.collect` and how they go with `output.format` and the model.
    func decodeStructuredOutput(_ o: Node, into output: inout OutputSpec, modelId: String?) {
        if let retries = int(value(o, "schemaRetries")) { output.schemaRetries = retries }
        output.collect = value(o, "collect").flatMap { located($0) }
        if let collect = output.collect { checkURI(collect, context: "output.collect", allowTemplates: true) }
        let schema = value(o, "schema")
        if output.format == .jsonl, let format = value(o, "format") {
            if schema == nil {
                error(format, "output.format jsonl collects the values that output.schema describes: add output.schema, or use format json")
            }
            if output.collect == nil {
                error(format, "output.format jsonl needs output.collect, where the values are collected: such as out/{{run.date}}/values.jsonl")
            }
        } else if let collect = value(o, "collect") {
            error(collect, "output.collect applies with output.format jsonl: set format: jsonl, or remove it")
        }
        if schema == nil, let retries = value(o, "schemaRetries") {
            error(retries, "output.schemaRetries applies with output.schema: add the schema, or remove it")
        }
        guard let schema, let modelId else { return }
        let known = "a forced tool choice works with \(StructuredOutput.supportingModels)"
        switch StructuredOutput.supportsForcedTool(modelId) {
        case true?:
            break
        case false?:
            warning(schema, "output.schema forces a tool choice, and \(modelId) is not known to accept one (\(known)): "
                + "its calls may fail with ValidationException")
        case nil:
            warning(schema, "output.schema forces a tool choice; the model id \(modelId) does not say which model it is "
                + "(\(known)): check that the model behind it does")
        }
    }

    /// The `output.collect` location: rendered once per run.
    func compileCollect(_ text: LocatedText, vars: Set<String>) -> OutputKeyTemplate? {
        do {
            return try OutputKeyTemplate(text.text, scope: .perRun(vars: vars), locator: text.locator)
        } catch {
            diagnostics += error.diagnostics
            return nil
        }
    }

    /// Checks `output.schema` itself: a JSON Schema describing an object, using only the keywords
    /// ``OutputSchema`` validates, each with a value of the right kind. An unsupported keyword is
    /// an error at its own line and column, never silently ignored.
    func checkOutputSchema(_ node: Node) {
        guard case .mapping = node else {
            return error(node, "output.schema must be a JSON Schema mapping, such as {type: object, properties: {...}}")
        }
        checkSchema(node, context: "output.schema")
        let type = value(node, "type")
        if type == nil || string(type) != "object" {
            error(type ?? node, "output.schema must describe an object (type: object): the answer is a tool call's input, "
                + "which Converse makes a JSON object; put a single value under a property, such as "
                + "{type: object, properties: {label: {enum: [a, b]}}, required: [label]}")
        }
    }

    func checkSchema(_ node: Node, context: String) {
        guard case .mapping(let mapping) = node else {
            return error(node, "\(context) must be a schema (a mapping such as {type: string}), found \(Self.describe(node))")
        }
        let known = OutputSchema.constraintKeywords + OutputSchema.annotationKeywords
        for (keyNode, child) in mapping {
            guard let key = keyNode.string else {
                error(keyNode, "keys in \(context) must be plain names")
                continue
            }
            let place = "\(context).\(key)"
            switch key {
            case "type":
                checkSchemaType(child, context: place)
            case "properties":
                guard case .mapping(let properties) = child else {
                    error(child, "\(place) must map property names to schemas, found \(Self.describe(child))")
                    continue
                }
                for (nameNode, propertySchema) in properties {
                    guard let name = nameNode.string else { continue }
                    checkSchema(propertySchema, context: "\(place).\(name)")
                }
            case "required":
                checkRequired(child, context: place, properties: value(node, "properties"))
            case "enum":
                checkEnum(child, context: place, type: value(node, "type"))
            case "items":
                checkSchema(child, context: place)
            case "additionalProperties":
                if case .scalar = child, ["true", "false"].contains(child.string ?? "") { continue }
                checkSchema(child, context: place)
            case "minimum", "maximum":
                if case .scalar(let s) = child, s.style == .plain, Double(s.string) != nil { continue }
                error(child, "\(place) must be a number, found \(Self.describe(child))")
            case "minLength", "maxLength", "minItems", "maxItems":
                if case .scalar(let s) = child, s.style == .plain, let n = Int(s.string), n >= 0 { continue }
                error(child, "\(place) must be a whole number, 0 or more, found \(Self.describe(child))")
            case "description", "title":
                if case .scalar = child, !Self.isNull(child) { continue }
                error(child, "\(place) must be text, found \(Self.describe(child))")
            default:
                var message = "'\(key)' is not supported in \(context): Conveyor checks answers against "
                    + OutputSchema.constraintKeywords.joined(separator: ", ")
                    + " (and reads \(OutputSchema.annotationKeywords.joined(separator: " and ")))"
                if let guess = Suggest.closest(key, among: known) {
                    message += "; did you mean '\(guess)'?"
                } else {
                    message += "; remove it, or check its rule after the run"
                }
                error(keyNode, message)
            }
        }
        for (low, high) in [("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems")] {
            checkRange(node, context: context, low: low, high: high)
        }
    }

    func checkSchemaType(_ node: Node, context: String) {
        let names: [Node]
        if case .sequence(let list) = node {
            if list.isEmpty { return error(node, "\(context) is an empty list: name at least one type") }
            names = Array(list)
        } else {
            names = [node]
        }
        for name in names {
            guard let text = string(name), OutputSchema.typeNames.contains(text) else {
                var message = "\(context) must be one of \(OutputSchema.typeNames.joined(separator: ", ")), "
                    + "found \(Self.describe(name))"
                if let text = string(name), let guess = Suggest.closest(text, among: OutputSchema.typeNames) {
                    message += "; did you mean '\(guess)'?"
                }
                error(name, message)
                continue
            }
        }
    }

    func checkRequired(_ node: Node, context: String, properties: Node?) {
        guard case .sequence(let list) = node else {
            return error(node, "\(context) must be a list of property names, found \(Self.describe(node))")
        }
        var declared: Set<String>?
        if let properties, case .mapping(let mapping) = properties { declared = Set(mapping.keys.compactMap(\.string)) }
        var seen = Set<String>()
        for item in list {
            guard let name = string(item) else {
                error(item, "\(context) must list property names, found \(Self.describe(item))")
                continue
            }
            if !seen.insert(name).inserted { error(item, "\(context) names '\(name)' twice") }
            if let declared, !declared.contains(name) {
                var message = "\(context) names '\(name)', which is not among the properties"
                if let guess = Suggest.closest(name, among: declared.sorted()) { message += "; did you mean '\(guess)'?" }
                error(item, message)
            }
        }
    }

    func checkEnum(_ node: Node, context: String, type: Node?) {
        guard case .sequence(let list) = node, !list.isEmpty else {
            return error(node, "\(context) must be a non-empty list of the allowed values, found \(Self.describe(node))")
        }
        let types = type.map { json($0) }.flatMap(OutputSchema.typeList)
        for item in list {
            let allowed = json(item)
            if let types, !types.contains(where: { OutputSchema.matches(allowed, type: $0) }) {
                error(item, "\(context): \(OutputSchema.describe(allowed)) is not of the schema's type "
                    + "\(types.joined(separator: " or ")); quote it if it is meant as text")
            }
        }
    }

    /// `low` ≤ `high` when both are given.
    func checkRange(_ node: Node, context: String, low: String, high: String) {
        guard let lowNode = value(node, low), let highNode = value(node, high),
              let a = double(lowNode), let b = double(highNode), a > b
        else { return }
        error(highNode, "\(context).\(high) (\(string(highNode)!)) is below \(low) (\(string(lowNode)!)): no value could fit")
    }
}
