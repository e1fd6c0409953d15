import Foundation

/// A `format: text` input: the whole object is one item, its text the item's `{{input}}`.
///
/// Rules: a UTF-8 BOM at the start is removed; the bytes must be UTF-8 (`InvalidInput`, naming the
/// offset of the first bad byte); an object with no bytes, or only whitespace, is `EmptyInput`; an
/// object over `maxBytes` (BOM included) is `InputTooLarge`, found from its listed size before
/// download (``checkSize(_:maxBytes:)``) or while reading (``Accumulator``), never by reading it all.
public enum TextInput {
    /// 1 MiB: about 250,000 tokens of English, beyond the context window of most models.
    public static let defaultMaxBytes = 1 << 20

    /// Rejects an object by its size (from ListObjectsV2 or HeadObject) before it is fetched.
    public static func checkSize(_ size: Int, maxBytes: Int = TextInput.defaultMaxBytes) throws(InputProblem) {
        if size > maxBytes { throw tooLarge(size: size, maxBytes: maxBytes) }
    }

    /// The text of a whole object.
    public static func decode(_ data: Data, maxBytes: Int = TextInput.defaultMaxBytes) throws(InputProblem) -> String {
        try checkSize(data.count, maxBytes: maxBytes)
        let result = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<String, InputProblem> in
            var bytes = raw
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                bytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                let offset = firstInvalidUTF8Offset(bytes) ?? 0
                let bom = bytes.count == raw.count ? 0 : 3
                return .failure(.invalidInput("the object is not valid UTF-8 text (bad byte at offset \(offset + bom))"))
            }
            if text.isEmpty { return .failure(.emptyInput("the object is empty")) }
            if text.allSatisfy(\.isWhitespace) { return .failure(.emptyInput("the object holds only whitespace")) }
            return .success(text)
        }
        return try result.get()
    }

    /// Collects an object's chunks, failing as soon as it passes the size limit.
    public struct Accumulator: Sendable {
        public let maxBytes: Int
        private var data = Data()
        private var size = 0

        public init(maxBytes: Int = TextInput.defaultMaxBytes) {
            self.maxBytes = maxBytes
        }

        public mutating func append(_ chunk: Data) throws(InputProblem) {
            size += chunk.count
            if size > maxBytes {
                data = Data()
                throw TextInput.tooLarge(size: size, maxBytes: maxBytes, atLeast: true)
            }
            data.append(chunk)
        }

        public func finish() throws(InputProblem) -> String {
            try TextInput.decode(data, maxBytes: maxBytes)
        }
    }

    static func tooLarge(size: Int, maxBytes: Int, atLeast: Bool = false) -> InputProblem {
        .inputTooLarge("the object is \(atLeast ? "at least " : "")\(size) bytes; the limit is \(maxBytes)")
    }

    /// The offset of the first byte that does not start or continue a valid UTF-8 sequence.
    static func firstInvalidUTF8Offset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}
