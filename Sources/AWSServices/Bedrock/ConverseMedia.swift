import Foundation

/// What Converse accepts in image and document blocks (AWS docs, "ContentBlock", "DocumentBlock",
/// "ImageBlock"), and how many input tokens such a block plausibly costs. The runner estimates
/// with these numbers and the emulator charges them, so a rehearsal's quota use matches.
public enum ConverseMedia {
    /// Document formats, as `document.format` takes them.
    public static let documentFormats = ["pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"]
    /// Image formats, as `image.format` takes them.
    public static let imageFormats = ["png", "jpeg", "gif", "webp"]
    /// The largest document Converse takes: 4.5 MB.
    public static let maxDocumentBytes = 4_500_000
    /// The largest image Converse takes: 3.75 MB.
    public static let maxImageBytes = 3_750_000
    /// Documents and images in one request.
    public static let maxDocuments = 5
    public static let maxImages = 20
    /// `document.name`: 1 to 200 characters.
    public static let maxDocumentNameLength = 200

    /// Whether `name` is a valid document name: only alphanumerics, whitespace (never two in a
    /// row), hyphens, parentheses and square brackets.
    public static func isValidDocumentName(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= maxDocumentNameLength else { return false }
        var previousSpace = false
        for c in name.unicodeScalars {
            let space = c == " " || c == "\t" || c == "\n"
            if space && previousSpace { return false }
            previousSpace = space
            if space || isDocumentNameSymbol(c) { continue }
            if c.isASCII && (CharacterSet.alphanumerics.contains(c)) { continue }
            return false
        }
        return true
    }

    static func isDocumentNameSymbol(_ c: Unicode.Scalar) -> Bool { "-()[]".unicodeScalars.contains(c) }

    /// A valid document name made from any text (a file name): characters outside the allowed
    /// set become hyphens, runs of spaces one space; at most 200 characters; never empty.
    public static func documentName(from text: String) -> String {
        var out = ""
        var previousSpace = false
        for c in text.unicodeScalars {
            if c == " " || c == "\t" {
                if !previousSpace && !out.isEmpty { out.unicodeScalars.append(" ") }
                previousSpace = true
                continue
            }
            previousSpace = false
            if (c.isASCII && CharacterSet.alphanumerics.contains(c)) || isDocumentNameSymbol(c) {
                out.unicodeScalars.append(c)
            } else {
                out.unicodeScalars.append("-")
            }
        }
        let trimmed = String(out.trimmingCharacters(in: .whitespaces).prefix(maxDocumentNameLength))
            .trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? "document" : trimmed
    }

    // MARK: Tokens

    /// An image's tokens as Anthropic documents them: width × height / 750, after scaling the
    /// long edge down to 1568 pixels; 1,600 when the size cannot be read from the header.
    public static func imageTokens(width: Int?, height: Int?) -> Int {
        guard let width, let height, width > 0, height > 0 else { return 1_600 }
        var w = Double(width)
        var h = Double(height)
        let long = max(w, h)
        if long > 1568 {
            w *= 1568 / long
            h *= 1568 / long
        }
        return max(1, Int((w * h / 750).rounded(.up)))
    }

    /// A document's tokens: text formats a token per 4 bytes, as text; binary formats (pdf,
    /// doc, docx, xls, xlsx, whose bytes are mostly markup, fonts and compression) one per 8.
    public static func documentTokens(bytes: Int, format: String?) -> Int {
        let textual = ["csv", "html", "txt", "md"].contains(format ?? "")
        return max(1, (bytes + (textual ? 3 : 7)) / (textual ? 4 : 8))
    }

    /// Input tokens of a block other than text (0 for text and blocks not modelled here).
    public static func tokens(_ block: ContentBlock) -> Int {
        switch block {
        case .image(let image):
            guard case .bytes(let data) = image.source else { return imageTokens(width: nil, height: nil) }
            let size = pixelSize(data)
            return imageTokens(width: size?.width, height: size?.height)
        case .document(let document):
            switch document.source {
            case .bytes(let data): return documentTokens(bytes: data.count, format: document.format)
            case .text(let text): return documentTokens(bytes: text.utf8.count, format: "txt")
            case .content(let parts): return documentTokens(bytes: parts.reduce(0) { $0 + $1.utf8.count }, format: "txt")
            case .s3: return 1_000
            }
        default:
            return 0
        }
    }

    /// The pixel size from a PNG, GIF, JPEG or WebP header, if it can be read.
    public static func pixelSize(_ data: Data) -> (width: Int, height: Int)? {
        let b = [UInt8](data.prefix(64 * 1024))
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        func le16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
        func be32(_ i: Int) -> Int { be16(i) << 16 | be16(i + 2) }
        // PNG: signature, then IHDR's width and height
        if b.count >= 24, b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return (be32(16), be32(20))
        }
        // GIF87a / GIF89a: logical screen size
        if b.count >= 10, b.starts(with: Array("GIF8".utf8)) { return (le16(6), le16(8)) }
        // WebP: RIFF....WEBP, then VP8 / VP8L / VP8X
        if b.count >= 30, b.starts(with: Array("RIFF".utf8)), Array(b[8..<12]) == Array("WEBP".utf8) {
            let chunk = String(decoding: b[12..<16], as: UTF8.self)
            switch chunk {
            case "VP8 ": return (le16(26) & 0x3FFF, le16(28) & 0x3FFF)
            case "VP8L":
                let bits = Int(b[21]) | Int(b[22]) << 8 | Int(b[23]) << 16 | Int(b[24]) << 24
                return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            case "VP8X":
                func le24(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 }
                return (le24(24) + 1, le24(27) + 1)
            default: return nil
            }
        }
        // JPEG: walk the segments to a start-of-frame marker
        if b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 {
            var i = 2
            while i + 9 < b.count {
                guard b[i] == 0xFF else { return nil }
                let marker = b[i + 1]
                if marker == 0xFF {
                    i += 1  // fill byte
                    continue
                }
                if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                    return (be16(i + 7), be16(i + 5))
                }
                i += 2 + be16(i + 2)
            }
        }
        return nil
    }
}
