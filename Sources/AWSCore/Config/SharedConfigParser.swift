import Foundation

/// A value in a shared config file: a plain string, or an indented sub-section such as
///
/// ```
/// s3 =
///     endpoint_url = http://localhost:9000
///     addressing_style = path
/// ```
public enum ConfigValue: Sendable, Equatable {
    case string(String)
    case subsection([String: String])

    /// The value when it is a plain string.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The entries when the value is an indented sub-section.
    public var subsection: [String: String]? {
        if case .subsection(let values) = self { return values }
        return nil
    }
}

/// One `[header]` section of an INI file, with its raw header text (`profile dev`, `default`,
/// `services local`).
public struct ConfigSection: Sendable, Equatable {
    public var name: String
    public var values: [String: ConfigValue]

    public init(name: String, values: [String: ConfigValue]) {
        self.name = name
        self.values = values
    }
}

/// Parses `~/.aws/config` and `~/.aws/credentials` as botocore does: Python's
/// `configparser.RawConfigParser` (via `botocore.configloader.raw_config_parse`), then one level
/// of indented sub-sections.
///
/// Rules (checked against botocore 1.43.11):
/// - A section header is `[` ... `]`: the name is everything between the first `[` and the last
///   `]` of the line, unstripped (`[ default ]` is the section " default ", which is no profile).
/// - A key line is `key = value` or `key: value`, split at the first `=` or `:`; whitespace around
///   both is dropped. Keys are lowercased; sub-section keys keep their case.
/// - A line whose first non-blank character is `#` or `;` is a comment, anywhere, even indented.
///   There are no inline comments: `region = us-east-1 # x` has the value `us-east-1 # x`, as in
///   botocore (region validation then rejects it with a clear message).
/// - A line indented deeper than the key line above it continues that value. A value that starts
///   on the next line (`s3 =` then indented lines) is a sub-section of `key = value` lines split
///   at the first `=` only. Blank lines inside a value are kept, trailing ones dropped.
/// - Line endings may be LF, CRLF or CR. A leading UTF-8 byte order mark is skipped (botocore
///   rejects it; accepting it costs nothing).
/// - A repeated section is merged into the first, and a repeated key takes the later value
///   (botocore's strict configparser rejects both; the AWS SDK file-format spec merges).
/// - A key line before any section, a line with neither `=` nor `:`, an empty key, or a
///   sub-section line without `=` is an error naming the file and line. Messages never quote the
///   line, which may hold a secret.
public enum SharedConfigParser {
    /// Parses `text`; `path` only labels errors. Sections come back in order of first appearance.
    public static func parse(_ text: String, path: String) throws -> [ConfigSection] {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        let lines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })

        struct PendingValue {
            var lines: [(text: String, line: Int)]
        }
        var order: [String] = []
        var sections: [String: [String: PendingValue]] = [:]
        var current: String?
        var option: String?
        var indentLevel = 0

        func fail(_ line: Int, _ message: String) -> AWSConfigError {
            AWSConfigError(kind: .malformedFile, message: message, path: path, line: line)
        }

        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            let stripped = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if stripped.hasPrefix("#") || stripped.hasPrefix(";") { continue }  // comment: never part of a value
            if stripped.isEmpty {
                if let section = current, let key = option {
                    sections[section]?[key]?.lines.append(("", lineNumber))
                }
                continue
            }
            let indent = rawLine.prefix(while: { $0.isWhitespace }).count
            if let section = current, let key = option, indent > indentLevel {
                sections[section]?[key]?.lines.append((stripped, lineNumber))
                continue
            }
            indentLevel = indent
            if stripped.hasPrefix("["), let close = stripped.lastIndex(of: "]"),
               close > stripped.index(after: stripped.startIndex) {
                let name = String(stripped[stripped.index(after: stripped.startIndex)..<close])
                if sections[name] == nil {
                    sections[name] = [:]
                    order.append(name)
                }
                current = name
                option = nil
                continue
            }
            guard let section = current else {
                throw fail(lineNumber, "expected a section header such as [default] before the first setting")
            }
            guard let delimiter = stripped.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw fail(lineNumber, "expected 'key = value', a [section] header or a comment")
            }
            let key = stripped[..<delimiter].trimmingCharacters(in: .whitespaces).lowercased()
            guard !key.isEmpty else { throw fail(lineNumber, "a setting has no name before '\(stripped[delimiter])'") }
            let value = stripped[stripped.index(after: delimiter)...].trimmingCharacters(in: .whitespaces)
            sections[section]?[key] = PendingValue(lines: [(value, lineNumber)])
            option = key
        }

        var result: [ConfigSection] = []
        for name in order {
            var values: [String: ConfigValue] = [:]
            for (key, pending) in sections[name] ?? [:] {
                var parts = pending.lines
                while let last = parts.last, last.text.isEmpty, parts.count > 1 { parts.removeLast() }
                if parts.count > 1 && parts[0].text.isEmpty {
                    // `key =` followed by indented lines: a sub-section.
                    var nested: [String: String] = [:]
                    for part in parts.dropFirst() where !part.text.isEmpty {
                        guard let equals = part.text.firstIndex(of: "=") else {
                            throw fail(part.line, "expected 'key = value' inside the indented block under '\(key)'")
                        }
                        let nestedKey = part.text[..<equals].trimmingCharacters(in: .whitespaces)
                        nested[nestedKey] = part.text[part.text.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                    }
                    values[key] = .subsection(nested)
                } else {
                    values[key] = .string(parts.map(\.text).joined(separator: "\n"))
                }
            }
            result.append(ConfigSection(name: name, values: values))
        }
        return result
    }

    /// Reads and parses a file; nil when there is no regular file at `path` (botocore's
    /// `ConfigNotFound`, which is not an error).
    public static func load(path: String) throws -> [ConfigSection]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return nil
        }
        // FileHandle, not Data(contentsOf:): the latter fails on /dev/null and other non-regular files
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AWSConfigError(kind: .unreadableFile, message: "cannot be read: \(String(cString: strerror(errno)))", path: path)
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            throw AWSConfigError(kind: .unreadableFile, message: "cannot be read", path: path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AWSConfigError(kind: .malformedFile, message: "is not valid UTF-8 text", path: path)
        }
        return try parse(text, path: path)
    }
}
