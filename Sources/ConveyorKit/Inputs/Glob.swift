/// A glob pattern for S3 keys, compiled once and matched against the key *relative to the input
/// prefix* (for `s3://b/tickets/` and key `tickets/2026/1.txt`, the glob sees `2026/1.txt`).
///
/// Syntax (case-sensitive, matched per Unicode scalar):
/// - `*` any run of characters except `/` (so `*.txt` matches `a.txt`, not `2026/a.txt`);
/// - `**` any run of characters including `/`; as a whole path segment, `**/` also matches zero
///   directories: `**/*.txt` matches `a.txt` and `x/y/a.txt`, `a/**/b` matches `a/b` and `a/x/y/b`;
///   three or more stars in a row count as `**`;
/// - `?` exactly one character except `/`;
/// - `[abc]`, `[a-z]`, `[!x]` (or `[^x]`) one character in (or not in) the class; a class never
///   matches `/`; `]` first in a class (after any `!`) is a literal `]`, and `-` first or last is a
///   literal `-`;
/// - `\c` the character `c` literally, inside or outside a class.
///
/// An unterminated `[`, a reversed range (`[z-a]`), a trailing lone `\` and the empty pattern are
/// errors (``GlobError``). Matching runs a precompiled NFA over the key's scalars in
/// O(key length × pattern length) time (bit-parallel for patterns of up to 63 elements), with no
/// backtracking blow-up and no regex engine.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String
    private let program: Program
    /// When the pattern is a plain string: match by equality.
    private let literal: String?

    public var description: String { pattern }

    public init(_ pattern: String) throws(GlobError) {
        self.pattern = pattern
        let compiled = try GlobCompiler.compile(pattern)
        if compiled.allSatisfy({ if case .scalar = $0 { return true } else { return false } }) {
            var s = String.UnicodeScalarView()
            for case .scalar(let c) in compiled { s.append(c) }
            self.literal = String(s)
        } else {
            self.literal = nil
        }
        self.program = Program(compiled)
    }

    public static func == (a: Glob, b: Glob) -> Bool { a.pattern == b.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }

    /// Whether `key` (already relative to the input prefix) matches the whole pattern.
    public func matches(_ key: String) -> Bool {
        if let literal { return key == literal }
        // With only ASCII literals and stars, bytes match exactly as scalars do ('/' is ASCII and
        // never part of a multi-byte sequence), and bytes are cheaper to walk.
        if program.byteMode {
            return program.run(key.utf8.lazy.map { UInt32($0) })
        }
        return program.run(key.unicodeScalars.lazy.map(\.value))
    }

    /// The NFA: one state per element plus the accepting state. States are bits; a step moves the
    /// active states over one character, then adds what is reachable without consuming one.
    struct Program: Sendable {
        enum Kind: UInt8, Sendable { case scalar, any, set, star, globstar, skip }

        /// Plain data, so reading an op costs no reference counting.
        struct Op: Sendable {
            var kind: Kind
            /// The scalar, the class index, or the skip distance.
            var value: UInt32
        }

        let ops: [Op]
        let classes: [ScalarSet]
        let byteMode: Bool
        /// For the common case of at most 63 elements: per state, every state reachable from it
        /// without consuming a character (itself included).
        let closures: [UInt64]

        init(_ elements: [Element]) {
            var ops: [Op] = []
            var classes: [ScalarSet] = []
            var byteMode = true
            for element in elements {
                switch element {
                case .scalar(let c):
                    ops.append(Op(kind: .scalar, value: c.value))
                    if !c.isASCII { byteMode = false }
                case .any:
                    ops.append(Op(kind: .any, value: 0))
                    byteMode = false
                case .set(let set):
                    ops.append(Op(kind: .set, value: UInt32(classes.count)))
                    classes.append(set)
                    byteMode = false
                case .star: ops.append(Op(kind: .star, value: 0))
                case .globstar: ops.append(Op(kind: .globstar, value: 0))
                case .skip(let distance): ops.append(Op(kind: .skip, value: UInt32(distance)))
                }
            }
            self.ops = ops
            self.classes = classes
            self.byteMode = byteMode
            var closures: [UInt64] = []
            if ops.count < 64 {
                closures = Array(repeating: 0, count: ops.count + 1)
                closures[ops.count] = 1 << UInt64(ops.count)
                for i in stride(from: ops.count - 1, through: 0, by: -1) {
                    var mask: UInt64 = 1 << UInt64(i)
                    switch ops[i].kind {
                    case .star, .globstar: mask |= closures[i + 1]
                    case .skip: mask |= closures[i + 1] | closures[i + Int(ops[i].value)]
                    default: break
                    }
                    closures[i] = mask
                }
            }
            self.closures = closures
        }

        /// The state a character moves `state` to, if any.
        @inline(__always)
        func step(_ state: Int, _ c: UInt32) -> Int? {
            let op = ops[state]
            switch op.kind {
            case .scalar: return op.value == c ? state + 1 : nil
            case .any: return c != 0x2F ? state + 1 : nil
            case .set: return c != 0x2F && classes[Int(op.value)].contains(c) ? state + 1 : nil
            case .star: return c != 0x2F ? state : nil
            case .globstar: return state
            case .skip: return nil
            }
        }

        func run<S: Sequence>(_ characters: S) -> Bool where S.Element == UInt32 {
            if !closures.isEmpty { return runSmall(characters) }
            return runLarge(characters)
        }

        private func runSmall<S: Sequence>(_ characters: S) -> Bool where S.Element == UInt32 {
            let count = ops.count
            var current = closures[0]
            for c in characters {
                var next: UInt64 = 0
                var bits = current & ~(1 << UInt64(count))
                while bits != 0 {
                    let state = bits.trailingZeroBitCount
                    bits &= bits &- 1
                    if let target = step(state, c) { next |= closures[target] }
                }
                if next == 0 { return false }
                current = next
            }
            return current & (1 << UInt64(count)) != 0
        }

        private func runLarge<S: Sequence>(_ characters: S) -> Bool where S.Element == UInt32 {
            let count = ops.count + 1
            let words = (count + 63) >> 6
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * words) { buffer in
                let base = buffer.baseAddress!
                var current = UnsafeMutableBufferPointer(start: base, count: words)
                var next = UnsafeMutableBufferPointer(start: base + words, count: words)
                current.initialize(repeating: 0)
                next.initialize(repeating: 0)
                current[0] = 1
                closure(&current)
                for c in characters {
                    for w in 0..<words { next[w] = 0 }
                    var any = false
                    for w in 0..<words {
                        var bits = current[w]
                        while bits != 0 {
                            let state = (w << 6) | bits.trailingZeroBitCount
                            bits &= bits &- 1
                            guard state < ops.count, let target = step(state, c) else { continue }
                            next[target >> 6] |= 1 << UInt64(target & 63)
                            any = true
                        }
                    }
                    if !any { return false }
                    closure(&next)
                    swap(&current, &next)
                }
                let accept = ops.count
                return current[accept >> 6] & (1 << UInt64(accept & 63)) != 0
            }
        }

        /// Adds the states reachable without consuming a character. Epsilon edges only go forward,
        /// so one ascending pass is enough.
        private func closure(_ states: inout UnsafeMutableBufferPointer<UInt64>) {
            for i in 0..<ops.count {
                guard states[i >> 6] & (1 << UInt64(i & 63)) != 0 else { continue }
                switch ops[i].kind {
                case .star, .globstar:
                    set(&states, i + 1)
                case .skip:
                    set(&states, i + 1)
                    set(&states, i + Int(ops[i].value))
                default:
                    break
                }
            }
        }

        private func set(_ states: inout UnsafeMutableBufferPointer<UInt64>, _ i: Int) {
            states[i >> 6] |= 1 << UInt64(i & 63)
        }
    }

    enum Element: Sendable {
        case scalar(Unicode.Scalar)
        case any
        case set(ScalarSet)
        case star
        /// `**`: any characters, `/` included.
        case globstar
        /// Matches nothing: goes on to the next element, or jumps `distance` elements ahead. A
        /// `**/` segment is `[skip(3), globstar, "/"]`, so it may also match zero directories.
        case skip(Int)
    }

    struct ScalarSet: Sendable {
        var negated: Bool
        var ranges: [ClosedRange<UInt32>]

        func contains(_ v: UInt32) -> Bool {
            var found = false
            for r in ranges where r.contains(v) {
                found = true
                break
            }
            return found != negated
        }
    }
}

/// An invalid glob pattern, with what is wrong and where (0-based character offset).
public struct GlobError: Error, Sendable, Equatable, CustomStringConvertible {
    public var pattern: String
    public var offset: Int
    public var message: String

    public init(pattern: String, offset: Int, message: String) {
        self.pattern = pattern
        self.offset = offset
        self.message = message
    }

    public var description: String { "invalid glob \"\(pattern)\": \(message) (at character \(offset + 1))" }
}

private enum GlobCompiler {
    static func compile(_ pattern: String) throws(GlobError) -> [Glob.Element] {
        let p = Array(pattern.unicodeScalars)
        func fail(_ at: Int, _ message: String) -> GlobError { GlobError(pattern: pattern, offset: at, message: message) }
        guard !p.isEmpty else { throw fail(0, "the pattern is empty") }
        var out: [Glob.Element] = []
        var i = 0
        while i < p.count {
            let c = p[i]
            switch c {
            case "\\":
                guard i + 1 < p.count else { throw fail(i, "the pattern ends with a lone '\\'") }
                out.append(.scalar(p[i + 1]))
                i += 2
            case "?":
                out.append(.any)
                i += 1
            case "*":
                var j = i
                while j < p.count, p[j] == "*" { j += 1 }
                if j - i == 1 {
                    out.append(.star)
                } else {
                    // A whole segment: at the start or after '/', followed by '/'.
                    let segmentStart = i == 0 || p[i - 1] == "/"
                    if segmentStart, j < p.count, p[j] == "/" {
                        out.append(contentsOf: [.skip(3), .globstar, .scalar("/")])
                        j += 1
                    } else {
                        out.append(.globstar)
                    }
                }
                i = j
            case "[":
                let (set, end) = try compileClass(p, from: i, fail: fail)
                out.append(.set(set))
                i = end
            default:
                out.append(.scalar(c))
                i += 1
            }
        }
        return out
    }

    /// Parses `[...]` starting at `start` (the `[`); returns the set and the index after `]`.
    static func compileClass(
        _ p: [Unicode.Scalar], from start: Int, fail: (Int, String) -> GlobError
    ) throws(GlobError) -> (Glob.ScalarSet, Int) {
        var i = start + 1
        var negated = false
        if i < p.count, p[i] == "!" || p[i] == "^" {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while true {
            guard i < p.count else { throw fail(start, "'[' has no closing ']'") }
            var c = p[i]
            if c == "]", !first { return (Glob.ScalarSet(negated: negated, ranges: ranges), i + 1) }
            first = false
            if c == "\\" {
                guard i + 1 < p.count else { throw fail(start, "'[' has no closing ']'") }
                i += 1
                c = p[i]
            }
            i += 1
            // A range `c-d`, unless the '-' is last in the class.
            if i + 1 < p.count, p[i] == "-", p[i + 1] != "]" {
                var d = p[i + 1]
                var next = i + 2
                if d == "\\" {
                    guard i + 2 < p.count else { throw fail(start, "'[' has no closing ']'") }
                    d = p[i + 2]
                    next = i + 3
                }
                guard c.value <= d.value else {
                    throw fail(i - 1, "the range '\(c)-\(d)' is reversed")
                }
                ranges.append(c.value...d.value)
                i = next
            } else {
                ranges.append(c.value...c.value)
            }
        }
    }
}

/// The `include` and `exclude` globs of an input: a key is taken when it matches any include
/// (or there are none) and no exclude.
public struct KeyFilter: Sendable, Equatable {
    public var include: [Glob]
    public var exclude: [Glob]

    public init(include: [Glob] = [], exclude: [Glob] = []) {
        self.include = include
        self.exclude = exclude
    }

    /// Compiles every pattern; the first invalid one is the error.
    public init(include: [String], exclude: [String]) throws(GlobError) {
        var inc: [Glob] = []
        for pattern in include { inc.append(try Glob(pattern)) }
        var exc: [Glob] = []
        for pattern in exclude { exc.append(try Glob(pattern)) }
        self.init(include: inc, exclude: exc)
    }

    /// Whether the key (relative to the input prefix, see ``relativeKey(_:prefix:)``) is taken.
    public func accepts(_ relativeKey: String) -> Bool {
        if !include.isEmpty, !include.contains(where: { $0.matches(relativeKey) }) { return false }
        return !exclude.contains { $0.matches(relativeKey) }
    }

    /// The part of `key` below `prefix` (the text after the prefix); the key itself when it does
    /// not start with the prefix. For a single-key input, pass the key's directory (up to and
    /// including the last '/') as the prefix, so the glob sees the file name.
    public static func relativeKey(_ key: String, prefix: String) -> String {
        // Byte-wise, as S3 compares keys (no Unicode normalisation).
        guard !prefix.isEmpty, key.utf8.starts(with: prefix.utf8) else { return key }
        return String(Substring(key.utf8.dropFirst(prefix.utf8.count)))
    }
}
