/// A run of a template as the parser finds it: literal text, or a checked variable.
enum TemplatePiece: Equatable {
    /// `offset` is where the text starts in the source. `exact` is true when the text is the
    /// source from there on, scalar for scalar (false for what an escape writes).
    case literal(String, offset: Int, exact: Bool)
    /// `offset` is that of the variable's `{{`.
    case variable(TemplateVariable, offset: Int)
    /// A variable with a problem (reported): kept so that what follows is checked in its
    /// place, as in an output key.
    case invalid(offset: Int)
}

/// An error found while compiling, at an offset (in Unicode scalars) into the source.
struct TemplateProblem: Error {
    var message: String
    var offset: Int
}

/// A template's source as Unicode scalars, with what turns an offset into a line and column.
struct TemplateSource {
    let scalars: [Unicode.Scalar]
    private let lineStarts: [Int]

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        var starts = [0]
        for (i, c) in scalars.enumerated() where c == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    func position(_ offset: Int) -> TemplatePosition {
        // The last line that starts at or before the offset.
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return TemplatePosition(offset: offset, line: low, column: offset - lineStarts[low])
    }

    func diagnostics(_ problems: [TemplateProblem], _ locator: TemplateLocator) -> DiagnosticsError {
        DiagnosticsError(problems.sorted { $0.offset < $1.offset }.map {
            Diagnostic.error(at: locator.location(of: position($0.offset)), $0.message)
        })
    }
}

/// Splits a template's source into literal text and variables, checking each variable's name
/// against a scope, and records every problem rather than stopping at the first.
struct TemplateParser {
    private let s: [Unicode.Scalar]
    private let scope: TemplateScope
    private var pieces: [TemplatePiece] = []
    private var problems: [TemplateProblem] = []
    private var literal = String.UnicodeScalarView()
    private var literalStart = 0
    private var i = 0
    /// The last stretch searched for `}}` in vain, up to the end of its line.
    private var unclosed = 0..<0

    private init(_ source: TemplateSource, scope: TemplateScope) {
        s = source.scalars
        self.scope = scope
    }

    /// The pieces of `source` and every problem found in it.
    static func parse(_ source: TemplateSource, scope: TemplateScope) -> (pieces: [TemplatePiece], problems: [TemplateProblem]) {
        var parser = TemplateParser(source, scope: scope)
        parser.parse()
        return (parser.pieces, parser.problems)
    }

    static let escapeHint = "write \\{{ for a literal '{{'"

    private mutating func parse() {
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                var j = i
                while j < s.count, s[j] == "\\" { j += 1 }
                if opens(at: j) {
                    escape(backslashes: j - i, braces: j)
                } else {
                    while i < j { appendLiteral() }
                }
            } else if c == "{", opens(at: i) {
                flushLiteral()
                parseVariable()
            } else {
                appendLiteral()
            }
        }
        flushLiteral()
    }

    private func opens(at j: Int) -> Bool {
        j + 1 < s.count && s[j] == "{" && s[j + 1] == "{"
    }

    private func closes(at j: Int) -> Bool {
        j + 1 < s.count && s[j] == "}" && s[j + 1] == "}"
    }

    private mutating func appendLiteral() {
        if literal.isEmpty { literalStart = i }
        literal.append(s[i])
        i += 1
    }

    private mutating func flushLiteral() {
        guard !literal.isEmpty else { return }
        pieces.append(.literal(String(literal), offset: literalStart, exact: true))
        literal = String.UnicodeScalarView()
    }

    /// Backslashes right before `{{`: each pair writes one backslash, and an odd one out makes
    /// the `{{` literal. Backslashes anywhere else are ordinary text.
    private mutating func escape(backslashes count: Int, braces: Int) {
        flushLiteral()
        var text = String(repeating: "\\", count: count / 2)
        if count % 2 == 1 {
            text += "{{"
            i = braces + 2
        } else {
            i = braces
        }
        if !text.isEmpty { pieces.append(.literal(text, offset: braces - count, exact: false)) }
    }

    // MARK: - Variables

    private static func blank(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" }

    /// Parses `{{ path }}` at `i`, where `path` is a name followed by `.name` and `["quoted"]`
    /// members; leaves `i` after the closing braces, or after the problem.
    private mutating func parseVariable() {
        let open = i
        var j = i + 2
        while j < s.count, Self.blank(s[j]) { j += 1 }
        guard j < s.count, TemplateVariable.isIdentifierStart(s[j]) else {
            if closes(at: j) {
                return fail("empty variable '{{}}': expected a name such as input or item.name; \(Self.escapeHint)",
                            open: open, at: j)
            }
            return fail(unexpected(at: j, expected: "a variable name after '{{'"), open: open, at: j)
        }
        let nameStart = j
        var path: [(name: String, offset: Int)] = [(identifier(&j), nameStart)]
        while j < s.count {
            if s[j] == "." {
                j += 1
                guard j < s.count, TemplateVariable.isIdentifierStart(s[j]) else {
                    return fail(unexpected(at: j, expected: "a name after '.'"), open: open, at: j)
                }
                let start = j
                path.append((identifier(&j), start))
            } else if s[j] == "[" {
                let start = j
                j += 1
                guard let name = quoted(&j) else { return fail(bracketProblem(at: j), open: open, at: j) }
                guard j < s.count, s[j] == "]" else {
                    return fail(unexpected(at: j, expected: "']' after the quoted name"), open: open, at: j)
                }
                j += 1
                path.append((name, start))
            } else {
                break
            }
        }
        while j < s.count, Self.blank(s[j]) { j += 1 }
        guard closes(at: j) else {
            let written = TemplateVariable.spell(path.map(\.name))
            return fail(unexpected(at: j, expected: "'}}' after '\(written)'"), open: open, at: j)
        }
        i = j + 2
        switch scope.check(path.map(\.name)) {
        case .variable(let variable):
            pieces.append(.variable(variable, offset: open))
        case .error(let message, let member):
            problems.append(TemplateProblem(message: message, offset: path[member].offset))
            pieces.append(.invalid(offset: open))
        }
    }

    private func identifier(_ j: inout Int) -> String {
        var name = String.UnicodeScalarView()
        while j < s.count, TemplateVariable.isIdentifierContinue(s[j]) {
            name.append(s[j])
            j += 1
        }
        return String(name)
    }

    /// A name in single or double quotes, where a backslash escapes the quote or a backslash;
    /// nil (with `j` at the problem) when there is none, it is empty, or it is not closed.
    private func quoted(_ j: inout Int) -> String? {
        guard j < s.count, s[j] == "\"" || s[j] == "'" else { return nil }
        let quote = s[j]
        var name = String.UnicodeScalarView()
        j += 1
        while j < s.count, s[j] != quote, s[j] != "\n" {
            if s[j] == "\\" {
                guard j + 1 < s.count, s[j + 1] == quote || s[j + 1] == "\\" else { return nil }
                j += 1
            }
            name.append(s[j])
            j += 1
        }
        guard j < s.count, s[j] == quote, !name.isEmpty else { return nil }
        j += 1
        return String(name)
    }

    private func bracketProblem(at j: Int) -> String {
        let example = "as in record[\"Customer Name\"]"
        guard j < s.count, s[j] != "\n" else { return "'{{' is not closed: the quoted name runs to the end of the line" }
        if s[j] == "\\" { return "in a quoted name, a backslash escapes only the quote or a backslash" }
        if s[j] == "\"" || s[j] == "'" { return "empty name in [...]: expected a quoted name, \(example)" }
        return "expected a quoted name after '[', \(example), found \(Self.describe(s[j]))"
    }

    /// The message for something other than `expected` at `j`: the end of the line and a `{`
    /// get messages of their own.
    private func unexpected(at j: Int, expected: String) -> String {
        if j >= s.count || s[j] == "\n" {
            return "'{{' is not closed: a variable ends with '}}' on its line; \(Self.escapeHint)"
        }
        if s[j] == "{" {
            return "'{' inside '{{...}}': braces do not nest; \(Self.escapeHint), or put a space between '{' and '{{'"
        }
        return "expected \(expected), found \(Self.describe(s[j])); \(Self.escapeHint)"
    }

    /// Records a problem at the variable's `{{` and resumes after the next `}}` on the same
    /// line, or, with none, just after the `{{`.
    private mutating func fail(_ message: String, open: Int, at j: Int) {
        problems.append(TemplateProblem(message: message, offset: open))
        pieces.append(.invalid(offset: open))
        i = open + 2
        // A line already searched to its end without `}}` is not searched again: a line full
        // of unclosed `{{` stays linear.
        var k = unclosed.contains(j) ? unclosed.upperBound : j
        while k < s.count, s[k] != "\n" {
            if closes(at: k) {
                i = k + 2
                return
            }
            k += 1
        }
        unclosed = (unclosed.contains(j) ? unclosed.lowerBound : j)..<k
    }

    /// A character for a message: quoted, or named when quoting would not show it.
    static func describe(_ c: Unicode.Scalar) -> String {
        switch c {
        case " ": return "a space"
        case "\t": return "a tab"
        case _ where c.value < 0x20 || (0x7F...0x9F).contains(c.value):
            let hex = String(c.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        default: return "'\(c)'"
        }
    }
}
