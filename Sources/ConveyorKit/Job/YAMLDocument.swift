import Foundation
import Yams

/// A job file read into YAML nodes, refusing hostile files quickly: larger than `maxBytes`, not
/// UTF-8, nested deeper than `maxDepth`, or expanding (through aliases) to more than `maxNodes`.
public struct YAMLDocument {
    public static let maxBytes = 1024 * 1024
    public static let maxDepth = 64
    public static let maxNodes = 100_000

    public let path: String
    public let text: String
    let root: Node?

    /// Parses `data` (the file at `path`); the errors are located diagnostics.
    public init(path: String, data: Data) throws(DiagnosticsError) {
        self.path = path
        guard data.count <= Self.maxBytes else {
            throw DiagnosticsError([.error(at: SourceLocation(file: path, line: 1, column: 1),
                "the file is \(data.count) bytes; job files are limited to \(Self.maxBytes) bytes (1 MiB)")])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw DiagnosticsError([.error(at: Self.locationOfInvalidUTF8(data, path: path),
                "the file is not valid UTF-8 text; save it as UTF-8")])
        }
        self.text = text
        if let (line, depth) = Self.flowNestingTooDeep(text) {
            throw DiagnosticsError([.error(at: SourceLocation(file: path, line: line, column: 1),
                "nested more than \(Self.maxDepth) levels deep (\(depth)); job files are shallow, is this the right file?")])
        }
        do {
            let parser = try Parser(yaml: text)
            root = try parser.singleRoot()
        } catch let error as YamlError {
            throw DiagnosticsError([Self.diagnostic(for: error, path: path)])
        } catch {
            throw DiagnosticsError([.error(at: SourceLocation(file: path, line: 1, column: 1), "\(error)")])
        }
        if let root {
            var budget = Self.maxNodes
            if let problem = Self.checkSize(root, depth: 0, budget: &budget) {
                throw DiagnosticsError([.error(at: root.mark.map { SourceLocation(file: path, line: $0.line, column: $0.column) },
                                               problem)])
            }
        }
    }

    /// Reads and parses the file at `path`.
    public static func load(path: String) throws(DiagnosticsError) -> YAMLDocument {
        let url = URL(fileURLWithPath: path)
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > maxBytes {
            throw DiagnosticsError([.error(at: SourceLocation(file: path, line: 1, column: 1),
                "the file is \(size) bytes; job files are limited to \(maxBytes) bytes (1 MiB)")])
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DiagnosticsError([.error(at: nil, "cannot read \(path): \(Self.reason(error))")])
        }
        return try YAMLDocument(path: path, data: data)
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        return ns.localizedDescription
    }

    static func checkSize(_ node: Node, depth: Int, budget: inout Int) -> String? {
        budget -= 1
        if budget < 0 {
            return "the document expands to more than \(maxNodes) values (through aliases?); job files are small"
        }
        if depth > maxDepth { return "nested more than \(maxDepth) levels deep" }
        switch node {
        case .scalar, .alias: return nil
        case .mapping(let mapping):
            for (key, value) in mapping {
                if let problem = checkSize(key, depth: depth + 1, budget: &budget) { return problem }
                if let problem = checkSize(value, depth: depth + 1, budget: &budget) { return problem }
            }
        case .sequence(let sequence):
            for element in sequence {
                if let problem = checkSize(element, depth: depth + 1, budget: &budget) { return problem }
            }
        }
        return nil
    }

    /// Finds flow collections (`[`/`{`) nested deeper than `maxDepth` before the YAML parser
    /// recurses into them. Quoted text and comments are skipped; block scalars may hold brackets,
    /// so the bound is generous.
    static func flowNestingTooDeep(_ text: String) -> (line: Int, depth: Int)? {
        var depth = 0
        var line = 1
        var quote: UInt8? = nil
        var previous: UInt8 = 0x0A
        var inComment = false
        for byte in text.utf8 {
            if byte == 0x0A {
                line += 1
                inComment = false
                if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { /* multi-line quoted: stays */ }
                previous = byte
                continue
            }
            if inComment { continue }
            if let q = quote {
                if byte == q && previous != UInt8(ascii: "\\") { quote = nil }
            } else if byte == UInt8(ascii: "#") && (previous == 0x20 || previous == 0x09 || previous == 0x0A) {
                inComment = true
            } else if byte == UInt8(ascii: "\"") || (byte == UInt8(ascii: "'") && (previous == 0x20 || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{") || previous == UInt8(ascii: ":") || previous == 0x0A)) {
                quote = byte
            } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                depth += 1
                if depth > maxDepth * 4 { return (line, depth) }
            } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                depth = max(0, depth - 1)
            }
            previous = byte
        }
        return nil
    }

    /// The line and column of the first byte that is not part of valid UTF-8.
    static func locationOfInvalidUTF8(_ data: Data, path: String) -> SourceLocation {
        let bytes = [UInt8](data)
        var i = 0
        var line = 1
        var column = 1
        while i < bytes.count {
            let b = bytes[i]
            var length = 0
            if b < 0x80 { length = 1 } else if b & 0xE0 == 0xC0, b >= 0xC2 { length = 2 } else if b & 0xF0 == 0xE0 {
                length = 3
            } else if b & 0xF8 == 0xF0, b <= 0xF4 { length = 4 }
            guard length > 0, i + length <= bytes.count,
                  String(validating: bytes[i..<(i + length)], as: UTF8.self) != nil
            else { break }
            if b == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
            i += length
        }
        return SourceLocation(file: path, line: line, column: column)
    }

    static func diagnostic(for error: YamlError, path: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: path, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(let context, let problem, let mark, let yaml), .parser(let context, let problem, let mark, let yaml),
             .composer(let context, let problem, let mark, let yaml):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))" }
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            let start = max(0, (context?.mark.line ?? mark.line) - 1)
            let end = min(lines.count, mark.line)
            if start < end, lines[start..<end].contains(where: { $0.contains("{{") }) {
                message += "; a {{template}} inside a { } mapping or [ ] list must be quoted, as in {s3: \"out/{{item.name}}.json\"}"
            }
            return .error(at: at(mark), message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return .error(at: at(context.mark),
                          "the key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) appears more than once in the same mapping")
        case .reader(let problem, let offset, _, _):
            return .error(at: SourceLocation(file: path, line: 1, column: 1),
                          "invalid YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        default:
            return .error(at: SourceLocation(file: path, line: 1, column: 1), "invalid YAML: \(error)")
        }
    }
}
