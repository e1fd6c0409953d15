import Foundation

/// Holds credentials from a fetch function and refreshes them ahead of expiry the way botocore's
/// `RefreshableCredentials` does:
///
/// - credentials without an expiration are kept for good;
/// - with more than the advisory window (15 min) left, the cached value is returned;
/// - inside the advisory window one caller refreshes; while that refresh runs, the others keep
///   getting the cached value, and if it fails the cached value is used;
/// - inside the mandatory window (10 min) every caller waits for the refresh, and its failure is
///   thrown;
/// - a refresh that yields already expired credentials is an error.
///
/// At most one fetch runs at a time, however many callers there are.
public actor CredentialRefreshCache {
    /// botocore's `_DEFAULT_ADVISORY_REFRESH_TIMEOUT`.
    public static let advisoryRefreshWindow: TimeInterval = 15 * 60
    /// botocore's `_DEFAULT_MANDATORY_REFRESH_TIMEOUT`.
    public static let mandatoryRefreshWindow: TimeInterval = 10 * 60

    private let fetch: @Sendable () async throws -> Credentials
    private let now: @Sendable () -> Date
    private let advisoryWindow: TimeInterval
    private let mandatoryWindow: TimeInterval
    private var cached: Credentials?
    private var inFlight: Task<Credentials, any Error>?

    public init(advisoryWindow: TimeInterval = CredentialRefreshCache.advisoryRefreshWindow,
                mandatoryWindow: TimeInterval = CredentialRefreshCache.mandatoryRefreshWindow,
                now: @escaping @Sendable () -> Date = { Date() },
                fetch: @escaping @Sendable () async throws -> Credentials) {
        self.advisoryWindow = advisoryWindow
        self.mandatoryWindow = mandatoryWindow
        self.now = now
        self.fetch = fetch
    }

    /// The cached credentials, refreshed first when they are about to expire.
    public func credentials() async throws -> Credentials {
        guard let current = cached else { return try await refresh() }
        guard let expiration = current.expiration else { return current }
        let remaining = expiration.timeIntervalSince(now())
        if remaining >= advisoryWindow { return current }
        let mandatory = remaining < mandatoryWindow
        if inFlight != nil && !mandatory { return current }
        do {
            return try await refresh()
        } catch {
            if mandatory { throw error }
            return current  // advisory refresh failed: keep using what still works
        }
    }

    /// What is cached now, without refreshing (for `conveyor doctor`).
    public var current: Credentials? { cached }

    /// Forgets the cached credentials; the next call fetches.
    public func invalidate() { cached = nil }

    /// Forgets the cached credentials if they are `rejected` (same key and token), so that callers
    /// that were all refused with the same expired credentials cause a single refresh: the first
    /// drops them, the rest find newer ones cached (or join the refresh in flight).
    public func invalidate(_ rejected: Credentials) {
        guard let current = cached, current.accessKeyId == rejected.accessKeyId,
              current.sessionToken == rejected.sessionToken else { return }
        cached = nil
    }

    private func refresh() async throws -> Credentials {
        let task: Task<Credentials, any Error>
        if let inFlight {
            task = inFlight
        } else {
            let fetch = self.fetch
            task = Task { try await fetch() }
            inFlight = task
        }
        do {
            let fresh = try await task.value
            if inFlight == task { inFlight = nil }
            if let expiration = fresh.expiration, expiration <= now() {
                throw CredentialsError(
                    kind: .expired,
                    message: "credentials from \(fresh.source) expired at \(Self.format(expiration)), and refreshing them gave no newer ones",
                    provider: fresh.source)
            }
            cached = fresh
            return fresh
        } catch {
            if inFlight == task { inFlight = nil }
            throw error
        }
    }

    static func format(_ date: Date) -> String { Timestamp.iso8601(date) }
}
