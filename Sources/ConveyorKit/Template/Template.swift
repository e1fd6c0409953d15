/// A prompt or key template: compiled once from its text, checked against the variables its
/// place in the job allows, then rendered once per item.
///
/// ```swift
/// let prompt = try Template("Summarise {{ item.name }}:\n{{input}}",
///                           scope: .perItem(vars: ["team"]),
///                           locator: .lines(file: "jobs/x.yaml", line: 8, column: 3, indentation: 2))
/// let run = TemplateValues.Run(jobName: "tickets", runID: "20261130T020000Z-3f9a", startedAt: Date())
/// let item = TemplateValues.Item(id: "123", index: 0, key: "tickets/123.txt", input: "Printer on fire")
/// let text = try prompt.render(TemplateValues(run: run, item: item))
/// ```
///
/// ## Syntax
///
/// - `{{name}}` is a variable; blanks (spaces, tabs) may surround the name: `{{ input }}`. A
///   variable stays on one line.
/// - A name is a path: an identifier (`[A-Za-z_][A-Za-z0-9_-]*`), then members, each `.identifier`
///   or a quoted name in brackets, `["Customer Name"]` or `['Customer Name']`, in which a
///   backslash escapes the quote or a backslash. Brackets take any name, which is how a csv
///   header with spaces or dots is written: `{{record["Customer Name"]}}`; a dotted path reaches
///   into nested jsonl objects: `{{record.customer.email}}`.
/// - The names: `input`, `record.FIELD`, `item.id`, `item.key`, `item.name`, `item.index`,
///   `job.name`, `run.id`, `run.date`, `vars.NAME` (see ``TemplateVariable``). Every one is
///   strict: a name that is unknown, or not allowed by the ``TemplateScope``, is a compile
///   error with a did-you-mean; a value missing when rendering is a render error, never an
///   empty string.
/// - `\{{` writes a literal `{{`. Only backslashes right before `{{` are special: `\\{{input}}`
///   writes one backslash then the input, `\\\{{` writes `\{{`. Every other backslash, a single
///   `{` or `}`, and `}}` on its own are ordinary text.
/// - Errors: `{{` not closed on its line, `{{}}`, a `{` inside the braces (`{{{input}}}`), and
///   anything else than a name between the braces. Every error in the text is reported, each a
///   ``Diagnostic`` at the `{{` (or, for a name that is wrong, at that name) in the job file,
///   through the ``TemplateLocator``.
///
/// Rendering walks precompiled segments: no parsing, no regular expressions, one allocation
/// for the result in the common case.
public struct Template: Sendable, Equatable, CustomStringConvertible {
    /// The source text, as written.
    public let text: String
    /// The variables used, each once, in order of first use.
    public let variables: [TemplateVariable]
    private let segments: [Segment]
    private let literalByteCount: Int
    private let usesInput: Bool

    private enum Segment: Sendable, Equatable {
        case literal(String)
        /// Where the variable is written, for render errors.
        case variable(TemplateVariable, SourceLocation)
    }

    /// Compiles `text`, or throws every problem in it.
    public init(
        _ text: String,
        scope: TemplateScope,
        locator: TemplateLocator = .text(named: "<template>")
    ) throws(DiagnosticsError) {
        let source = TemplateSource(text)
        let (pieces, problems) = TemplateParser.parse(source, scope: scope)
        guard problems.isEmpty else { throw source.diagnostics(problems, locator) }
        self.init(text: text, pieces: pieces, source: source, locator: locator)
    }

    /// A template from pieces already parsed and checked.
    init(text: String, pieces: [TemplatePiece], source: TemplateSource, locator: TemplateLocator) {
        var segments: [Segment] = []
        var variables: [TemplateVariable] = []
        var literal = ""
        for piece in pieces {
            switch piece {
            case .literal(let text, _, _):
                literal += text
            case .variable(let variable, let offset):
                if !literal.isEmpty { segments.append(.literal(literal)) }
                literal = ""
                segments.append(.variable(variable, locator.location(of: source.position(offset))))
                if !variables.contains(variable) { variables.append(variable) }
            case .invalid:
                break  // reported: the template is never built
            }
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.text = text
        self.segments = segments
        self.variables = variables
        literalByteCount = segments.reduce(0) {
            if case .literal(let s) = $1 { return $0 + s.utf8.count }
            return $0
        }
        usesInput = variables.contains(.input)
    }

    /// True when the template uses a variable that differs from item to item (`input`,
    /// `record.*`, `item.*`): false means every item renders the same text.
    public var isPerItem: Bool { variables.contains { $0.isPerItem } }

    /// The text the template always renders, when it uses no variable.
    public var constantText: String? {
        switch segments.count {
        case 0: return ""
        case 1: if case .literal(let s) = segments[0] { return s } else { return nil }
        default: return nil
        }
    }

    public var description: String { text }

    public func render(_ values: TemplateValues) throws(TemplateRenderError) -> String {
        var out = ""
        out.reserveCapacity(literalByteCount + (usesInput ? values.item?.input?.utf8.count ?? 0 : 0)
            + 32 * variables.count)
        for segment in segments {
            switch segment {
            case .literal(let text):
                out += text
            case .variable(let variable, let location):
                if let problem = values.append(variable, to: &out) {
                    throw TemplateRenderError(message: problem, itemID: values.item?.id, location: location)
                }
            }
        }
        return out
    }

    /// The text with each literal run through `literal`, each variable `known` gives a value for
    /// rendered as that value, and every other variable written as `wildcard`: for patterns that
    /// must match every rendering, such as an IAM resource (`reports/{{job.name}}/{{run.id}}.json`
    /// → `reports/tickets/*.json`).
    public func pattern(known: (TemplateVariable) -> String?, wildcard: String,
                        literal: (String) -> String = { $0 }) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let text): out += literal(text)
            case .variable(let variable, _): out += known(variable).map(literal) ?? wildcard
            }
        }
        return out
    }
}

/// A template that could not be rendered for an item: a record field missing or null, a value
/// not given, or an output key that is not safe.
public struct TemplateRenderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The item being rendered; nil for a per-run template.
    public var itemID: String?
    /// Where the template (or the variable that failed) is written in the job file.
    public var location: SourceLocation?

    public init(message: String, itemID: String?, location: SourceLocation?) {
        self.message = message
        self.itemID = itemID
        self.location = location
    }

    /// `jobs/x.yaml:14:3: item 123: record has no field "name" (it has "id", "text")`
    public var description: String {
        (location.map { "\($0): " } ?? "") + (itemID.map { "item \($0): " } ?? "") + message
    }
}

extension TemplateValues {
    /// Appends a variable's value, or returns what is wrong.
    fileprivate func append(_ variable: TemplateVariable, to out: inout String) -> String? {
        let value: String?
        switch variable {
        case .jobName: value = run.jobName
        case .runID: value = run.runID
        case .runDate: value = run.runDate
        case .vars(let name): value = run.vars[name]
        case .itemID: value = item?.id
        case .itemIndex: value = item.map { String($0.index) }
        case .itemKey: value = item?.key
        case .itemName: value = item?.name
        case .input: value = item?.input
        case .record(let path):
            guard let record = item?.record else { return missing(variable) }
            return record.append(path, to: &out)
        }
        guard let value else { return missing(variable) }
        out += value
        return nil
    }

    private func missing(_ variable: TemplateVariable) -> String {
        if item == nil, variable.isPerItem { return "\(variable) needs an item, and this template is rendered for none" }
        switch variable {
        case .record: return "\(variable) has no value: the item has no record"
        case .input, .itemKey, .itemName: return "\(variable) has no value: the item has no input"
        default: return "\(variable) has no value"
        }
    }
}
