import CCrypto
import Foundation

/// SHA-256 and HMAC-SHA256 over OpenSSL's libcrypto, and lowercase hex.
///
/// Every function hashes the caller's bytes in place (`withUnsafeBytes`), so hashing a body of
/// many megabytes makes no copy of it. Strings are hashed as their UTF-8 bytes.
public enum AWSCrypto {
    /// The length of a SHA-256 digest in bytes.
    public static let sha256Length = 32

    /// The hex SHA-256 of no bytes at all, the payload hash of every empty body.
    public static let emptySHA256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    // MARK: SHA-256

    /// The SHA-256 digest of `bytes` (32 bytes).
    public static func sha256(_ bytes: some ContiguousBytes) -> [UInt8] {
        bytes.withUnsafeBytes { sha256(buffer: $0) }
    }

    /// The SHA-256 digest of the UTF-8 bytes of `text`.
    public static func sha256(_ text: String) -> [UInt8] {
        withUTF8(text) { sha256(buffer: $0) }
    }

    /// The lowercase hex SHA-256 of `bytes` (64 characters).
    public static func sha256Hex(_ bytes: some ContiguousBytes) -> String {
        hex(sha256(bytes))
    }

    /// The lowercase hex SHA-256 of the UTF-8 bytes of `text`.
    public static func sha256Hex(_ text: String) -> String {
        hex(sha256(text))
    }

    /// The SHA-256 digest of the bytes in `buffer`.
    public static func sha256(buffer: UnsafeRawBufferPointer) -> [UInt8] {
        nonEmptyBase(buffer) { base in
            [UInt8](unsafeUninitializedCapacity: sha256Length) { out, initialized in
                var length: UInt32 = 0
                // EVP_Digest only fails when the allocator does; a digest that cannot be computed
                // is a broken process, not an error a caller could handle.
                let ok = EVP_Digest(base, buffer.count, out.baseAddress, &length, EVP_sha256(), nil)
                precondition(ok == 1 && length == UInt32(sha256Length), "libcrypto SHA-256 failed")
                initialized = sha256Length
            }
        }
    }

    // MARK: HMAC-SHA256

    /// HMAC-SHA256 of `message` under `key` (32 bytes).
    public static func hmacSHA256(key: some ContiguousBytes, message: some ContiguousBytes) -> [UInt8] {
        key.withUnsafeBytes { keyBuffer in
            message.withUnsafeBytes { hmacSHA256(key: keyBuffer, message: $0) }
        }
    }

    /// HMAC-SHA256 of the UTF-8 bytes of `message` under `key`.
    public static func hmacSHA256(key: some ContiguousBytes, message: String) -> [UInt8] {
        key.withUnsafeBytes { keyBuffer in
            withUTF8(message) { hmacSHA256(key: keyBuffer, message: $0) }
        }
    }

    /// HMAC-SHA256 of the bytes in `message` under the bytes in `key`.
    public static func hmacSHA256(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(key.count <= Int(Int32.max), "HMAC key too long")
        return nonEmptyBase(key) { keyBase in
            nonEmptyBase(message) { messageBase in
                [UInt8](unsafeUninitializedCapacity: sha256Length) { out, initialized in
                    var length: UInt32 = 0
                    let result = HMAC(
                        EVP_sha256(), keyBase, Int32(key.count), messageBase.assumingMemoryBound(to: UInt8.self),
                        message.count, out.baseAddress, &length)
                    precondition(result != nil && length == UInt32(sha256Length), "libcrypto HMAC-SHA256 failed")
                    initialized = sha256Length
                }
            }
        }
    }

    // MARK: Hex

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`, two characters per byte.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Helpers

    /// Runs `body` with the start of `buffer`, or with a valid pointer to nothing when the buffer
    /// is empty and has no address: libcrypto wants a non-null pointer even for zero bytes.
    private static func nonEmptyBase<R>(_ buffer: UnsafeRawBufferPointer, _ body: (UnsafeRawPointer) -> R) -> R {
        if let base = buffer.baseAddress { return body(base) }
        var zero: UInt8 = 0
        return withUnsafeBytes(of: &zero) { body($0.baseAddress!) }
    }

    /// Runs `body` over the UTF-8 bytes of `text`; native Swift strings are already contiguous UTF-8,
    /// so this normally copies nothing.
    static func withUTF8<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var text = text
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

/// An incremental SHA-256, for bodies fed in pieces (a file read in chunks, a multipart part).
///
/// ```swift
/// var hasher = SHA256Hasher()
/// hasher.update(chunk1)
/// hasher.update(chunk2)
/// let hex = AWSCrypto.hex(hasher.finalize())
/// ```
public struct SHA256Hasher: ~Copyable {
    private let context: OpaquePointer

    public init() {
        guard let context = EVP_MD_CTX_new() else { fatalError("libcrypto: out of memory") }
        let ok = EVP_DigestInit_ex(context, EVP_sha256(), nil)
        precondition(ok == 1, "libcrypto SHA-256 init failed")
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the hash.
    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update(buffer: $0) }
    }

    /// Adds the UTF-8 bytes of `text` to the hash.
    public mutating func update(_ text: String) {
        AWSCrypto.withUTF8(text) { update(buffer: $0) }
    }

    /// Adds the bytes in `buffer` to the hash.
    public mutating func update(buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let ok = EVP_DigestUpdate(context, base, buffer.count)
        precondition(ok == 1, "libcrypto SHA-256 update failed")
    }

    /// The digest of everything added (32 bytes). The hasher is used up.
    public consuming func finalize() -> [UInt8] {
        let context = self.context
        return [UInt8](unsafeUninitializedCapacity: AWSCrypto.sha256Length) { out, initialized in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(context, out.baseAddress, &length)
            precondition(ok == 1 && length == UInt32(AWSCrypto.sha256Length), "libcrypto SHA-256 final failed")
            initialized = AWSCrypto.sha256Length
        }
    }
}
