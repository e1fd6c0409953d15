import Foundation

/// glibc malloc settings that keep a long run's resident memory flat.
///
/// glibc gives a thread that finds the arenas in use one of its own, up to 8 per core, and each
/// arena keeps what is freed into it. Resident memory is then the sum of every arena's high-water
/// mark, not the heap in use. In benchmark D (100,000 items, 7 to 9 threads) the heap in use
/// stayed at 8 to 11 MiB while anonymous memory climbed from 14 to 27 MiB. Conveyor allows 2
/// arenas. (Fixing the mmap and trim thresholds as well made no measurable difference.)
///
/// A setting that the environment makes (`MALLOC_ARENA_MAX`, or its name in `GLIBC_TUNABLES`) is
/// left to glibc, which has read it already. Elsewhere than glibc this does nothing.
public enum MallocSettings {
    public struct Setting: Sendable, Equatable {
        /// glibc's `M_*` parameter (malloc.h, which Swift's Glibc module does not import).
        let parameter: Int32
        public let value: Int
        /// Its environment variable, and its name in `GLIBC_TUNABLES`.
        public let variable: String
        public let tunable: String

        public static func arenaMax(_ count: Int) -> Setting {
            Setting(parameter: -8, value: max(1, count), variable: "MALLOC_ARENA_MAX", tunable: "glibc.malloc.arena_max")
        }

        func isSet(in environment: [String: String]) -> Bool {
            environment[variable] != nil || environment["GLIBC_TUNABLES"]?.contains(tunable) == true
        }
    }

    public static let conveyor: [Setting] = [.arenaMax(2)]

    /// What ``apply(_:environment:)`` did with a setting.
    public enum Outcome: Sendable, Equatable {
        case applied
        case leftToEnvironment
        /// Not glibc, or glibc refused the value.
        case unsupported
    }

    /// Applies the settings that the environment does not make. Call it first thing, before
    /// threads start: arenas made already stay.
    @discardableResult
    public static func apply(_ settings: [Setting] = conveyor,
                             environment: [String: String] = ProcessInfo.processInfo.environment) -> [Outcome] {
        let mallopt = function("mallopt", as: Mallopt.self)
        return settings.map { setting in
            if setting.isSet(in: environment) { return .leftToEnvironment }
            // mallopt answers 1 on success
            guard let mallopt, mallopt(setting.parameter, Int32(clamping: setting.value)) == 1 else { return .unsupported }
            return .applied
        }
    }

    /// The arenas the process has now (from `malloc_info`), or nil when not glibc.
    public static func arenaCount() -> Int? {
        guard let info = function("malloc_info", as: MallocInfo.self) else { return nil }
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return nil }
        let status = info(0, stream)
        fclose(stream)
        defer { free(buffer) }
        guard status == 0, let buffer else { return nil }
        // one <heap nr="N"> element per arena
        return String(cString: buffer).components(separatedBy: "<heap nr=").count - 1
    }

    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32

    static func function<F>(_ name: String, as type: F.Type) -> F? {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        defer { dlclose(handle) }
        guard let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}
