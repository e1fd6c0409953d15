import Foundation

/// The column names of a csv input, from its header row.
public struct CSVHeader: Sendable, Equatable {
    public let names: [String]
    private let positions: [String: Int]

    /// Checks the names: none may be empty (or only spaces and tabs) and none may repeat.
    public init(_ names: [String]) throws(InputProblem) {
        var positions: [String: Int] = [:]
        for (i, name) in names.enumerated() {
            if name.allSatisfy({ $0 == " " || $0 == "\t" }) {
                throw .invalidInput("the header row has an empty name for column \(i + 1)")
            }
            if let earlier = positions[name] {
                throw .invalidInput("the header row names column \"\(name)\" twice (columns \(earlier + 1) and \(i + 1))")
            }
            positions[name] = i
        }
        self.names = names
        self.positions = positions
    }

    /// The 0-based position of a column.
    public func index(of name: String) -> Int? { positions[name] }

    public static func == (a: CSVHeader, b: CSVHeader) -> Bool { a.names == b.names }
}

/// One data row of a csv input.
public struct CSVRow: Sendable, Equatable {
    /// The row number: the 1-based line on which the row starts (a quoted field may continue it
    /// over more lines). The header is usually line 1.
    public var line: Int
    public var header: CSVHeader
    /// One value per header column, in order.
    public var values: [String]
    /// The row as written, quotes included, without its line terminator.
    public var raw: String

    public init(line: Int, header: CSVHeader, values: [String], raw: String) {
        self.line = line
        self.header = header
        self.values = values
        self.raw = raw
    }

    /// The value of the named column.
    public subscript(name: String) -> String? {
        guard let i = header.index(of: name), i < values.count else { return nil }
        return values[i]
    }

    /// (name, value) pairs in column order.
    public var fields: [(name: String, value: String)] {
        Array(zip(header.names, values)).map { (name: $0.0, value: $0.1) }
    }

    public var dictionary: [String: String] {
        Dictionary(uniqueKeysWithValues: zip(header.names, values))
    }
}

/// Reads RFC 4180 CSV from chunks of bytes as they arrive, holding only the current row.
///
/// - The first row is the header; its names become the field names. An empty or duplicated name
///   makes the whole object unusable: ``feed(_:)`` and ``finish()`` throw an ``InputProblem``
///   naming the column (and keep throwing it). An object with no header row at all is
///   `EmptyInput` from ``finish()``.
/// - Fields are separated by `,`; a field in double quotes may hold commas, CR, LF, and `""` for one
///   `"`. A `"` inside an unquoted field is kept as is. Text after a closing quote other than a
///   `,` or a line end is an error for that row.
/// - Rows end with CRLF, LF or a lone CR; an empty line is skipped (but counted). A UTF-8 BOM at
///   the start is skipped.
/// - Each data row comes out as a ``CSVRow`` or, if it cannot be used, a ``RecordError`` for that
///   row only: a field count different from the header's, a field that is not UTF-8, text after a
///   closing quote, a quote never closed (reported by ``finish()``), or a row longer than
///   `maxRowBytes` (`InputTooLarge`; its bytes are dropped as they arrive, so memory stays bounded).
public struct CSVReader: Sendable {
    public typealias Entry = Result<CSVRow, RecordError>

    /// 1 MiB.
    public static let defaultMaxRowBytes = 1 << 20

    public let maxRowBytes: Int
    /// The header, once its row has been read.
    public private(set) var header: CSVHeader?

    private enum State: Sendable {
        case fieldStart, unquoted, quoted, quoteInQuoted
    }

    private var state = State.fieldStart
    private var bom = BOMSkipper()
    private var fields: [String] = []
    private var field: [UInt8] = []
    private var raw: [UInt8] = []
    private var rowBytes = 0
    private var tooLarge = false
    private var line = 1
    private var rowLine = 1
    private var lastWasCR = false
    private var quoteLine = 1
    private var rowProblem: InputProblem?
    private var badUTF8Column: Int?
    private var headerProblem: InputProblem?

    public init(maxRowBytes: Int = CSVReader.defaultMaxRowBytes) {
        precondition(maxRowBytes > 0)
        self.maxRowBytes = maxRowBytes
    }

    /// Rows (and row errors) for every row completed by this chunk.
    public mutating func feed(_ chunk: Data) throws(InputProblem) -> [Entry] {
        if let headerProblem { throw headerProblem }
        var out: [Entry] = []
        chunk.withUnsafeBytes { bytes in
            if bom.done {
                consume(bytes, into: &out)
            } else if let (held, skip) = bom.process(bytes) {
                held.withUnsafeBytes { consume($0, into: &out) }
                consume(UnsafeRawBufferPointer(rebasing: bytes[skip...]), into: &out)
            }
        }
        if let headerProblem { throw headerProblem }
        return out
    }

    /// The last row when the object does not end with a line break. Call once, at the end.
    public mutating func finish() throws(InputProblem) -> [Entry] {
        if let headerProblem { throw headerProblem }
        var out: [Entry] = []
        let held = bom.finish()
        held.withUnsafeBytes { consume($0, into: &out) }
        if state == .quoted {
            let column = tooLarge ? "" : " in column \(fields.count + 1)"
            rowProblem = .invalidInput("the quoted field\(column) opened on line \(quoteLine) has no closing quote")
        }
        if rowBytes > 0 {
            endRow(into: &out)
        }
        if let headerProblem { throw headerProblem }
        if header == nil { throw .emptyInput("the csv object has no header row") }
        return out
    }

    /// Every row of a whole object in memory (tests, small objects).
    public static func read(_ data: Data, maxRowBytes: Int = CSVReader.defaultMaxRowBytes) throws(InputProblem) -> [Entry] {
        var reader = CSVReader(maxRowBytes: maxRowBytes)
        let first = try reader.feed(data)
        return first + (try reader.finish())
    }

    private mutating func consume(_ bytes: UnsafeRawBufferPointer, into out: inout [Entry]) {
        for b in bytes {
            if headerProblem != nil { return }
            step(b, into: &out)
        }
    }

    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A

    private mutating func step(_ b: UInt8, into out: inout [Entry]) {
        let wasCR = lastWasCR
        lastWasCR = b == Self.cr
        switch state {
        case .fieldStart, .unquoted, .quoteInQuoted:
            if b == Self.lf, wasCR, rowBytes == 0 {
                return  // the LF of a CRLF that ended the previous row
            }
            if b == Self.cr || b == Self.lf {
                endRow(into: &out)
                line += 1
                rowLine = line
                return
            }
            if b == Self.comma {
                endField()
                state = .fieldStart
                keepRaw(b)
                return
            }
            if b == Self.quote {
                switch state {
                case .fieldStart:
                    state = .quoted
                    quoteLine = line
                case .quoteInQuoted:
                    keepField(b)  // "" inside quotes
                    state = .quoted
                default:
                    keepField(b)  // a quote inside an unquoted field is kept as is
                }
                keepRaw(b)
                return
            }
            if state == .quoteInQuoted, rowProblem == nil {
                rowProblem = .invalidInput("unexpected text after the closing quote in column \(fields.count + 1)")
            }
            state = .unquoted
            keepField(b)
            keepRaw(b)
        case .quoted:
            if b == Self.quote {
                state = .quoteInQuoted
            } else {
                if b == Self.cr || (b == Self.lf && !wasCR) { line += 1 }
                keepField(b)
            }
            keepRaw(b)
        }
    }

    private mutating func keepRaw(_ b: UInt8) {
        rowBytes += 1
        if tooLarge { return }
        if rowBytes > maxRowBytes {
            // Drop what the row holds; the rest of it is only scanned for its end.
            tooLarge = true
            raw = []
            field = []
            fields = []
            return
        }
        raw.append(b)
    }

    private mutating func keepField(_ b: UInt8) {
        if !tooLarge { field.append(b) }
    }

    private mutating func endField() {
        if tooLarge { return }
        if let s = String(validating: field, as: UTF8.self) {
            fields.append(s)
        } else {
            if badUTF8Column == nil { badUTF8Column = fields.count + 1 }
            fields.append("")
        }
        field = []
    }

    private mutating func endRow(into out: inout [Entry]) {
        defer {
            fields = []
            field = []
            raw = []
            rowBytes = 0
            tooLarge = false
            rowProblem = nil
            badUTF8Column = nil
            state = .fieldStart
        }
        // An empty line: no row.
        if rowBytes == 0 { return }
        endField()
        if tooLarge, state != .quoted { rowProblem = .inputTooLarge("the row is longer than the limit of \(maxRowBytes) bytes") }
        if rowProblem == nil, let column = badUTF8Column {
            rowProblem = .invalidInput("column \(column) is not valid UTF-8")
        }
        let rawText = tooLarge ? nil : String(validating: raw, as: UTF8.self)
        guard let header else {
            if let rowProblem {
                headerProblem = .invalidInput("the header row (line \(rowLine)): \(rowProblem.message)")
                return
            }
            do {
                header = try CSVHeader(fields)
            } catch {
                headerProblem = error
            }
            return
        }
        if let rowProblem {
            out.append(.failure(RecordError(line: rowLine, problem: rowProblem, raw: rawText)))
            return
        }
        guard fields.count == header.names.count else {
            let problem = InputProblem.invalidInput(
                "the row has \(fields.count) field\(fields.count == 1 ? "" : "s"); the header has \(header.names.count)")
            out.append(.failure(RecordError(line: rowLine, problem: problem, raw: rawText)))
            return
        }
        out.append(.success(CSVRow(line: rowLine, header: header, values: fields, raw: rawText ?? "")))
    }
}

extension CSVReader {
    /// Reads a stream of chunks (such as a GetObject body) and hands each row or row error to
    /// `body` as soon as it is complete. Throws the ``InputProblem`` of a bad or missing header.
    public static func forEachRow<Chunks: AsyncSequence>(
        in chunks: Chunks,
        maxRowBytes: Int = CSVReader.defaultMaxRowBytes,
        _ body: (Entry) async throws -> Void
    ) async throws where Chunks.Element == Data {
        var reader = CSVReader(maxRowBytes: maxRowBytes)
        for try await chunk in chunks {
            for entry in try reader.feed(chunk) { try await body(entry) }
        }
        for entry in try reader.finish() { try await body(entry) }
    }
}
