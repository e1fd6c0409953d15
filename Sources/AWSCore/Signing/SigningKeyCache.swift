import Synchronization

/// A process-wide cache of derived SigV4 signing keys, keyed by secret, date, region and service.
///
/// A signing key depends only on those four values, so every request signed on the same day for
/// the same service and region can reuse it instead of running the four-step HMAC chain again.
/// The cache is small and bounded; the entries are secrets and are never printed.
final class SigningKeyCache: Sendable {
    struct Key: Hashable, Sendable {
        var secretAccessKey: String
        var dateStamp: String
        var region: String
        var service: String
    }

    static let shared = SigningKeyCache(capacity: 32)

    private let capacity: Int
    private let entries = Mutex<[Key: [UInt8]]>([:])

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The cached key for `key`, deriving and storing it when missing.
    func signingKey(for key: Key) -> [UInt8] {
        if let cached = entries.withLock({ $0[key] }) { return cached }
        // Derive outside the lock; two threads racing on a new key both compute the same value.
        let derived = SigV4Signer.deriveSigningKey(
            secretAccessKey: key.secretAccessKey, dateStamp: key.dateStamp, region: key.region, service: key.service)
        entries.withLock { entries in
            if entries.count >= capacity {
                // Keys of other days are useless from now on; if that frees nothing, start over.
                entries = entries.filter { $0.key.dateStamp == key.dateStamp }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[key] = derived
        }
        return derived
    }

    /// Number of cached keys (for tests).
    var count: Int { entries.withLock { $0.count } }
}
