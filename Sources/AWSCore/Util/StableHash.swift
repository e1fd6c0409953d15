/// FNV-1a, 64 bits: the same text gives the same number in every run and on every machine
/// (Swift's `Hasher` is seeded per process). Shards, resume and the emulator's answers use it.
public enum StableHash {
    public static func fnv1a(_ text: String) -> UInt64 { fnv1a(bytes: text.utf8) }

    /// The hash of bytes (a text's UTF-8, or an attachment's data).
    public static func fnv1a(bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
