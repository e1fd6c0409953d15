import ConveyorKit
import Foundation
import Testing

@Suite("CSV reader")
struct CSVReaderTests {
    /// BOM, CRLF, quoted commas and newlines (LF and CRLF inside quotes), `""`, an empty line, a
    /// ragged row, text after a closing quote, UTF-8, no final newline.
    static let sample: Data = {
        let lines: [String] = [
            "id,text,note\r\n",
            "1,plain,\r\n",
            "2,\"with, comma\",\"say \"\"hi\"\"\"\r\n",
            "3,\"two\nlines\",\"crlf\r\ninside\"\r\n",
            "\r\n",
            "4,too,many,fields\r\n",
            "5,\"closed\"junk,x\r\n",
            "6,日本語,\"\"\n",
            "7,\"a\"\"\",last",
        ]
        return Data([0xEF, 0xBB, 0xBF]) + Data(lines.joined().utf8)
    }()

    static func summary(_ entries: [CSVReader.Entry]) -> [String] {
        entries.map { entry in
            switch entry {
            case .success(let row): return "\(row.line) \(row.values) | \(row.raw)"
            case .failure(let e): return "\(e.line) \(e.code) \(e.problem.message) | \(e.raw ?? "-")"
            }
        }
    }

    @Test func readsTheSample() throws {
        let entries = try CSVReader.read(Self.sample)
        #expect(Self.summary(entries) == [
            "2 [\"1\", \"plain\", \"\"] | 1,plain,",
            "3 [\"2\", \"with, comma\", \"say \\\"hi\\\"\"] | 2,\"with, comma\",\"say \"\"hi\"\"\"",
            "4 [\"3\", \"two\\nlines\", \"crlf\\r\\ninside\"] | 3,\"two\nlines\",\"crlf\r\ninside\"",
            "8 InvalidInput the row has 4 fields; the header has 3 | 4,too,many,fields",
            "9 InvalidInput unexpected text after the closing quote in column 2 | 5,\"closed\"junk,x",
            "10 [\"6\", \"日本語\", \"\"] | 6,日本語,\"\"",
            "11 [\"7\", \"a\\\"\", \"last\"] | 7,\"a\"\"\",last",
        ])
    }

    @Test func everySplitPointGivesTheSameRows() throws {
        let whole = Self.summary(try CSVReader.read(Self.sample))
        let bytes = [UInt8](Self.sample)
        for cut in 0...bytes.count {
            var reader = CSVReader()
            let entries = try reader.feed(Data(bytes[..<cut])) + reader.feed(Data(bytes[cut...])) + reader.finish()
            #expect(Self.summary(entries) == whole, "split at byte \(cut)")
        }
    }

    @Test func everySplitIntoThreeGivesTheSameRows() throws {
        let whole = Self.summary(try CSVReader.read(Self.sample))
        let bytes = [UInt8](Self.sample)
        for a in stride(from: 0, through: bytes.count, by: 5) {
            for b in a...bytes.count {
                var reader = CSVReader()
                var entries = try reader.feed(Data(bytes[..<a]))
                entries += try reader.feed(Data(bytes[a..<b]))
                entries += try reader.feed(Data(bytes[b...]))
                entries += try reader.finish()
                #expect(Self.summary(entries) == whole, "split at bytes \(a) and \(b)")
            }
        }
    }

    @Test func oneByteAtATime() throws {
        var reader = CSVReader()
        var entries: [CSVReader.Entry] = []
        for byte in Self.sample { entries += try reader.feed(Data([byte])) }
        entries += try reader.finish()
        #expect(Self.summary(entries) == Self.summary(try CSVReader.read(Self.sample)))
    }

    @Test func fieldsByName() throws {
        let entries = try CSVReader.read(Data("name,age\nAda,36\n".utf8))
        let row = try #require(try entries.first?.get())
        #expect(row["name"] == "Ada")
        #expect(row["age"] == "36")
        #expect(row["missing"] == nil)
        #expect(row.dictionary == ["name": "Ada", "age": "36"])
        #expect(row.fields.map(\.name) == ["name", "age"])
        #expect(row.header.names == ["name", "age"])
    }

    @Test func lineEndings() throws {
        let lf = try CSVReader.read(Data("a,b\n1,2\n3,4\n".utf8))
        let crlf = try CSVReader.read(Data("a,b\r\n1,2\r\n3,4\r\n".utf8))
        let cr = try CSVReader.read(Data("a,b\r1,2\r3,4\r".utf8))
        #expect(Self.summary(lf) == ["2 [\"1\", \"2\"] | 1,2", "3 [\"3\", \"4\"] | 3,4"])
        #expect(Self.summary(crlf) == Self.summary(lf))
        #expect(Self.summary(cr) == Self.summary(lf))
    }

    @Test func rowNumbersCountLinesInsideQuotes() throws {
        let entries = try CSVReader.read(Data("a,b\n\"x\n\ny\",1\n\n2,\"p\r\nq\"\n3,4".utf8))
        let lines = entries.compactMap { try? $0.get().line }
        #expect(lines == [2, 6, 8])
    }

    @Test func quotedNewlineSplitAtEveryByte() throws {
        let data = Data("k,v\r\n\"multi\r\nline, with \"\"quotes\"\"\",2\r\n".utf8)
        let bytes = [UInt8](data)
        for cut in 0...bytes.count {
            var reader = CSVReader()
            let entries = try reader.feed(Data(bytes[..<cut])) + reader.feed(Data(bytes[cut...])) + reader.finish()
            let row = try #require(try entries.first?.get(), "split at \(cut)")
            #expect(row.values == ["multi\r\nline, with \"quotes\"", "2"], "split at \(cut)")
            #expect(entries.count == 1)
        }
    }

    @Test func duplicateHeaderNames() {
        #expect(throws: InputProblem.invalidInput("the header row names column \"id\" twice (columns 1 and 3)")) {
            try CSVReader.read(Data("id,text,id\n1,2,3\n".utf8))
        }
    }

    @Test func emptyHeaderName() {
        #expect(throws: InputProblem.invalidInput("the header row has an empty name for column 2")) {
            try CSVReader.read(Data("id,,text\n1,2,3\n".utf8))
        }
        #expect(throws: InputProblem.invalidInput("the header row has an empty name for column 3")) {
            try CSVReader.read(Data("id,text,\"  \"\n1,2,3\n".utf8))
        }
    }

    @Test func headerProblemKeepsThrowing() {
        var reader = CSVReader()
        #expect(throws: InputProblem.self) { try reader.feed(Data("a,a\n".utf8)) }
        #expect(throws: InputProblem.self) { try reader.feed(Data("1,2\n".utf8)) }
        #expect(throws: InputProblem.self) { try reader.finish() }
    }

    @Test func noHeader() {
        #expect(throws: InputProblem.emptyInput("the csv object has no header row")) {
            try CSVReader.read(Data())
        }
        #expect(throws: InputProblem.emptyInput("the csv object has no header row")) {
            try CSVReader.read(Data("\r\n\n".utf8))
        }
    }

    @Test func headerOnly() throws {
        var reader = CSVReader()
        #expect(try reader.feed(Data("a,b\n".utf8)).isEmpty)
        #expect(try reader.finish().isEmpty)
        #expect(reader.header?.names == ["a", "b"])
    }

    @Test func raggedRows() throws {
        let entries = try CSVReader.read(Data("a,b,c\n1,2\n1,2,3\n1,2,3,4\nx\n".utf8))
        #expect(entries.map { $0.errorMessage ?? "ok" } == [
            "line 2: the row has 2 fields; the header has 3",
            "ok",
            "line 4: the row has 4 fields; the header has 3",
            "line 5: the row has 1 field; the header has 3",
        ])
    }

    @Test func unterminatedQuote() throws {
        let entries = try CSVReader.read(Data("a,b\n1,2\n3,\"never closed\n4,5\n".utf8))
        #expect(entries.count == 2)
        #expect(entries[1].errorMessage == "line 3: the quoted field in column 2 opened on line 3 has no closing quote")
    }

    @Test func quoteInsideUnquotedFieldIsKept() throws {
        let entries = try CSVReader.read(Data("size,label\n5\" disk,a\"b\n".utf8))
        #expect((try? entries[0].get().values) == ["5\" disk", "a\"b"])
    }

    @Test func rowTooLong() throws {
        var reader = CSVReader(maxRowBytes: 20)
        var entries = try reader.feed(Data("a,b\n1,2\n3,\"".utf8))
        for _ in 0..<500 { entries += try reader.feed(Data(String(repeating: "x,\n", count: 100).utf8)) }
        entries += try reader.feed(Data("\"\n4,5\n".utf8))
        entries += try reader.finish()
        #expect(entries.count == 3)
        #expect(entries[1].errorCode == "InputTooLarge")
        #expect(entries[1].errorMessage == "line 3: the row is longer than the limit of 20 bytes")
        if case .failure(let e) = entries[1] { #expect(e.raw == nil) }
        #expect((try? entries[2].get().values) == ["4", "5"])
        #expect((try? entries[2].get().line) == 50_004)
    }

    @Test func invalidUTF8Field() throws {
        let data = Data("a,b\n1,".utf8) + Data([0xC3]) + Data("\n2,ok\n".utf8)
        let entries = try CSVReader.read(data)
        #expect(entries[0].errorMessage == "line 2: column 2 is not valid UTF-8")
        if case .failure(let e) = entries[0] { #expect(e.raw == nil) }
        #expect((try? entries[1].get().values) == ["2", "ok"])
    }

    @Test func emptyFieldsAndQuotedEmpty() throws {
        let entries = try CSVReader.read(Data("a,b,c\n,,\n\"\",\"\",\"\"\n".utf8))
        #expect(entries.compactMap { try? $0.get().values } == [["", "", ""], ["", "", ""]])
    }

    @Test func streamsFromAnAsyncSequence() async throws {
        let (stream, continuation) = AsyncStream<Data>.makeStream()
        let bytes = [UInt8](Self.sample)
        for start in stride(from: 0, to: bytes.count, by: 4) {
            continuation.yield(Data(bytes[start..<min(start + 4, bytes.count)]))
        }
        continuation.finish()
        var entries: [CSVReader.Entry] = []
        try await CSVReader.forEachRow(in: stream) { entries.append($0) }
        #expect(Self.summary(entries) == Self.summary(try CSVReader.read(Self.sample)))
    }
}
