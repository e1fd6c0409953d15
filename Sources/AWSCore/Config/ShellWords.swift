/// Splits a command line into words the way Python's `shlex.split` does in POSIX mode, which is
/// what botocore uses for `credential_process` and for section headers such as
/// `[profile "my profile"]`.
///
/// - Unquoted whitespace (space, tab, CR, LF) separates words.
/// - `'...'` is literal.
/// - `"..."` is literal except that a backslash escapes `"` and `\` (and is kept before anything
///   else).
/// - Outside quotes a backslash makes the next character literal.
/// - Quotes may join parts of one word (`a"b c"d` is `ab cd`); `''` is an empty word.
enum ShellWords {
    struct SplitError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    static func split(_ text: String) throws(SplitError) -> [String] {
        enum State { case outside, single, double }
        var words: [String] = []
        var word = ""
        var inWord = false
        var state = State.outside
        var escapeFrom: State?
        for c in text {
            if let from = escapeFrom {
                if from == .double && c != "\"" && c != "\\" { word.append("\\") }
                word.append(c)
                escapeFrom = nil
                continue
            }
            switch state {
            case .outside:
                if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" {
                    if inWord { words.append(word) }
                    word = ""
                    inWord = false
                } else if c == "\\" {
                    escapeFrom = .outside
                    inWord = true
                } else if c == "'" {
                    state = .single
                    inWord = true
                } else if c == "\"" {
                    state = .double
                    inWord = true
                } else {
                    word.append(c)
                    inWord = true
                }
            case .single:
                if c == "'" { state = .outside } else { word.append(c) }
            case .double:
                if c == "\"" {
                    state = .outside
                } else if c == "\\" {
                    escapeFrom = .double
                } else {
                    word.append(c)
                }
            }
        }
        if escapeFrom != nil { throw SplitError(description: "no character after the final backslash") }
        if state != .outside { throw SplitError(description: "no closing quotation") }
        if inWord { words.append(word) }
        return words
    }
}
