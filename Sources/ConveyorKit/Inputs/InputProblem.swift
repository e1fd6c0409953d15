/// Why an input (a whole text object, or one jsonl line or csv row) cannot become an item. The
/// runner fails that item only, with ``code`` as the failure code and ``message`` as its message.
public enum InputProblem: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Not UTF-8, not JSON, not a JSON object, or a malformed CSV row (`InvalidInput`).
    case invalidInput(String)
    /// Nothing to send: no bytes, or only whitespace (`EmptyInput`).
    case emptyInput(String)
    /// Bigger than the size limit (`InputTooLarge`).
    case inputTooLarge(String)
    /// An attachment (`inputs.as: document | image`) whose key's extension is not one of the
    /// kind's formats (`UnsupportedInputFormat`).
    case unsupportedFormat(String)

    /// The failure code written to the report and the manifest.
    public var code: String {
        switch self {
        case .invalidInput: return "InvalidInput"
        case .emptyInput: return "EmptyInput"
        case .inputTooLarge: return "InputTooLarge"
        case .unsupportedFormat: return "UnsupportedInputFormat"
        }
    }

    public var message: String {
        switch self {
        case .invalidInput(let m), .emptyInput(let m), .inputTooLarge(let m), .unsupportedFormat(let m): return m
        }
    }

    public var description: String { "\(code): \(message)" }
}

/// A jsonl line or csv row that cannot be used. It fails that record's item only; the rest of
/// the file goes on.
public struct RecordError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number where the record starts.
    public var line: Int
    public var problem: InputProblem
    /// The record's text (without its line terminator), when it is UTF-8 and within the size
    /// limit; otherwise nil.
    public var raw: String?

    public init(line: Int, problem: InputProblem, raw: String? = nil) {
        self.line = line
        self.problem = problem
        self.raw = raw
    }

    public var code: String { problem.code }
    /// The message, starting with the line number: `line 7: invalid JSON at byte 3: ...`.
    public var message: String { "line \(line): \(problem.message)" }
    public var description: String { "\(problem.code): \(message)" }
}

/// Removes a UTF-8 byte order mark (EF BB BF) at the very start of a stream fed in chunks of any
/// size, including chunks of one byte. Once ``done``, callers use their chunks directly.
struct BOMSkipper: Sendable {
    private static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
    private var pending: [UInt8] = []
    private(set) var done = false

    /// Nil while the bytes so far could still be the start of a BOM (they are held). Otherwise the
    /// held bytes of earlier chunks to process first, and how many bytes at the start of this
    /// chunk to skip (3 minus what was held, for a BOM; else 0).
    mutating func process(_ chunk: UnsafeRawBufferPointer) -> (held: [UInt8], skip: Int)? {
        precondition(!done)
        let earlier = pending
        var i = 0
        while pending.count < 3, i < chunk.count {
            pending.append(chunk[i])
            i += 1
            if !Self.bom.starts(with: pending) {
                done = true
                pending = []
                return (earlier, 0)
            }
        }
        if pending.count == 3 {
            done = true
            pending = []
            return ([], i)
        }
        return nil
    }

    /// At the end of the stream: bytes held back (the start of a BOM that never completed).
    mutating func finish() -> [UInt8] {
        done = true
        defer { pending = [] }
        return pending
    }
}
