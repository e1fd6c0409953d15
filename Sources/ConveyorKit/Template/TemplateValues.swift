import AWSCore
import Foundation

/// What a template renders from: the run's values, and the item's (none for a per-run template
/// such as the report key).
public struct TemplateValues: Sendable {
    public var run: Run
    public var item: Item?

    public init(run: Run, item: Item?) {
        self.run = run
        self.item = item
    }

    /// Values that stay the same for the whole run: build once, share between items.
    public struct Run: Sendable {
        public var jobName: String
        public var runID: String
        /// The run's start date, UTC, `YYYY-MM-DD`.
        public var runDate: String
        /// `vars:` with the `--var` overrides applied.
        public var vars: [String: String]

        public init(jobName: String, runID: String, runDate: String, vars: [String: String] = [:]) {
            self.jobName = jobName
            self.runID = runID
            self.runDate = runDate
            self.vars = vars
        }

        /// `runDate` from the run's start time, as a UTC calendar date.
        public init(jobName: String, runID: String, startedAt: Date, vars: [String: String] = [:]) {
            self.init(jobName: jobName, runID: runID, runDate: Self.utcDate(startedAt), vars: vars)
        }

        /// `YYYY-MM-DD` of a moment in UTC.
        public static func utcDate(_ date: Date) -> String { String(Timestamp.iso8601(date).prefix(10)) }
    }

    /// One item's values.
    public struct Item: Sendable {
        public var id: String
        public var index: Int
        /// The full key of the item's input; nil for an item without input.
        public var key: String?
        /// The last component of `key` without its extension; nil without a key.
        public var name: String?
        /// The item's text: the object's contents, or its jsonl line or csv row.
        public var input: String?
        /// The jsonl line or csv row the item came from.
        public var record: TemplateRecord?

        /// `name` follows from `key` (see ``name(ofKey:)``).
        public init(id: String, index: Int, key: String?, input: String? = nil, record: TemplateRecord? = nil) {
            self.id = id
            self.index = index
            self.key = key
            self.name = key.map(Self.name(ofKey:))
            self.input = input
            self.record = record
        }

        /// The last `/`-separated component of a key without its last extension:
        /// `tickets/2026/123.txt` → `123`, `a/b.tar.gz` → `b.tar`, `a/.env` → `.env`.
        public static func name(ofKey key: String) -> String {
            let last = key.lastIndex(of: "/").map { key[key.index(after: $0)...] } ?? key[...]
            guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return String(last) }
            return String(last[..<dot])
        }
    }
}

/// The fields of the record an item came from.
///
/// Rendering a field writes a string as it is; a number or a boolean as its JSON text (`42`,
/// `0.5`, `true`); an object or an array as compact JSON (`{"a":1,"b":[true,"é"]}`, non-ASCII
/// kept as it is). A `null` field is a render error, as a missing one is: strict, like every
/// variable, so a null never turns silently into `null` or nothing in a prompt or a key.
public enum TemplateRecord: Sendable, Equatable {
    /// A jsonl line's object; `record.a.b` reaches into nested objects.
    case json(JSONObject)
    /// A csv row, by header name.
    case fields([String: String])

    /// Appends the value at `path`, or returns what is wrong.
    func append(_ path: [String], to out: inout String) -> String? {
        switch self {
        case .fields(let fields):
            guard let value = fields[path[0]] else { return Self.missing(path, 0, fields.keys.sorted()) }
            if path.count > 1 { return "\(Self.spell(path, 1)) is text, so it has no field \"\(path[1])\"" }
            out += value
            return nil
        case .json(let object):
            guard var value = object[path[0]] else { return Self.missing(path, 0, object.keys) }
            for depth in 1..<path.count {
                guard case .object(let inner) = value else {
                    return "\(Self.spell(path, depth)) is not an object, so it has no field \"\(path[depth])\""
                }
                guard let member = inner[path[depth]] else { return Self.missing(path, depth, inner.keys) }
                value = member
            }
            switch value {
            case .null: return "\(Self.spell(path, path.count)) is null"
            case .string(let s): out += s
            case .integer(let i): out += String(i)
            default: TemplateJSONText.write(value, to: &out)
            }
            return nil
        }
    }

    /// `record` and the first `count` members of `path`, as a template writes them.
    private static func spell(_ path: [String], _ count: Int) -> String {
        TemplateVariable.record(Array(path.prefix(count))).description
    }

    /// `path[depth]` is missing from the object at `path[..<depth]`, which has `names`.
    private static func missing(_ path: [String], _ depth: Int, _ names: [String]) -> String {
        let shown = names.prefix(20).map { "\"\($0)\"" }.joined(separator: ", ") + (names.count > 20 ? ", …" : "")
        return "\(spell(path, depth)) has no field \"\(path[depth])\" (\(names.isEmpty ? "it has none" : "it has " + shown))"
    }
}

/// JSON text for a record value that is not a string: compact separators, strings escaped as
/// JSON requires and no further (non-ASCII stays as it is, which reads better in a prompt and
/// costs fewer tokens than `\u` escapes). Numbers are written as ``JSONValue/serialized()``
/// writes them.
enum TemplateJSONText {
    static func write(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .double: out += value.serializedString
        case .string(let s): writeString(s, to: &out)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += "," }
                write(element, to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, member) in object.enumerated() {
                if i > 0 { out += "," }
                writeString(member.key, to: &out)
                out += ":"
                write(member.value, to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(c)
            }
        }
        out += "\""
    }
}
