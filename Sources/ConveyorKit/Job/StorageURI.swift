import Foundation

/// Where objects live: an S3 bucket and key, or a local file (the local store, for trying jobs
/// without AWS). Keys may hold `{{templates}}`; the bucket may not.
public enum StorageURI: Sendable, Equatable, Hashable, CustomStringConvertible {
    case s3(bucket: String, key: String)
    /// An absolute path, or a path relative to the job file's directory.
    case file(path: String)

    public struct ParseError: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case templatedBucket, invalidBucket, relativeFileURI, unsupportedScheme, empty
        }

        public var kind: Kind
        public var message: String
    }

    /// Parses `s3://bucket/key`, `file:///abs/path` or a relative path.
    public static func parse(_ text: String) throws(ParseError) -> StorageURI {
        if text.hasPrefix("s3://") {
            let rest = text.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            let key = rest.count > bucket.count ? String(rest.dropFirst(bucket.count + 1)) : ""
            if bucket.contains("{{") { throw ParseError(kind: .templatedBucket, message: "the bucket name in '\(text)' cannot hold {{variables}}") }
            guard isValidBucket(bucket) else {
                throw ParseError(kind: .invalidBucket, message: "'\(bucket)' is not a valid bucket name (3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)")
            }
            return .s3(bucket: bucket, key: key)
        }
        if text.hasPrefix("file://") {
            let path = String(text.dropFirst(7))
            guard path.hasPrefix("/") else {
                throw ParseError(kind: .relativeFileURI, message: "'\(text)' is not an absolute file URI: write file:///absolute/path, or a relative path without file://")
            }
            return .file(path: path)
        }
        if let colon = text.range(of: "://") {
            throw ParseError(kind: .unsupportedScheme, message: "'\(text[..<colon.lowerBound])://' is not supported: use s3://bucket/key, file:///path or a relative path")
        }
        guard !text.isEmpty else { throw ParseError(kind: .empty, message: "the location is empty") }
        return .file(path: text)
    }

    public static func isValidBucket(_ name: String) -> Bool {
        guard (3...63).contains(name.count), let first = name.first, let last = name.last else { return false }
        guard first.isASCII && (first.isLowercase || first.isNumber), last.isASCII && (last.isLowercase || last.isNumber) else {
            return false
        }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }
            && !name.contains("..")
    }

    /// A relative file path resolved against `base`.
    public func resolved(against base: String) -> StorageURI {
        if case .file(let path) = self, !path.hasPrefix("/") {
            var resolved = URL(fileURLWithPath: base.isEmpty ? "." : base).appendingPathComponent(path).standardized.path
            if path.hasSuffix("/") && !resolved.hasSuffix("/") { resolved += "/" }
            return .file(path: resolved)
        }
        return self
    }

    public var description: String {
        switch self {
        case .s3(let bucket, let key): return "s3://\(bucket)/\(key)"
        case .file(let path): return path.hasPrefix("/") ? "file://\(path)" : path
        }
    }
}
