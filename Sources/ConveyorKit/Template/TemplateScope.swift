/// Which variables a template may use where it appears in a job. A variable outside the scope
/// is a compile error, as an unknown one is.
///
/// - Per-item templates (`prompt`, `system`, `messages`, `output`) may use `job.*`, `run.*`,
///   `vars.*` and the item's variables; `record.*` only when the inputs have records (jsonl,
///   csv), and `input`, `item.key` and `item.name` only when items have an input.
/// - Per-run templates (`report`) may use only `job.name`, `run.id`, `run.date` and `vars.*`.
///
/// Record field names are not known offline (a csv header is read with the data), so any
/// `record.FIELD` passes compilation where records exist; a missing field is a render error.
public struct TemplateScope: Sendable, Equatable {
    /// `item.id`, `item.index`, and with the two below the other per-item variables.
    public var items: Bool
    /// `input`, `item.key`, `item.name`: the item has an input object (form A inputs, or a
    /// form B prompt with `input:`).
    public var input: Bool
    /// `record.FIELD`: inputs are jsonl or csv.
    public var records: Bool
    /// Names defined under `vars:` and by `--var`.
    public var vars: Set<String>
    /// `inputs.as: document | image`: the input is attached as that block, so `{{input}}` has
    /// no text to give.
    public var attachment: AttachmentKind? = nil

    public init(items: Bool = true, input: Bool = true, records: Bool = false, vars: Set<String> = []) {
        self.items = items
        self.input = input
        self.records = records
        self.vars = vars
    }

    /// A template rendered once per item.
    public static func perItem(input: Bool = true, records: Bool = false, vars: Set<String> = []) -> TemplateScope {
        TemplateScope(items: true, input: input, records: records, vars: vars)
    }

    /// A template rendered once per run, such as the report key.
    public static func perRun(vars: Set<String> = []) -> TemplateScope {
        TemplateScope(items: false, input: false, records: false, vars: vars)
    }

    public func allows(_ variable: TemplateVariable) -> Bool {
        switch variable {
        case .jobName, .runID, .runDate: return true
        case .vars(let name): return vars.contains(name)
        case .itemID, .itemIndex: return items
        case .input: return items && input && attachment == nil
        case .itemKey, .itemName: return items && input
        case .record: return items && records
        }
    }

    /// What a message lists as usable here.
    var usableNames: [String] {
        var names = TemplateVariable.fixed.filter(allows).map(\.description)
        if items && records { names.insert("record.FIELD", at: names.firstIndex(of: "item.id") ?? 0) }
        names += vars.sorted().map { TemplateVariable.vars($0).description }
        return names
    }

    /// Names a misspelling may be corrected to: every usable name, and for a path whose first
    /// member looks like `record`, the same path under `record`.
    func suggestion(for path: [String]) -> String? {
        var candidates = TemplateVariable.fixed.filter(allows).map(\.description)
        candidates += vars.sorted().map { TemplateVariable.vars($0).description }
        if items && records && path.count > 1 {
            candidates.append(TemplateVariable.record(Array(path.dropFirst())).description)
        }
        let written = TemplateVariable.spell(path).lowercased()
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = levenshtein(written, candidate.lowercased(), limit: 2)
            if distance <= 2, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        return best?.name
    }
}

/// The result of checking a variable's name: the variable, or what is wrong and at which member
/// of the path (0 for the first name).
enum TemplateNameCheck: Equatable {
    case variable(TemplateVariable)
    case error(String, member: Int)
}

extension TemplateScope {
    /// The fixed variables under each namespace (`item`, `job`, `run`), by member name.
    private static let members: [String: [(String, TemplateVariable)]] = {
        var table: [String: [(String, TemplateVariable)]] = [:]
        for variable in TemplateVariable.fixed {
            let parts = variable.description.split(separator: ".").map(String.init)
            if parts.count == 2 { table[parts[0], default: []].append((parts[1], variable)) }
        }
        return table
    }()

    /// Resolves a path such as `["item", "name"]` against the names every template knows, then
    /// against this scope.
    func check(_ path: [String]) -> TemplateNameCheck {
        switch known(path) {
        case .error(let message, let member): return .error(message, member: member)
        case .variable(let variable):
            if allows(variable) { return .variable(variable) }
            // An undefined var is pointed at by its name; anything else by its first member.
            if case .vars = variable { return .error(unavailable(variable, path), member: 1) }
            return .error(unavailable(variable, path), member: 0)
        }
    }

    private func known(_ path: [String]) -> TemplateNameCheck {
        let head = path[0]
        let written = TemplateVariable.spell(path)
        if head == "input" {
            if path.count > 1 { return .error("input has no members: write {{input}}", member: 1) }
            return .variable(.input)
        }
        if head == "record" {
            if path.count == 1 {
                return .error("record needs a field name: {{record.FIELD}}, or {{record[\"Field Name\"]}}", member: 0)
            }
            return .variable(.record(Array(path.dropFirst())))
        }
        if head == "vars" {
            if path.count == 1 { return .error("vars needs a name: {{vars.NAME}}\(definedVars)", member: 0) }
            if path.count > 2 {
                return .error("\(TemplateVariable.spell(Array(path.prefix(2)))) is text and has no members", member: 2)
            }
            return .variable(.vars(path[1]))
        }
        if let members = Self.members[head] {
            let list = members.map { head + "." + $0.0 }
            if path.count == 1 {
                return .error("\(head) needs a member: \(Self.either(list))", member: 0)
            }
            guard let variable = members.first(where: { $0.0 == path[1] })?.1 else {
                return .error("unknown variable \(written)\(didYouMean(path)) (\(head) has \(Self.and(members.map(\.0))))",
                              member: 1)
            }
            if path.count > 2 { return .error("\(variable) is text and has no members", member: 2) }
            return .variable(variable)
        }
        return .error("unknown variable \(written)\(didYouMean(path)) (usable here: \(usableNames.joined(separator: ", ")))",
                      member: 0)
    }

    private func unavailable(_ variable: TemplateVariable, _ path: [String]) -> String {
        switch variable {
        case .vars(let name):
            return "\(variable) is not defined\(didYouMean(path))\(definedVars)"
                + (vars.isEmpty ? ": define it under vars: or pass --var \(name)=VALUE" : "")
        case _ where !items:
            return "\(variable) differs from item to item, and this template is rendered once per run: "
                + "it can use \(usableNames.joined(separator: ", "))"
        case .record:
            return "\(variable): record fields exist only for inputs with format jsonl or csv"
        case .input where input && attachment != nil:
            let kind = attachment!.rawValue
            return "{{input}} has no text: inputs.as is \(kind), so the input is attached to the request as a \(kind) "
                + "block; remove {{input}} and refer to the attached \(kind) in words, or set inputs.as: text"
        default:
            return "\(variable) is not available: this item has no input"
        }
    }

    private var definedVars: String {
        vars.isEmpty ? " (no vars are defined)" : " (defined: \(vars.sorted().joined(separator: ", ")))"
    }

    private func didYouMean(_ path: [String]) -> String {
        suggestion(for: path).map { "; did you mean \($0)?" } ?? ""
    }

    private static func either(_ items: [String]) -> String { list(items, "or") }
    private static func and(_ items: [String]) -> String { list(items, "and") }

    private static func list(_ items: [String], _ word: String) -> String {
        items.count < 2 ? items.joined() : items.dropLast().joined(separator: ", ") + " \(word) " + items[items.count - 1]
    }
}

/// Edit distance between two short strings, counted in characters; stops early and returns
/// `limit + 1` once the distance must exceed `limit`.
func levenshtein(_ a: String, _ b: String, limit: Int) -> Int {
    let a = Array(a), b = Array(b)
    if abs(a.count - b.count) > limit { return limit + 1 }
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        var rowMinimum = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            rowMinimum = min(rowMinimum, current[j])
        }
        if rowMinimum > limit { return limit + 1 }
        swap(&previous, &current)
    }
    return previous[b.count]
}
