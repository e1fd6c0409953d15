/// Where an item's output (or a run's report) goes: a URI template whose store part is written
/// out and whose key part is a ``Template``, checked so that no item can write outside it.
///
/// - `s3://BUCKET/KEY`: the bucket is literal (a variable there is an error); the key is the
///   template.
/// - `file:///abs/path`, `/abs/path` or a relative path: the local store. The directory written
///   out before the first variable (up to its last `/`) is the store's root, chosen by the user
///   and not checked; the rest is the key.
///
/// The key may not leave its bucket or root, at compile time for its literal text and again
/// after every render:
/// - no `..` or `.` segment, no empty segment (`a//b`, a trailing `/`), no leading `/`;
/// - no control characters (U+0000–U+001F, U+007F–U+009F);
/// - at most 1024 bytes of UTF-8 (S3's limit).
///
/// Values may contain `/` (`{{record.path}}` may build a hierarchy; `item.key` always does),
/// and the rendered key is checked as a whole. `item.name` never contains `/`.
public struct OutputKeyTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Store: Sendable, Hashable {
        case s3(bucket: String)
        /// The literal directory the key is under: `""` (the working directory), `out/`,
        /// `/abs/path/`.
        case local(root: String)
    }

    /// The URI template, as written.
    public let text: String
    public let store: Store
    /// The key part, below the bucket or root (its `text` is that part of the source).
    public let key: Template
    /// Where the template starts in the job file.
    public let location: SourceLocation

    public static let maxKeyBytes = 1024

    /// Compiles a URI template, or throws every problem in it.
    public init(
        _ text: String,
        scope: TemplateScope,
        locator: TemplateLocator = .text(named: "<template>")
    ) throws(DiagnosticsError) {
        let source = TemplateSource(text)
        var (pieces, problems) = TemplateParser.parse(source, scope: scope)
        let atoms = KeyAtom.atoms(pieces)
        var store = Store.local(root: "")
        var keyAtoms: ArraySlice<KeyAtom> = []
        switch Self.split(atoms) {
        case .failure(let problem):
            problems.append(problem)
        case .success(let split):
            store = split.store
            keyAtoms = split.key
            problems += Self.keyProblems(keyAtoms, store: store)
        }
        guard problems.isEmpty else { throw source.diagnostics(problems, locator) }
        self.text = text
        self.store = store
        let keyText = String(String.UnicodeScalarView(source.scalars[(keyAtoms.first?.offset ?? source.scalars.count)...]))
        self.key = Template(text: keyText, pieces: KeyAtom.pieces(keyAtoms), source: source, locator: locator)
        location = locator.location(of: source.position(0))
    }

    /// True when the key uses a per-item variable; see ``sameKeyError``.
    public var isPerItem: Bool { key.isPerItem }

    /// For an output key with no per-item variable, the error to report when the job has (or
    /// may have) more than one item: every item would overwrite the same object. Nil when the
    /// key is per item.
    public var sameKeyError: Diagnostic? {
        guard !isPerItem else { return nil }
        return .error(at: location, "every item would be written to \(text): the key needs a variable "
            + "that differs per item, such as {{item.name}}, {{item.id}} or {{item.index}}")
    }

    public var description: String { text }

    /// Renders the key and checks it, for one item (or for the run, without an item).
    public func render(_ values: TemplateValues) throws(TemplateRenderError) -> OutputLocation {
        let rendered = try key.render(values)
        if let problem = Self.keyProblem(rendered) {
            let shown = rendered.utf8.count > 200 ? String(rendered.prefix(200)) + "…" : rendered
            throw TemplateRenderError(message: "the output key \(String(reflecting: shown)) \(problem)",
                                      itemID: values.item?.id, location: location)
        }
        return OutputLocation(store: store, key: rendered)
    }

    // MARK: - Compile-time checks

    private struct Split {
        var store: Store
        var key: ArraySlice<KeyAtom>
    }

    /// Separates the store (scheme and bucket, or root directory) from the key.
    private static func split(_ atoms: [KeyAtom]) -> Result<Split, TemplateProblem> {
        let literalEnd = atoms.firstIndex { $0.scalar == nil } ?? atoms.endIndex
        let prefix = KeyAtom.text(atoms[..<literalEnd])
        if prefix.hasPrefix("s3://") {
            let rest = atoms.dropFirst(5)
            guard let slash = rest.firstIndex(where: { $0.scalar == "/" }), slash < literalEnd else {
                if literalEnd < atoms.endIndex {
                    return .failure(TemplateProblem(message: "the bucket name must be written out: variables may "
                        + "appear only in the key, as in s3://bucket/{{run.date}}/", offset: atoms[literalEnd].offset))
                }
                return .failure(TemplateProblem(message: "expected a key after the bucket: s3://BUCKET/KEY", offset: 0))
            }
            guard slash > rest.startIndex else {
                return .failure(TemplateProblem(message: "expected a bucket name: s3://BUCKET/KEY", offset: 5))
            }
            return .success(Split(store: .s3(bucket: KeyAtom.text(rest[..<slash])), key: rest[(slash + 1)...]))
        }
        var path = atoms[...]
        if prefix.hasPrefix("file://") {
            path = atoms.dropFirst(7)
            guard path.first?.scalar == "/" else {
                return .failure(TemplateProblem(message: "a file URI takes an absolute path: file:///PATH", offset: 7))
            }
        } else if let separator = prefix.range(of: "://"), prefix[..<separator.lowerBound].allSatisfy(\.isLetter) {
            return .failure(TemplateProblem(message: "unsupported URI scheme \(prefix[..<separator.upperBound]) "
                + "(expected s3://, file:// or a path)", offset: 0))
        }
        // The root: the literal directory before the first variable.
        let rootEnd = path[..<literalEnd].lastIndex { $0.scalar == "/" }.map { $0 + 1 } ?? path.startIndex
        return .success(Split(store: .local(root: KeyAtom.text(path[..<rootEnd])), key: path[rootEnd...]))
    }

    /// The literal parts of a key that would make every rendered key unsafe.
    private static func keyProblems(_ key: ArraySlice<KeyAtom>, store: Store) -> [TemplateProblem] {
        guard let first = key.first, let last = key.last else {
            let message = if case .s3 = store { "the key is empty: expected s3://BUCKET/KEY" }
                else { "the path ends with '/': expected a file name after it" }
            return [TemplateProblem(message: message, offset: 0)]
        }
        var problems: [TemplateProblem] = []
        var bytes = 0
        for atom in key {
            guard let c = atom.scalar else { continue }
            bytes += UTF8.width(c)
            if isControl(c) {
                problems.append(TemplateProblem(message: "control character \(TemplateParser.describe(c)) in the key",
                                                offset: atom.offset))
            }
        }
        if bytes > maxKeyBytes {
            problems.append(TemplateProblem(message: "the key is longer than \(maxKeyBytes) bytes", offset: first.offset))
        }
        // Each segment, with the slash that ends it (none for the last).
        var start = key.startIndex
        for end in key.indices where key[end].scalar == "/" {
            let segment = key[start..<end]
            if segment.isEmpty {
                problems.append(TemplateProblem(message: start == key.startIndex
                    ? "the key starts with '/': the key is what follows the bucket or directory"
                    : "empty path segment ('//') in the key", offset: key[end].offset))
            } else if let problem = dotsProblem(segment) {
                problems.append(problem)
            }
            start = end + 1
        }
        if start == key.endIndex {
            problems.append(TemplateProblem(message: "the key ends with '/': expected a name after it", offset: last.offset))
        } else if let problem = dotsProblem(key[start...]) {
            problems.append(problem)
        }
        return problems
    }

    private static func dotsProblem(_ segment: ArraySlice<KeyAtom>) -> TemplateProblem? {
        guard let first = segment.first, segment.count <= 2, segment.allSatisfy({ $0.scalar == "." }) else { return nil }
        return TemplateProblem(message: "'\(KeyAtom.text(segment))' segment in the key: a key may not step out of "
            + "or stay in its directory; write the path out", offset: first.offset)
    }

    // MARK: - Render-time checks

    /// What makes a rendered key unsafe, or nil: one pass over its UTF-8.
    static func keyProblem(_ key: String) -> String? {
        let bytes = key.utf8
        if bytes.isEmpty { return "is empty" }
        if bytes.count > maxKeyBytes { return "is \(bytes.count) bytes long, over the limit of \(maxKeyBytes)" }
        if bytes.first == UInt8(ascii: "/") { return "starts with '/'" }
        var segmentLength = 0
        var dots = 0
        var previous: UInt8 = 0
        for b in bytes {
            if b < 0x20 || b == 0x7F || (previous == 0xC2 && b >= 0x80 && b <= 0x9F) {
                return "contains a control character"
            }
            previous = b
            if b == UInt8(ascii: "/") {
                if segmentLength == 0 { return "has an empty segment ('//')" }
                if dots == segmentLength, dots <= 2 { return "has a '\(String(repeating: ".", count: dots))' segment" }
                segmentLength = 0
                dots = 0
            } else {
                segmentLength += 1
                if b == UInt8(ascii: ".") { dots += 1 }
            }
        }
        if segmentLength == 0 { return "ends with '/'" }
        if dots == segmentLength, dots <= 2 { return "has a '\(String(repeating: ".", count: dots))' segment" }
        return nil
    }

    private static func isControl(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x20 || (0x7F...0x9F).contains(c.value)
    }
}

/// A rendered output key in its store.
public struct OutputLocation: Sendable, Hashable, CustomStringConvertible {
    public var store: OutputKeyTemplate.Store
    public var key: String

    public init(store: OutputKeyTemplate.Store, key: String) {
        self.store = store
        self.key = key
    }

    /// `s3://bucket/key`, or the local path (root and key).
    public var description: String {
        switch store {
        case .s3(let bucket): return "s3://\(bucket)/\(key)"
        case .local(let root): return root + key
        }
    }
}

/// One scalar of a URI template's literal text, or one variable, with its offset in the source:
/// the unit the store/key split and the key checks work on.
enum KeyAtom {
    case scalar(Unicode.Scalar, offset: Int)
    /// Nil for a variable with a problem, which still stands in its place.
    case variable(TemplateVariable?, offset: Int)

    var scalar: Unicode.Scalar? {
        if case .scalar(let c, _) = self { return c }
        return nil
    }

    var offset: Int {
        switch self {
        case .scalar(_, let offset), .variable(_, let offset): return offset
        }
    }

    static func atoms(_ pieces: [TemplatePiece]) -> [KeyAtom] {
        var atoms: [KeyAtom] = []
        for piece in pieces {
            switch piece {
            case .literal(let text, let offset, let exact):
                for (k, c) in text.unicodeScalars.enumerated() { atoms.append(.scalar(c, offset: exact ? offset + k : offset)) }
            case .variable(let variable, let offset):
                atoms.append(.variable(variable, offset: offset))
            case .invalid(let offset):
                atoms.append(.variable(nil, offset: offset))
            }
        }
        return atoms
    }

    static func pieces(_ atoms: ArraySlice<KeyAtom>) -> [TemplatePiece] {
        atoms.map { atom in
            switch atom {
            case .scalar(let c, let offset): return .literal(String(c), offset: offset, exact: true)
            case .variable(let variable?, let offset): return .variable(variable, offset: offset)
            case .variable(nil, let offset): return .invalid(offset: offset)
            }
        }
    }

    /// The literal text of atoms that are all scalars.
    static func text(_ atoms: ArraySlice<KeyAtom>) -> String {
        String(String.UnicodeScalarView(atoms.compactMap(\.scalar)))
    }
}
