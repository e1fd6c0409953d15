import Foundation
import Testing
@testable import ConveyorKit

/// `conveyor` sets glibc's malloc (MallocSettings) so that a long run's resident memory does not
/// climb with every thread's own arena. The settings are process-wide: the checks that apply
/// them run in a fresh child process each (exit tests).
@Suite("Malloc settings")
struct MallocSettingsTests {
    /// Starts `threads` threads that each allocate and stay alive together (an exited thread's
    /// arena is handed to the next thread), then answers the arena count.
    static func arenasWith(threads: Int) -> Int {
        let allocated = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        for _ in 0..<threads {
            Thread {
                let block = malloc(256)
                free(block)
                allocated.signal()
                release.wait()
            }.start()
        }
        for _ in 0..<threads { allocated.wait() }
        let count = MallocSettings.arenaCount() ?? -1
        for _ in 0..<threads { release.signal() }
        return count
    }

    /// Under ASan or TSan (`make sanitize`) the sanitizer's allocator serves malloc, so new threads
    /// make no glibc arenas whatever the setting: the checks that need them to are left out there.
    static let glibcServesMalloc: Bool = {
        typealias Entry = @convention(c) () -> Void
        return MallocSettings.function("__tsan_init", as: Entry.self) == nil
            && MallocSettings.function("__asan_init", as: Entry.self) == nil
    }()

    @Test(.enabled(if: glibcServesMalloc, "a sanitizer's allocator serves malloc here"))
    func newThreadsGetArenasOfTheirOwnWithoutTheLimit() async {
        // the control: what the limit prevents does happen without it
        await #expect(processExitsWith: .success) {
            guard let before = MallocSettings.arenaCount() else { exit(3) }
            let after = MallocSettingsTests.arenasWith(threads: 8)
            exit(after > before ? 0 : 1)
        }
    }

    @Test func conveyorsSettingsHoldTheArenasWhateverTheThreads() async {
        await #expect(processExitsWith: .success) {
            guard let before = MallocSettings.arenaCount() else { exit(3) }
            let outcomes = MallocSettings.apply(environment: [:])
            guard outcomes == [.applied] else { exit(4) }
            let after = MallocSettingsTests.arenasWith(threads: 8)
            exit(after <= max(before, 2) ? 0 : 1)
        }
    }

    @Test(.enabled(if: glibcServesMalloc, "a sanitizer's allocator serves malloc here"))
    func theEnvironmentsOwnSettingsAreLeftToGlibc() async {
        await #expect(processExitsWith: .success) {
            guard let before = MallocSettings.arenaCount() else { exit(3) }
            let outcomes = MallocSettings.apply(environment: ["MALLOC_ARENA_MAX": "8"])
            guard outcomes == [.leftToEnvironment] else { exit(4) }
            // the arena limit was not applied: new threads still get arenas of their own
            let after = MallocSettingsTests.arenasWith(threads: 8)
            exit(after > before ? 0 : 1)
        }
    }

    @Test func glibcTunablesCountAsTheEnvironmentsSetting() {
        #expect(MallocSettings.apply(environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=4"]) == [.leftToEnvironment])
    }

    @Test func theArenaCountIsReadFromMallocInfo() throws {
        let count = try #require(MallocSettings.arenaCount())
        #expect(count >= 1)
    }
}
