/// One variable a template refers to.
public enum TemplateVariable: Sendable, Hashable, CustomStringConvertible {
    /// `{{input}}`: the item's text.
    case input
    /// `{{record.FIELD}}`, `{{record["Field Name"]}}`, `{{record.a.b}}`: the path of member
    /// names into a jsonl record or a csv row (csv rows have only one level).
    case record([String])
    case itemID
    /// The item's full input key.
    case itemKey
    /// The last component of the item's key without its extension.
    case itemName
    case itemIndex
    case jobName
    case runID
    /// The run's start date, UTC, `YYYY-MM-DD`.
    case runDate
    /// `{{vars.NAME}}`: a value from `vars:` or `--var NAME=VALUE`.
    case vars(String)

    /// True for a variable whose value differs from item to item.
    public var isPerItem: Bool {
        switch self {
        case .input, .record, .itemID, .itemKey, .itemName, .itemIndex: return true
        case .jobName, .runID, .runDate, .vars: return false
        }
    }

    /// The variable as a template writes it, without the braces: `item.name`,
    /// `record["Customer Name"]`.
    public var description: String {
        switch self {
        case .input: return "input"
        case .record(let path): return Self.spell(["record"] + path)
        case .itemID: return "item.id"
        case .itemKey: return "item.key"
        case .itemName: return "item.name"
        case .itemIndex: return "item.index"
        case .jobName: return "job.name"
        case .runID: return "run.id"
        case .runDate: return "run.date"
        case .vars(let name): return Self.spell(["vars", name])
        }
    }

    /// The variables with fixed names, in the order messages list them.
    static let fixed: [TemplateVariable] = [
        .input, .itemID, .itemKey, .itemName, .itemIndex, .jobName, .runID, .runDate,
    ]

    /// Dotted where every member is an identifier, bracketed where it is not.
    static func spell(_ path: [String]) -> String {
        var text = path[0]
        for member in path.dropFirst() {
            if isIdentifier(member) {
                text += "." + member
            } else {
                text += "[\"" + member.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\"]"
            }
        }
        return text
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || (c >= "0" && c <= "9") || c == "-"
    }

    static func isIdentifier(_ s: String) -> Bool {
        var scalars = s.unicodeScalars.makeIterator()
        guard let first = scalars.next(), isIdentifierStart(first) else { return false }
        while let c = scalars.next() {
            if !isIdentifierContinue(c) { return false }
        }
        return true
    }
}
