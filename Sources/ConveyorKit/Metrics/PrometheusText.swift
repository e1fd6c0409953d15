import Foundation

/// Prometheus's text exposition format (version 0.0.4), as node_exporter's textfile collector
/// reads it: for each metric family a `# HELP` and a `# TYPE` line, then its samples, grouped;
/// no timestamps (the collector refuses them).
///
/// Label values escape `\`, `"` and newline as `\\`, `\"` and `\n`; help texts escape `\` and
/// newline. ``parse(_:)`` reads the same format back, strictly, with errors that name the line.
public enum PrometheusText {
    public enum MetricType: String, Sendable, Equatable {
        case gauge, counter, untyped
    }

    public struct Sample: Sendable, Equatable {
        public var name: String
        /// In the order written.
        public var labels: [(name: String, value: String)]
        public var value: Double

        public init(name: String, labels: [(name: String, value: String)], value: Double) {
            self.name = name
            self.labels = labels
            self.value = value
        }

        public func label(_ name: String) -> String? { labels.first { $0.name == name }?.value }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.value.bitPattern == b.value.bitPattern
                && a.labels.map(\.name) == b.labels.map(\.name) && a.labels.map(\.value) == b.labels.map(\.value)
        }
    }

    public struct Family: Sendable, Equatable {
        public var name: String
        public var help: String
        public var type: MetricType
        public var samples: [Sample]

        public init(name: String, help: String, type: MetricType, samples: [Sample]) {
            self.name = name
            self.help = help
            self.type = type
            self.samples = samples
        }
    }

    /// A file that is not in the format, at a line (counting from 1).
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    // MARK: Writing

    /// The families as exposition text, ending with a newline.
    public static func render(_ families: [Family]) -> String {
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            out += "# TYPE \(family.name) \(family.type.rawValue)\n"
            for sample in family.samples {
                out += sample.name
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",") + "}"
                }
                out += " " + format(sample.value) + "\n"
            }
        }
        return out
    }

    /// A label value: `\\`, `\"` and `\n` for backslash, double quote and newline.
    public static func escapeLabelValue(_ value: String) -> String { escape(value, quotes: true) }

    /// A HELP text: `\\` and `\n` for backslash and newline.
    public static func escapeHelp(_ text: String) -> String { escape(text, quotes: false) }

    static func escape(_ text: String, quotes: Bool) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Whole numbers without a fraction, others in Swift's shortest exact form (which Go's
    /// ParseFloat reads), and `NaN`, `+Inf`, `-Inf`.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    // MARK: Reading

    /// Reads exposition text into families. Every sample must follow its family's `# TYPE` line
    /// (as this renderer writes them); other comments are skipped.
    public static func parse(_ text: String) throws(ParseError) -> [Family] {
        var families: [Family] = []
        var helps: [String: String] = [:]
        var seen: Set<String> = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard words.count >= 3, words[0] == "#", words[1] == "HELP" || words[1] == "TYPE" else { continue }
                let name = String(words[2])
                guard isValidMetricName(name) else { throw ParseError(line: number, message: "'\(name)' is not a metric name") }
                let rest = words.count > 3 ? String(words[3]) : ""
                if words[1] == "HELP" {
                    helps[name] = try unescapeHelp(rest, line: number)
                    if let last = families.indices.last, families[last].name == name { families[last].help = helps[name]! }
                } else {
                    guard let type = MetricType(rawValue: rest) else {
                        throw ParseError(line: number, message: "unknown type '\(rest)' for \(name) (gauge, counter or untyped)")
                    }
                    guard seen.insert(name).inserted else {
                        throw ParseError(line: number, message: "a second TYPE line for \(name): a family's samples must be together")
                    }
                    families.append(Family(name: name, help: helps[name] ?? "", type: type, samples: []))
                }
                continue
            }
            let sample = try parseSample(line, line: number)
            guard let last = families.indices.last, families[last].name == sample.name else {
                throw ParseError(line: number, message: "the sample of \(sample.name) is not after its family's TYPE line")
            }
            families[last].samples.append(sample)
        }
        return families
    }

    static func parseSample(_ line: String, line number: Int) throws(ParseError) -> Sample {
        let scalars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < scalars.count, scalars[i] != "{", scalars[i] != " " {
            name.unicodeScalars.append(scalars[i])
            i += 1
        }
        guard isValidMetricName(name) else { throw ParseError(line: number, message: "'\(name)' is not a metric name") }
        var labels: [(name: String, value: String)] = []
        if i < scalars.count, scalars[i] == "{" {
            i += 1
            while true {
                guard i < scalars.count else { throw ParseError(line: number, message: "the labels of \(name) are not closed with '}'") }
                if scalars[i] == "}" { i += 1; break }
                var label = ""
                while i < scalars.count, scalars[i] != "=" {
                    label.unicodeScalars.append(scalars[i])
                    i += 1
                }
                guard isValidLabelName(label) else { throw ParseError(line: number, message: "'\(label)' is not a label name") }
                guard i + 1 < scalars.count, scalars[i + 1] == "\"" else {
                    throw ParseError(line: number, message: "the value of label \(label) must be in double quotes")
                }
                i += 2
                var value = ""
                while true {
                    guard i < scalars.count else { throw ParseError(line: number, message: "the value of label \(label) is not closed") }
                    let c = scalars[i]
                    if c == "\"" { i += 1; break }
                    if c == "\\" {
                        guard i + 1 < scalars.count else { throw ParseError(line: number, message: "a lone backslash in label \(label)") }
                        switch scalars[i + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw ParseError(line: number, message: "unknown escape '\\\(scalars[i + 1])' in label \(label)")
                        }
                        i += 2
                        continue
                    }
                    value.unicodeScalars.append(c)
                    i += 1
                }
                labels.append((label, value))
                if i < scalars.count, scalars[i] == "," { i += 1 }
            }
        }
        let rest = String(String.UnicodeScalarView(scalars[i...])).split(separator: " ")
        guard rest.count == 1 else {
            throw ParseError(line: number, message: rest.isEmpty ? "\(name) has no value"
                             : "\(name) has more than a value (timestamps are not allowed in textfile-collector files)")
        }
        let text = String(rest[0])
        let value: Double?
        switch text {
        case "NaN": value = .nan
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        default: value = Double(text)
        }
        guard let value else { throw ParseError(line: number, message: "'\(text)' is not a number") }
        return Sample(name: name, labels: labels, value: value)
    }

    static func unescapeHelp(_ text: String, line: Int) throws(ParseError) -> String {
        var out = ""
        var escaped = false
        for c in text {
            if escaped {
                switch c {
                case "\\": out += "\\"
                case "n": out += "\n"
                default: throw ParseError(line: line, message: "unknown escape '\\\(c)' in a HELP line")
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        if escaped { throw ParseError(line: line, message: "a HELP line ends with a lone backslash") }
        return out
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
