import AWSCore
import ConveyorKit
import Foundation
import Testing

@Suite("JSONL reader")
struct JSONLReaderTests {
    /// A small file with most of what can happen: BOM, CRLF, blank lines, a bad line, an array line,
    /// multi-byte UTF-8 and no final newline.
    static let sample = Data([0xEF, 0xBB, 0xBF]) + Data(
        """
        {"id": 1, "text": "héllo"}\r
        \r

        {"id": 2, "text": "日本語", "nested": {"a": [1, 2]}}
        {not json}
           \t
        [1, 2]
        {"id": 3, "emoji": "🚀"}
        """.utf8)

    /// What a reader produced, in a form that compares whole results.
    static func summary(_ entries: [JSONLReader.Entry]) -> [String] {
        entries.map { entry in
            switch entry {
            case .success(let r): return "\(r.line) ok \(r.value.serializedString) | \(r.raw)"
            case .failure(let e): return "\(e.line) \(e.code) \(e.problem.message) | \(e.raw ?? "-")"
            }
        }
    }

    @Test func readsTheSample() {
        let entries = JSONLReader.read(Self.sample)
        let lines = entries.map { entry -> Int in
            switch entry {
            case .success(let r): return r.line
            case .failure(let e): return e.line
            }
        }
        #expect(lines == [1, 4, 5, 7, 8])
        guard case .success(let first) = entries[0] else { Issue.record("line 1 should parse"); return }
        #expect(first.raw == #"{"id": 1, "text": "héllo"}"#)
        #expect(first.object["text"] == "héllo")
        #expect(first.object.keys == ["id", "text"])
        guard case .success(let second) = entries[1] else { Issue.record("line 4 should parse"); return }
        #expect(second.object.keys == ["id", "text", "nested"])
        guard case .failure(let bad) = entries[2] else { Issue.record("line 5 should fail"); return }
        #expect(bad.code == "InvalidInput")
        #expect(bad.raw == "{not json}")
        #expect(bad.message.hasPrefix("line 5: invalid JSON"))
        guard case .failure(let array) = entries[3] else { Issue.record("line 7 should fail"); return }
        #expect(array.problem == .invalidInput("the line is an array, not a JSON object"))
        guard case .success(let last) = entries[4] else { Issue.record("line 8 should parse"); return }
        #expect(last.object["emoji"] == "🚀")
    }

    @Test func everySplitPointGivesTheSameRecords() {
        let whole = Self.summary(JSONLReader.read(Self.sample))
        let bytes = [UInt8](Self.sample)
        for cut in 0...bytes.count {
            var reader = JSONLReader()
            let entries = reader.feed(Data(bytes[..<cut])) + reader.feed(Data(bytes[cut...])) + reader.finish()
            #expect(Self.summary(entries) == whole, "split at byte \(cut)")
        }
    }

    @Test func everySplitIntoThreeGivesTheSameRecords() {
        let whole = Self.summary(JSONLReader.read(Self.sample))
        let bytes = [UInt8](Self.sample)
        for a in stride(from: 0, through: bytes.count, by: 3) {
            for b in a...bytes.count {
                var reader = JSONLReader()
                var entries = reader.feed(Data(bytes[..<a]))
                entries += reader.feed(Data(bytes[a..<b]))
                entries += reader.feed(Data(bytes[b...]))
                entries += reader.finish()
                #expect(Self.summary(entries) == whole, "split at bytes \(a) and \(b)")
            }
        }
    }

    @Test func oneByteAtATime() {
        var reader = JSONLReader()
        var entries: [JSONLReader.Entry] = []
        for byte in Self.sample { entries += reader.feed(Data([byte])) }
        entries += reader.finish()
        #expect(Self.summary(entries) == Self.summary(JSONLReader.read(Self.sample)))
    }

    @Test func recordsComeOutAsSoonAsTheirLineEnds() {
        var reader = JSONLReader()
        #expect(reader.feed(Data(#"{"a": 1}"#.utf8)).isEmpty)
        #expect(reader.feed(Data("\n{\"b\"".utf8)).count == 1)
        #expect(reader.feed(Data(": 2}\n".utf8)).count == 1)
        #expect(reader.finish().isEmpty)
    }

    @Test func badLineIsIsolated() {
        let data = Data("{\"a\": 1}\n{\"a\": 2,}\n{\"a\": 3}\n".utf8)
        let entries = JSONLReader.read(data)
        #expect(entries.count == 3)
        let ok = entries.compactMap { try? $0.get().object["a"] }
        #expect(ok == [1, 3])
        if case .failure(let e) = entries[1] {
            #expect(e.line == 2)
            #expect(e.raw == #"{"a": 2,}"#)
        } else {
            Issue.record("line 2 should fail")
        }
    }

    @Test func notAnObject() {
        let entries = JSONLReader.read(Data("\"text\"\n42\nnull\ntrue\n".utf8))
        let messages = entries.map { (try? $0.get()) == nil ? ($0.errorMessage ?? "") : "ok" }
        #expect(messages == [
            "line 1: the line is a string, not a JSON object",
            "line 2: the line is a number, not a JSON object",
            "line 3: the line is null, not a JSON object",
            "line 4: the line is a boolean, not a JSON object",
        ])
    }

    @Test func bomOnlyAtTheStart() {
        let bom = Data([0xEF, 0xBB, 0xBF])
        let entries = JSONLReader.read(bom + Data("{\"a\": 1}\n".utf8) + bom + Data("{\"a\": 2}\n".utf8))
        #expect((try? entries[0].get().raw) == #"{"a": 1}"#)
        #expect((try? entries[1].get()) == nil, "a BOM inside the file is not skipped")
        // A partial BOM followed by something else is kept (and is bad UTF-8 here).
        let partial = JSONLReader.read(Data([0xEF, 0xBB]) + Data("{}\n".utf8))
        #expect(partial.first?.errorMessage == "line 1: the line is not valid UTF-8")
        // Only a BOM: nothing.
        #expect(JSONLReader.read(bom).isEmpty)
    }

    @Test func crlfAndBlankLines() {
        let entries = JSONLReader.read(Data("\r\n\r\n{\"a\": \"x\"}\r\n  \r\n\n{\"a\": \"y\"}\r\n\r\n".utf8))
        let records = entries.compactMap { try? $0.get() }
        #expect(records.map(\.line) == [3, 6])
        #expect(records.map(\.raw) == [#"{"a": "x"}"#, #"{"a": "y"}"#])
        #expect(entries.count == 2)
    }

    @Test func lineTooLong() {
        let long = "{\"text\": \"" + String(repeating: "x", count: 100) + "\"}"
        let data = Data("{\"a\": 1}\n\(long)\n{\"a\": 2}".utf8)
        let entries = JSONLReader.read(data, maxLineBytes: 50)
        #expect(entries.count == 3)
        #expect(entries[1].errorMessage == "line 2: the line is longer than the limit of 50 bytes")
        if case .failure(let e) = entries[1] {
            #expect(e.code == "InputTooLarge")
            #expect(e.raw == nil)
        }
        #expect((try? entries[2].get().line) == 3)
    }

    @Test func lineTooLongAcrossChunks() {
        var reader = JSONLReader(maxLineBytes: 10)
        var entries: [JSONLReader.Entry] = []
        entries += reader.feed(Data("{\"a\":1}\n{\"b\":\"".utf8))
        for _ in 0..<1000 { entries += reader.feed(Data(repeating: UInt8(ascii: "z"), count: 1000)) }
        entries += reader.feed(Data("\"}\r\n{\"c\":3}".utf8))
        entries += reader.finish()
        #expect(entries.count == 3)
        #expect(entries[1].errorCode == "InputTooLarge")
        #expect((try? entries[2].get().object["c"]) == 3)
    }

    @Test func lineExactlyAtTheLimitWithCRLF() {
        let line = #"{"k":"abc"}"#  // 11 bytes
        let entries = JSONLReader.read(Data((line + "\r\n" + line + "x\r\n").utf8), maxLineBytes: 11)
        #expect((try? entries[0].get().raw) == line)
        #expect(entries[1].errorCode == "InputTooLarge")
    }

    @Test func lastLineWithoutNewline() {
        var reader = JSONLReader()
        #expect(reader.feed(Data(#"{"x": true}"#.utf8)).isEmpty)
        let tail = reader.finish()
        #expect((try? tail.first?.get().object["x"]) == true)
    }

    @Test func invalidUTF8Line() {
        let data = Data("{\"a\": \"".utf8) + Data([0xFF, 0xFE]) + Data("\"}\n{\"a\": 1}\n".utf8)
        let entries = JSONLReader.read(data)
        #expect(entries[0].errorMessage == "line 1: the line is not valid UTF-8")
        #expect((try? entries[1].get().line) == 2)
    }

    @Test func streamsFromAnAsyncSequence() async throws {
        let (stream, continuation) = AsyncStream<Data>.makeStream()
        let bytes = [UInt8](Self.sample)
        for start in stride(from: 0, to: bytes.count, by: 7) {
            continuation.yield(Data(bytes[start..<min(start + 7, bytes.count)]))
        }
        continuation.finish()
        var entries: [JSONLReader.Entry] = []
        try await JSONLReader.forEachRecord(in: stream) { entries.append($0) }
        #expect(Self.summary(entries) == Self.summary(JSONLReader.read(Self.sample)))
    }
}

extension Result where Failure == RecordError {
    var errorMessage: String? {
        if case .failure(let e) = self { return e.message }
        return nil
    }

    var errorCode: String? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}
