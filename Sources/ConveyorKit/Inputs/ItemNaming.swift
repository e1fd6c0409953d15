import AWSCore

/// Names and ids of items taken from input objects.
///
/// - `{{item.name}}` is the key's last component without its last extension:
///   `tickets/2026/123.txt` → `123`, `a.tar.gz` → `a.tar`, `.hidden` → `.hidden` (a dot that
///   only starts the name is not an extension), `noext` → `noext`, `notes.` → `notes`. A key that
///   ends in `/` is named by its last non-empty component. Every record of one jsonl or csv object
///   shares the object's name: use `{{item.id}}` to tell records apart.
/// - The id of a jsonl line or csv row is `KEY#LINE` (`data/in.jsonl#7`, the full key and the
///   record's 1-based line), or, when the job names an `idField`, that field's value as is. A jsonl
///   id field must be a non-empty string or an integer; a csv id field must be non-empty. The
///   runner must still check that ids are unique within a run.
public enum ItemNaming {
    /// `{{item.name}}` for an object key.
    public static func name(ofKey key: String) -> String {
        let component = key.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? ""
        guard let dot = component.lastIndex(of: ".") else { return component }
        // Leading dots belong to the name: `.hidden`, `..x`.
        if component[..<dot].allSatisfy({ $0 == "." }) { return component }
        return String(component[..<dot])
    }

    /// `KEY#LINE`, the default id of a jsonl line or csv row.
    public static func recordID(key: String, line: Int) -> String { "\(key)#\(line)" }

    /// The id of a jsonl record: `KEY#LINE`, or the value of `idField` when the job names one.
    public static func recordID(key: String, record: JSONLRecord, idField: String?) throws(InputProblem) -> String {
        guard let idField else { return recordID(key: key, line: record.line) }
        switch record.object[idField] {
        case nil:
            throw .invalidInput("line \(record.line) has no field \"\(idField)\" for the item id")
        case .string(let s) where !s.isEmpty:
            return s
        case .integer(let i):
            return String(i)
        case let value?:
            let what = value == .string("") ? "an empty string" : JSONLReader.kind(of: value)
            throw .invalidInput(
                "the id field \"\(idField)\" on line \(record.line) is \(what); it must be a non-empty string or an integer")
        }
    }

    /// The id of a csv row: `KEY#LINE`, or the value of the `idField` column when the job names one.
    public static func recordID(key: String, row: CSVRow, idField: String?) throws(InputProblem) -> String {
        guard let idField else { return recordID(key: key, line: row.line) }
        guard let value = row[idField] else {
            throw .invalidInput("the csv header has no column \"\(idField)\" for the item id")
        }
        guard !value.isEmpty else {
            throw .invalidInput("the id column \"\(idField)\" is empty in the row on line \(row.line)")
        }
        return value
    }

    /// Checks once, after the header, that a csv object has the `idField` column (a missing column
    /// fails the whole object rather than every row).
    public static func checkIDField(_ idField: String?, in header: CSVHeader) throws(InputProblem) {
        guard let idField, header.index(of: idField) == nil else { return }
        throw .invalidInput("the csv header has no column \"\(idField)\" for the item id")
    }
}
