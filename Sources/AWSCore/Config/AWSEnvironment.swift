import Foundation

/// The process environment and home directory that AWS configuration is read from.
///
/// Everything in `Config/` reads variables and `~` through this value rather than from
/// `ProcessInfo`, so tests can describe a whole environment (and a temporary home directory)
/// without touching the real one or the real `~/.aws`.
public struct AWSEnvironment: Sendable, Equatable {
    /// Environment variables by name.
    public var variables: [String: String]
    /// What `~` expands to in `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` and the default
    /// `~/.aws/...` paths.
    public var homeDirectory: String

    public init(variables: [String: String] = [:], homeDirectory: String) {
        self.variables = variables
        self.homeDirectory = homeDirectory
    }

    /// The environment of this process; the home directory is `$HOME`, or the user database's
    /// entry when `HOME` is unset, as Python's `os.path.expanduser` does.
    public static var process: AWSEnvironment {
        let variables = ProcessInfo.processInfo.environment
        let home = variables["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return AWSEnvironment(variables: variables, homeDirectory: home)
    }

    /// The variable's value, or nil when it is unset or empty (AWS SDKs treat an empty variable
    /// as unset).
    public subscript(name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// Expands `$NAME` / `${NAME}` (unknown names stay as written) and then a leading `~`, in the
    /// order botocore applies `os.path.expandvars` and `os.path.expanduser` to file paths.
    public func expandPath(_ path: String) -> String {
        let expanded = expandVariables(path)
        if expanded == "~" { return homeDirectory }
        if expanded.hasPrefix("~/") {
            let home = homeDirectory.hasSuffix("/") ? String(homeDirectory.dropLast()) : homeDirectory
            return home + expanded.dropFirst()
        }
        return expanded  // `~user` is left alone
    }

    private func expandVariables(_ text: String) -> String {
        guard text.contains("$") else { return text }
        let chars = Array(text)
        var out = ""
        var i = 0
        func isNameChar(_ c: Character) -> Bool { c == "_" || c.isLetter || c.isNumber }
        while i < chars.count {
            guard chars[i] == "$", i + 1 < chars.count else {
                out.append(chars[i])
                i += 1
                continue
            }
            if chars[i + 1] == "{", let close = chars[(i + 2)...].firstIndex(of: "}") {
                let name = String(chars[(i + 2)..<close])
                if let value = variables[name] {
                    out += value
                } else {
                    out += String(chars[i...close])
                }
                i = close + 1
            } else if isNameChar(chars[i + 1]) {
                var end = i + 1
                while end < chars.count, isNameChar(chars[end]) { end += 1 }
                let name = String(chars[(i + 1)..<end])
                out += variables[name] ?? String(chars[i..<end])
                i = end
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return out
    }

    /// `AWS_CONFIG_FILE`, or `~/.aws/config`, expanded.
    public var configFilePath: String {
        expandPath(self["AWS_CONFIG_FILE"] ?? "~/.aws/config")
    }

    /// `AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/credentials`, expanded.
    public var credentialsFilePath: String {
        expandPath(self["AWS_SHARED_CREDENTIALS_FILE"] ?? "~/.aws/credentials")
    }
}
