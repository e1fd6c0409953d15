import AWSCore
import ConveyorKit
import Foundation
import Testing

@Suite("Text input")
struct InputsTextTests {
    @Test func plainText() throws {
        #expect(try TextInput.decode(Data("Ticket 123: printer on fire\n".utf8)) == "Ticket 123: printer on fire\n")
        #expect(try TextInput.decode(Data("naïve 日本 🚀".utf8)) == "naïve 日本 🚀")
    }

    @Test func bomIsRemoved() throws {
        #expect(try TextInput.decode(Data([0xEF, 0xBB, 0xBF]) + Data("hi".utf8)) == "hi")
    }

    @Test func empty() {
        #expect(throws: InputProblem.emptyInput("the object is empty")) { try TextInput.decode(Data()) }
        #expect(throws: InputProblem.emptyInput("the object is empty")) { try TextInput.decode(Data([0xEF, 0xBB, 0xBF])) }
        #expect(throws: InputProblem.emptyInput("the object holds only whitespace")) {
            try TextInput.decode(Data(" \n\t\r\n".utf8))
        }
    }

    @Test func notUTF8() throws {
        let error = try #require(throws: InputProblem.self) {
            try TextInput.decode(Data("abc".utf8) + Data([0xE9]) + Data("t\u{E9}".utf8))
        }
        #expect(error.code == "InvalidInput")
        #expect(error.message == "the object is not valid UTF-8 text (bad byte at offset 3)")
        // Latin-1 with a BOM in front: the offset counts the BOM.
        let withBOM = try #require(throws: InputProblem.self) {
            try TextInput.decode(Data([0xEF, 0xBB, 0xBF, 0x61, 0xFF]))
        }
        #expect(withBOM.message == "the object is not valid UTF-8 text (bad byte at offset 4)")
        // A truncated multi-byte sequence at the end.
        #expect(throws: InputProblem.self) { try TextInput.decode(Data("ok".utf8) + Data([0xE6, 0x97])) }
    }

    @Test func tooLarge() {
        #expect(throws: InputProblem.inputTooLarge("the object is 11 bytes; the limit is 10")) {
            try TextInput.decode(Data(repeating: 0x61, count: 11), maxBytes: 10)
        }
        #expect(throws: Never.self) { try TextInput.decode(Data(repeating: 0x61, count: 10), maxBytes: 10) }
        #expect(throws: InputProblem.inputTooLarge("the object is 5000000 bytes; the limit is 1048576")) {
            try TextInput.checkSize(5_000_000)
        }
    }

    @Test func accumulatorStopsAtTheLimit() throws {
        var accumulator = TextInput.Accumulator(maxBytes: 8)
        try accumulator.append(Data("1234".utf8))
        #expect(throws: InputProblem.inputTooLarge("the object is at least 9 bytes; the limit is 8")) {
            try accumulator.append(Data("56789".utf8))
        }
        var ok = TextInput.Accumulator(maxBytes: 8)
        try ok.append(Data("día".utf8.prefix(2)))
        try ok.append(Data("día".utf8.dropFirst(2)))
        #expect(try ok.finish() == "día")
    }

    @Test func problemCodes() {
        #expect(InputProblem.invalidInput("x").code == "InvalidInput")
        #expect(InputProblem.emptyInput("x").code == "EmptyInput")
        #expect(InputProblem.inputTooLarge("x").code == "InputTooLarge")
        #expect(InputProblem.emptyInput("the object is empty").description == "EmptyInput: the object is empty")
    }
}

@Suite("Item names and ids")
struct InputsItemNamingTests {
    @Test("item.name", arguments: [
        ("tickets/2026/123.txt", "123"),
        ("a.tar.gz", "a.tar"),
        (".hidden", ".hidden"),
        ("dir/.hidden", ".hidden"),
        ("..odd", "..odd"),
        (".config.yaml", ".config"),
        ("noext", "noext"),
        ("dir.v2/noext", "noext"),
        ("notes.", "notes"),
        ("reports/q3/", "q3"),
        ("日本/報告.md", "報告"),
        ("", ""),
    ])
    func name(_ key: String, _ expected: String) {
        #expect(ItemNaming.name(ofKey: key) == expected)
    }

    static func record(_ json: String, line: Int = 7) throws -> JSONLRecord {
        let value = try JSONValue.parse(Data(json.utf8))
        return JSONLRecord(line: line, object: value.objectValue!, raw: json)
    }

    @Test func jsonlIDs() throws {
        let r = try Self.record(#"{"ticket": "T-9", "n": 42, "f": 1.5, "e": "", "b": true}"#)
        #expect(try ItemNaming.recordID(key: "in/batch.jsonl", record: r, idField: nil) == "in/batch.jsonl#7")
        #expect(try ItemNaming.recordID(key: "in/batch.jsonl", record: r, idField: "ticket") == "T-9")
        #expect(try ItemNaming.recordID(key: "in/batch.jsonl", record: r, idField: "n") == "42")
        #expect(throws: InputProblem.invalidInput("line 7 has no field \"missing\" for the item id")) {
            try ItemNaming.recordID(key: "k", record: r, idField: "missing")
        }
        #expect(throws: InputProblem.invalidInput(
            "the id field \"f\" on line 7 is a number; it must be a non-empty string or an integer")) {
            try ItemNaming.recordID(key: "k", record: r, idField: "f")
        }
        #expect(throws: InputProblem.invalidInput(
            "the id field \"e\" on line 7 is an empty string; it must be a non-empty string or an integer")) {
            try ItemNaming.recordID(key: "k", record: r, idField: "e")
        }
        #expect(throws: InputProblem.self) { try ItemNaming.recordID(key: "k", record: r, idField: "b") }
    }

    @Test func csvIDs() throws {
        let entries = try CSVReader.read(Data("sku,desc\nA-1,thing\n,blank\n".utf8))
        let row = try entries[0].get()
        let blank = try entries[1].get()
        #expect(try ItemNaming.recordID(key: "cat.csv", row: row, idField: nil) == "cat.csv#2")
        #expect(try ItemNaming.recordID(key: "cat.csv", row: row, idField: "sku") == "A-1")
        #expect(throws: InputProblem.invalidInput("the id column \"sku\" is empty in the row on line 3")) {
            try ItemNaming.recordID(key: "cat.csv", row: blank, idField: "sku")
        }
        #expect(throws: InputProblem.invalidInput("the csv header has no column \"id\" for the item id")) {
            try ItemNaming.checkIDField("id", in: row.header)
        }
        #expect(throws: Never.self) { try ItemNaming.checkIDField("sku", in: row.header) }
        #expect(throws: Never.self) { try ItemNaming.checkIDField(nil, in: row.header) }
    }
}
