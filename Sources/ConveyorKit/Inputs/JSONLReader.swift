import AWSCore
import Foundation

/// One line of a jsonl input: a JSON object.
public struct JSONLRecord: Sendable, Equatable {
    /// 1-based line number in the object (blank lines count).
    public var line: Int
    /// The parsed object, members in their order.
    public var object: JSONObject
    /// The line as written, without its line terminator (and without a BOM on line 1).
    public var raw: String

    public init(line: Int, object: JSONObject, raw: String) {
        self.line = line
        self.object = object
        self.raw = raw
    }

    public var value: JSONValue { .object(object) }
}

/// Reads JSON lines from chunks of bytes as they arrive, holding only the current partial line.
///
/// Feed it chunks of any size (ranged GetObject parts, socket reads) with ``feed(_:)``, then call
/// ``finish()`` once at the end of the object. Each complete line comes out as a record or, when
/// it cannot be used, as a ``RecordError`` for that line alone, so one bad line fails one item:
/// - lines end with LF or CRLF; a line is numbered from 1, and blank lines (only spaces, tabs, CR)
///   are skipped but counted;
/// - a UTF-8 BOM at the start of the object is skipped;
/// - each line must be UTF-8 and one JSON object (`InvalidInput` otherwise);
/// - a line longer than `maxLineBytes` (terminator excluded), blank or not, is `InputTooLarge`; its bytes are
///   discarded as they arrive, so memory stays bounded by the limit plus the chunk in hand.
public struct JSONLReader: Sendable {
    public typealias Entry = Result<JSONLRecord, RecordError>

    /// 1 MiB.
    public static let defaultMaxLineBytes = 1 << 20

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var completedLines = 0
    private var oversized = false
    private var bom = BOMSkipper()

    public init(maxLineBytes: Int = JSONLReader.defaultMaxLineBytes) {
        precondition(maxLineBytes > 0)
        self.maxLineBytes = maxLineBytes
    }

    /// Records (and record errors) for every line completed by this chunk.
    public mutating func feed(_ chunk: Data) -> [Entry] {
        var out: [Entry] = []
        chunk.withUnsafeBytes { raw in
            if bom.done {
                consume(raw, into: &out)
            } else if let (held, skip) = bom.process(raw) {
                held.withUnsafeBytes { consume($0, into: &out) }
                consume(UnsafeRawBufferPointer(rebasing: raw[skip...]), into: &out)
            }
        }
        return out
    }

    /// The last line when the object does not end with a newline. Call once, at the end.
    public mutating func finish() -> [Entry] {
        var out: [Entry] = []
        let held = bom.finish()
        held.withUnsafeBytes { consume($0, into: &out) }
        if !buffer.isEmpty || oversized {
            let line = buffer
            buffer = []
            line.withUnsafeBytes { completeLine(UnsafeRawBufferPointer(rebasing: $0[...]), into: &out) }
        }
        return out
    }

    /// Every record of a whole object in memory (tests, small objects).
    public static func read(_ data: Data, maxLineBytes: Int = JSONLReader.defaultMaxLineBytes) -> [Entry] {
        var reader = JSONLReader(maxLineBytes: maxLineBytes)
        return reader.feed(data) + reader.finish()
    }

    private mutating func consume(_ bytes: UnsafeRawBufferPointer, into out: inout [Entry]) {
        var start = 0
        while start < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            guard let newline = rest.firstIndex(of: 0x0A) else {
                hold(rest)
                return
            }
            let segment = UnsafeRawBufferPointer(rebasing: rest[..<newline])
            if buffer.isEmpty, !oversized {
                completeLine(segment, into: &out)
            } else {
                hold(segment)
                let line = buffer
                buffer = []
                line.withUnsafeBytes { completeLine($0, into: &out) }
            }
            start += newline + 1
        }
    }

    /// Keeps part of a line until its end arrives, or drops it once the line is too long.
    private mutating func hold(_ bytes: UnsafeRawBufferPointer) {
        guard !oversized else { return }
        // One byte of slack for the CR of a CRLF.
        if buffer.count + bytes.count > maxLineBytes + 1 {
            oversized = true
            buffer = []
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    private mutating func completeLine(_ bytes: UnsafeRawBufferPointer, into out: inout [Entry]) {
        completedLines += 1
        let line = completedLines
        if oversized {
            oversized = false
            out.append(.failure(RecordError(line: line, problem: .inputTooLarge(tooLong))))
            return
        }
        var count = bytes.count
        if count > 0, bytes[count - 1] == 0x0D { count -= 1 }
        // Too long before blank: a long line fed in chunks is dropped before its end is seen, so
        // whether it was blank is unknown then, and a line must read the same however it arrives.
        if count > maxLineBytes {
            out.append(.failure(RecordError(line: line, problem: .inputTooLarge(tooLong))))
            return
        }
        let content = UnsafeRawBufferPointer(rebasing: bytes[..<count])
        if content.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        guard let raw = String(validating: content, as: UTF8.self) else {
            out.append(.failure(RecordError(line: line, problem: .invalidInput("the line is not valid UTF-8"))))
            return
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(Data(content))
        } catch {
            out.append(.failure(RecordError(line: line, problem: .invalidInput("\(error)"), raw: raw)))
            return
        }
        guard case .object(let object) = value else {
            let problem = InputProblem.invalidInput("the line is \(Self.kind(of: value)), not a JSON object")
            out.append(.failure(RecordError(line: line, problem: problem, raw: raw)))
            return
        }
        out.append(.success(JSONLRecord(line: line, object: object, raw: raw)))
    }

    private var tooLong: String { "the line is longer than the limit of \(maxLineBytes) bytes" }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONLReader {
    /// Reads a stream of chunks (such as a GetObject body) and hands each record or record error
    /// to `body` as soon as its line is complete.
    public static func forEachRecord<Chunks: AsyncSequence>(
        in chunks: Chunks,
        maxLineBytes: Int = JSONLReader.defaultMaxLineBytes,
        _ body: (Entry) async throws -> Void
    ) async throws where Chunks.Element == Data {
        var reader = JSONLReader(maxLineBytes: maxLineBytes)
        for try await chunk in chunks {
            for entry in reader.feed(chunk) { try await body(entry) }
        }
        for entry in reader.finish() { try await body(entry) }
    }
}
