import AWSCore
import Foundation

/// The JSON Schema of `output.schema`: the subset Conveyor checks answers against. The schema
/// itself is checked when the job is loaded (``JobReader/checkOutputSchema(_:)``), so an answer
/// is validated against a schema known to use only these keywords, with values of the right kinds.
public struct OutputSchema: Sendable, Equatable {
    /// The keywords that constrain a value.
    public static let constraintKeywords = ["type", "properties", "required", "enum", "items", "minimum", "maximum",
                                            "minLength", "maxLength", "minItems", "maxItems", "additionalProperties"]
    /// Keywords that only describe (the model reads them; validation ignores them).
    public static let annotationKeywords = ["description", "title"]
    public static let typeNames = ["object", "array", "string", "integer", "number", "boolean", "null"]

    public var schema: JSONValue

    public init(_ schema: JSONValue) {
        self.schema = schema
    }

    /// Every way `value` fails the schema, each as `PATH: what was expected, what was found`, in
    /// document order; empty when it fits. Paths are JSONPath-like: `$`, `$.label`, `$.items[2].label`.
    public func violations(of value: JSONValue) -> [String] {
        var found: [String] = []
        Self.check(value, against: schema, path: "$", into: &found)
        return found
    }

    static func check(_ value: JSONValue, against schema: JSONValue, path: String, into found: inout [String]) {
        guard let rules = schema.objectValue else { return }
        if let types = typeList(rules["type"]), !types.contains(where: { matches(value, type: $0) }) {
            found.append("\(path): expected \(types.joined(separator: " or ")), found \(describe(value))")
            return  // the other keywords would only repeat the mismatch
        }
        if let options = rules["enum"]?.arrayValue, !options.contains(where: { equal($0, value) }) {
            let list = options.map { $0.stringValue ?? PrettyJSON.compact($0) }.joined(separator: ", ")
            found.append("\(path): expected one of \(list), found \(describe(value))")
        }
        switch value {
        case .object(let object):
            for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                found.append("\(path): missing the required property \"\(name)\"")
            }
            let properties = rules["properties"]?.objectValue ?? JSONObject()
            for (name, member) in object {
                let memberPath = Self.path(path, property: name)
                if let propertySchema = properties[name] {
                    check(member, against: propertySchema, path: memberPath, into: &found)
                } else if let additional = rules["additionalProperties"] {
                    if additional.boolValue == false {
                        found.append("\(path): unexpected property \"\(name)\" (additionalProperties is false; "
                            + "expected only \(properties.keys.joined(separator: ", ")))")
                    } else if additional.objectValue != nil {
                        check(member, against: additional, path: memberPath, into: &found)
                    }
                }
            }
        case .array(let elements):
            if let least = rules["minItems"]?.intValue, elements.count < least {
                found.append("\(path): expected at least \(least) item\(least == 1 ? "" : "s"), found \(elements.count)")
            }
            if let most = rules["maxItems"]?.intValue, elements.count > most {
                found.append("\(path): expected at most \(most) item\(most == 1 ? "" : "s"), found \(elements.count)")
            }
            if let itemSchema = rules["items"] {
                for (index, element) in elements.enumerated() {
                    check(element, against: itemSchema, path: "\(path)[\(index)]", into: &found)
                }
            }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let least = rules["minLength"]?.intValue, length < least {
                found.append("\(path): expected at least \(least) character\(least == 1 ? "" : "s"), found \(length)")
            }
            if let most = rules["maxLength"]?.intValue, length > most {
                found.append("\(path): expected at most \(most) character\(most == 1 ? "" : "s"), found \(length)")
            }
        case .integer, .double:
            let number = value.doubleValue ?? 0
            if let least = rules["minimum"]?.doubleValue, number < least {
                found.append("\(path): expected at least \(format(least)), found \(value.serializedString)")
            }
            if let most = rules["maximum"]?.doubleValue, number > most {
                found.append("\(path): expected at most \(format(most)), found \(value.serializedString)")
            }
        case .null, .bool:
            break
        }
    }

    static func typeList(_ type: JSONValue?) -> [String]? {
        switch type {
        case .string(let name)?: return [name]
        case .array(let names)?: return names.compactMap(\.stringValue)
        default: return nil
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
             ("integer", .integer), ("number", .integer), ("number", .double):
            return true
        case ("integer", .double(let d)):
            return d.isFinite && d == d.rounded()
        default:
            return false
        }
    }

    /// Numbers compare by value (1 and 1.0 are equal), everything else structurally.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.doubleValue, let y = b.doubleValue { return x == y }
        return a == b
    }

    static func path(_ base: String, property name: String) -> String {
        let plain = name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil
        return plain ? "\(base).\(name)" : "\(base)[\(PrettyJSON.compact(.string(name)))]"
    }

    static func describe(_ value: JSONValue) -> String {
        var text = PrettyJSON.compact(value)
        if text.count > 60 { text = String(text.prefix(57)) + "..." }
        switch value {
        case .object: return "an object \(text)"
        case .array: return "an array \(text)"
        case .string: return "string \(text)"
        case .integer: return "integer \(text)"
        case .double: return "number \(text)"
        case .bool: return "boolean \(text)"
        case .null: return "null"
        }
    }

    static func format(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }
}
