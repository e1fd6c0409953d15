import Foundation

/// A parsed XML element: enough of XML for S3's and STS's answers (elements, attributes, text,
/// entity and character references, CDATA, comments, processing instructions). No DTDs: a
/// `<!DOCTYPE` is refused, so no entity expansion can blow up.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var attributes: [String: String]
    public var children: [XMLElement]
    /// The concatenated character data directly inside this element.
    public var text: String

    public init(name: String, attributes: [String: String] = [:], children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The local name (without a namespace prefix).
    public var localName: String {
        if let colon = name.lastIndex(of: ":") { return String(name[name.index(after: colon)...]) }
        return name
    }

    /// The first child with this local name.
    public func child(_ name: String) -> XMLElement? { children.first { $0.localName == name } }

    /// Every child with this local name.
    public func children(_ name: String) -> [XMLElement] { children.filter { $0.localName == name } }

    /// The text of the first child with this local name.
    public func text(of name: String) -> String? { child(name)?.text }

    /// Parses a whole document and returns its root element.
    public static func parse(_ data: Data) throws(XMLParseError) -> XMLElement {
        var parser = MiniXMLParser(bytes: [UInt8](data))
        return try parser.parseDocument()
    }

    /// Escapes text for use in element content or attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

public struct XMLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "invalid XML at byte \(offset): \(message)" }
}

private struct MiniXMLParser {
    let bytes: [UInt8]
    var i = 0
    let maxDepth = 256

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func fail(_ message: String) -> XMLParseError { XMLParseError(message: message, offset: i) }

    func peek(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard i + u.count <= bytes.count else { return false }
        for k in 0..<u.count where bytes[i + k] != u[k] { return false }
        return true
    }

    mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func skip(past terminator: String) throws(XMLParseError) {
        let t = Array(terminator.utf8)
        while i + t.count <= bytes.count {
            if bytes[i] == t[0] && Array(bytes[i..<(i + t.count)]) == t {
                i += t.count
                return
            }
            i += 1
        }
        throw fail("unterminated construct, expected \(terminator)")
    }

    /// Skips the prolog: BOM, XML declaration, comments, processing instructions, whitespace.
    mutating func skipMisc() throws(XMLParseError) {
        while true {
            skipWhitespace()
            if peek("<?") { try skip(past: "?>") } else if peek("<!--") { try skip(past: "-->") } else { return }
        }
    }

    mutating func parseDocument() throws(XMLParseError) -> XMLElement {
        if peek("\u{FEFF}") { i += 3 }
        try skipMisc()
        if peek("<!DOCTYPE") || peek("<!doctype") { throw fail("document type declarations are not accepted") }
        guard peek("<") else { throw fail("expected a root element") }
        let root = try parseElement(depth: 0)
        try skipMisc()
        guard i == bytes.count else { throw fail("content after the root element") }
        return root
    }

    mutating func parseName() throws(XMLParseError) -> String {
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == UInt8(ascii: ">") || b == UInt8(ascii: "/")
                || b == UInt8(ascii: "=") { break }
            i += 1
        }
        guard i > start else { throw fail("expected a name") }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    mutating func parseElement(depth: Int) throws(XMLParseError) -> XMLElement {
        guard depth < maxDepth else { throw fail("elements nested too deeply") }
        i += 1  // <
        var element = XMLElement(name: try parseName())
        // attributes
        while true {
            skipWhitespace()
            guard i < bytes.count else { throw fail("unterminated start tag") }
            if peek("/>") {
                i += 2
                return element
            }
            if bytes[i] == UInt8(ascii: ">") {
                i += 1
                break
            }
            let attrName = try parseName()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { throw fail("expected = after attribute") }
            i += 1
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
                throw fail("expected a quoted attribute value")
            }
            let quote = bytes[i]
            i += 1
            let start = i
            while i < bytes.count, bytes[i] != quote { i += 1 }
            guard i < bytes.count else { throw fail("unterminated attribute value") }
            element.attributes[attrName] = try decodeEntities(bytes[start..<i])
            i += 1
        }
        // content
        var text: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated element <\(element.name)>") }
            if bytes[i] == UInt8(ascii: "<") {
                if peek("</") {
                    i += 2
                    let closing = try parseName()
                    guard closing == element.name else {
                        throw fail("</\(closing)> does not close <\(element.name)>")
                    }
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw fail("expected >") }
                    i += 1
                    element.text = String(decoding: text, as: UTF8.self)
                    return element
                } else if peek("<!--") {
                    try skip(past: "-->")
                } else if peek("<![CDATA[") {
                    i += 9
                    let start = i
                    try skip(past: "]]>")
                    text.append(contentsOf: bytes[start..<(i - 3)])
                } else if peek("<?") {
                    try skip(past: "?>")
                } else if peek("<!") {
                    throw fail("declarations are not accepted inside elements")
                } else {
                    element.children.append(try parseElement(depth: depth + 1))
                }
            } else {
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "<") { i += 1 }
                text.append(contentsOf: Array(try decodeEntities(bytes[start..<i]).utf8))
            }
        }
    }

    mutating func decodeEntities(_ slice: ArraySlice<UInt8>) throws(XMLParseError) -> String {
        guard slice.contains(UInt8(ascii: "&")) else { return String(decoding: slice, as: UTF8.self) }
        var out: [UInt8] = []
        var k = slice.startIndex
        while k < slice.endIndex {
            let b = slice[k]
            guard b == UInt8(ascii: "&") else {
                out.append(b)
                k += 1
                continue
            }
            guard let semi = slice[k...].firstIndex(of: UInt8(ascii: ";")), semi - k <= 12 else {
                throw fail("unterminated entity reference")
            }
            let name = String(decoding: slice[(k + 1)..<semi], as: UTF8.self)
            switch name {
            case "amp": out.append(UInt8(ascii: "&"))
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                var scalarValue: UInt32?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    scalarValue = UInt32(name.dropFirst(2), radix: 16)
                } else if name.hasPrefix("#") {
                    scalarValue = UInt32(name.dropFirst(1))
                }
                guard let value = scalarValue, let scalar = Unicode.Scalar(value) else {
                    throw fail("unknown entity &\(name);")
                }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            k = semi + 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
