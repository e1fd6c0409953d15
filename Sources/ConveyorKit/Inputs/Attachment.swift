import AWSServices
import Foundation

/// `inputs.as`: how an input object that is not text goes to the model.
public enum AttachmentKind: String, Sendable, Equatable, CaseIterable {
    case document, image

    /// Bedrock's size limit for one block of this kind.
    public var maxBytes: Int {
        switch self {
        case .document: return ConverseMedia.maxDocumentBytes
        case .image: return ConverseMedia.maxImageBytes
        }
    }

    /// "a document", "an image", for messages.
    public var withArticle: String { self == .image ? "an image" : "a document" }

    /// Key extensions and the Converse format each stands for.
    public var extensions: [(ext: String, format: String)] {
        switch self {
        case .document:
            return ConverseMedia.documentFormats.map { ($0, $0) } + [("htm", "html"), ("markdown", "md")]
        case .image:
            return ConverseMedia.imageFormats.map { ($0, $0) } + [("jpg", "jpeg")]
        }
    }
}

/// An input object sent as a Converse document or image block: its bytes as they are (never
/// decoded as text), the format from the key's extension, and for documents a name made from the
/// item's name.
public struct InputAttachment: Sendable, Equatable {
    public var kind: AttachmentKind
    public var format: String
    /// The document's name (Converse's rules: alphanumerics, single spaces, hyphens, parentheses,
    /// square brackets); for images, the item's name, shown by `plan` only.
    public var name: String
    public var data: Data

    /// What the object at `key` of `size` bytes would be sent as, or the problem that fails the
    /// item: an extension that is not a format of `kind`, no bytes, or more than `maxBytes`.
    public static func describe(key: String, size: Int, kind: AttachmentKind, maxBytes: Int) throws(InputProblem)
        -> (format: String, name: String)
    {
        let ext = (key as NSString).pathExtension.lowercased()
        guard let format = kind.extensions.first(where: { $0.ext == ext })?.format else {
            let known = kind.extensions.map { "." + $0.ext }.joined(separator: " ")
            let found = ext.isEmpty ? "no extension" : "the extension .\(ext)"
            throw .unsupportedFormat("the key has \(found); inputs.as \(kind.rawValue) takes \(known): "
                + "rename the object, or leave it out with inputs.exclude")
        }
        if size == 0 { throw .emptyInput("the object is empty") }
        if size > maxBytes {
            throw .inputTooLarge("the object is \(size) bytes; \(kind.withArticle) may be at most \(maxBytes) bytes")
        }
        let itemName = ItemNaming.name(ofKey: key)
        return (format, kind == .document ? ConverseMedia.documentName(from: itemName) : itemName)
    }

    /// Reads the object as bytes, after checking its key and listed size.
    public static func read(_ uri: StorageURI, key: String, size: Int, kind: AttachmentKind, maxBytes: Int,
                            storage: Storage) async throws -> InputAttachment {
        let (format, name) = try describe(key: key, size: size, kind: kind, maxBytes: maxBytes)
        let data = try await storage.get(uri, maxBytes: maxBytes)
        // the object may have changed since it was listed
        _ = try describe(key: key, size: data.count, kind: kind, maxBytes: maxBytes)
        return InputAttachment(kind: kind, format: format, name: name, data: data)
    }

    /// The content block.
    public var block: ContentBlock {
        switch kind {
        case .document: return .document(DocumentBlock(format: format, name: name, source: .bytes(data)))
        case .image: return .image(ImageBlock(format: format, source: .bytes(data)))
        }
    }

    /// How `plan` shows a block that is not text: kind, name, format and size, never the bytes.
    static func summary(of block: ContentBlock) -> String? {
        func size(_ source: MediaSource) -> String {
            if case .bytes(let data) = source { return ", " + PlanSummary.bytes(data.count) }
            return ""
        }
        switch block {
        case .document(let d): return "<document '\(d.name)' (\(d.format ?? "no format")\(size(d.source)))>"
        case .image(let i): return "<image (\(i.format)\(size(i.source)))>"
        default: return nil
        }
    }
}
