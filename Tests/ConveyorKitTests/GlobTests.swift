import ConveyorKit
import Testing

@Suite("Glob")
struct GlobTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var pattern: String
        var key: String
        var matches: Bool
        var testDescription: String { "\(pattern) \(matches ? "~" : "!~") \(key)" }
    }

    static let cases: [Case] = [
        // literals
        Case(pattern: "a.txt", key: "a.txt", matches: true),
        Case(pattern: "a.txt", key: "b.txt", matches: false),
        Case(pattern: "a.txt", key: "a.txt.bak", matches: false),
        Case(pattern: "dir/a.txt", key: "dir/a.txt", matches: true),
        // *
        Case(pattern: "*.txt", key: "a.txt", matches: true),
        Case(pattern: "*.txt", key: ".txt", matches: true),
        Case(pattern: "*.txt", key: "dir/a.txt", matches: false),
        Case(pattern: "*.txt", key: "a.txt/b", matches: false),
        Case(pattern: "*", key: "anything", matches: true),
        Case(pattern: "*", key: "", matches: true),
        Case(pattern: "*", key: "a/b", matches: false),
        Case(pattern: "*.txt", key: "日本.txt", matches: true),
        Case(pattern: "a*", key: "aé/x", matches: false),
        Case(pattern: "日*", key: "日本", matches: true),
        Case(pattern: "archive/*", key: "archive/x.txt", matches: true),
        Case(pattern: "archive/*", key: "archive/2025/x.txt", matches: false),
        Case(pattern: "a*b*c", key: "aXXbYYc", matches: true),
        Case(pattern: "a*b*c", key: "abc", matches: true),
        Case(pattern: "a*b*c", key: "acb", matches: false),
        Case(pattern: "*a*a*a*a*b", key: String(repeating: "a", count: 200), matches: false),
        // **
        Case(pattern: "**", key: "a/b/c.txt", matches: true),
        Case(pattern: "**", key: "", matches: true),
        Case(pattern: "**/*.txt", key: "a.txt", matches: true),
        Case(pattern: "**/*.txt", key: "x/a.txt", matches: true),
        Case(pattern: "**/*.txt", key: "x/y/z/a.txt", matches: true),
        Case(pattern: "**/*.txt", key: "x/y/a.json", matches: false),
        Case(pattern: "a/**/b", key: "a/b", matches: true),
        Case(pattern: "a/**/b", key: "a/x/b", matches: true),
        Case(pattern: "a/**/b", key: "a/x/y/b", matches: true),
        Case(pattern: "a/**/b", key: "a/xb", matches: false),
        Case(pattern: "a/**/b", key: "ab", matches: false),
        Case(pattern: "a/**", key: "a/x/y", matches: true),
        Case(pattern: "a/**", key: "b/x", matches: false),
        Case(pattern: "**.json", key: "x/y.json", matches: true),
        Case(pattern: "x**y", key: "x/a/y", matches: true),
        Case(pattern: "x**y", key: "xy", matches: true),
        Case(pattern: "2026/**/*.txt", key: "2026/01/02/t.txt", matches: true),
        Case(pattern: "2026/**/*.txt", key: "2025/01/t.txt", matches: false),
        Case(pattern: "***/a", key: "x/y/a", matches: true),
        // ?
        Case(pattern: "?.txt", key: "a.txt", matches: true),
        Case(pattern: "?.txt", key: "ab.txt", matches: false),
        Case(pattern: "a?b", key: "a/b", matches: false),
        Case(pattern: "?", key: "é", matches: true),
        Case(pattern: "??", key: "日本", matches: true),
        // classes
        Case(pattern: "[abc].txt", key: "b.txt", matches: true),
        Case(pattern: "[abc].txt", key: "d.txt", matches: false),
        Case(pattern: "[a-z]1", key: "q1", matches: true),
        Case(pattern: "[a-z]1", key: "Q1", matches: false),
        Case(pattern: "[!x]y", key: "ay", matches: true),
        Case(pattern: "[!x]y", key: "xy", matches: false),
        Case(pattern: "[^x]y", key: "xy", matches: false),
        Case(pattern: "[!x]y", key: "/y", matches: false),
        Case(pattern: "[]]", key: "]", matches: true),
        Case(pattern: "[!]]", key: "]", matches: false),
        Case(pattern: "[a-]", key: "-", matches: true),
        Case(pattern: "[0-9][0-9][0-9].txt", key: "123.txt", matches: true),
        Case(pattern: "[0-9][0-9][0-9].txt", key: "12a.txt", matches: false),
        Case(pattern: "[é-ü]", key: "ö", matches: true),
        Case(pattern: "[\\]]", key: "]", matches: true),
        // escapes
        Case(pattern: "\\*.txt", key: "*.txt", matches: true),
        Case(pattern: "\\*.txt", key: "a.txt", matches: false),
        Case(pattern: "a\\?", key: "a?", matches: true),
        Case(pattern: "a\\?", key: "ab", matches: false),
        Case(pattern: "\\[x]", key: "[x]", matches: true),
        // case and mixed
        Case(pattern: "*.TXT", key: "a.txt", matches: false),
        Case(pattern: "tickets-[0-9]*.json", key: "tickets-7-final.json", matches: true),
        Case(pattern: "**/archive/**", key: "2025/archive/x/y.txt", matches: true),
        Case(pattern: "**/archive/**", key: "archive/y.txt", matches: true),
        Case(pattern: "**/archive/**", key: "archived/y.txt", matches: false),
    ]

    @Test("pattern table", arguments: cases)
    func table(_ c: Case) throws {
        let glob = try Glob(c.pattern)
        #expect(glob.matches(c.key) == c.matches)
    }

    @Test func tableIsLarge() {
        #expect(Self.cases.count >= 30)
    }

    @Test("invalid patterns", arguments: [
        ("[abc", "no closing ']'"),
        ("a[", "no closing ']'"),
        ("[]", "no closing ']'"),
        ("[!]", "no closing ']'"),
        ("x\\", "lone '\\'"),
        ("[z-a]", "reversed"),
        ("", "empty"),
    ])
    func invalid(_ pattern: String, _ fragment: String) {
        #expect {
            try Glob(pattern)
        } throws: { error in
            guard let error = error as? GlobError else { return false }
            return error.pattern == pattern && error.description.contains(fragment)
        }
    }

    @Test func errorNamesThePatternAndPlace() throws {
        let error = try #require(throws: GlobError.self) { try Glob("logs/[a-") }
        #expect(error.offset == 5)
        #expect(error.description == "invalid glob \"logs/[a-\": '[' has no closing ']' (at character 6)")
    }

    @Test func includeAndExclude() throws {
        let filter = try KeyFilter(include: ["*.txt", "**/*.md"], exclude: ["archive/**", "*-draft.*"])
        #expect(filter.accepts("a.txt"))
        #expect(filter.accepts("docs/x/readme.md"))
        #expect(!filter.accepts("a.json"))
        #expect(!filter.accepts("archive/old.md"))
        #expect(!filter.accepts("b-draft.txt"))
        #expect(!filter.accepts("sub/a.txt"))

        let everything = try KeyFilter(include: [], exclude: ["*.tmp"])
        #expect(everything.accepts("deep/key/x.bin"))
        #expect(!everything.accepts("x.tmp"))
    }

    @Test func filterReportsTheBadPattern() {
        #expect(throws: GlobError(pattern: "[x", offset: 0, message: "'[' has no closing ']'")) {
            try KeyFilter(include: ["*.txt"], exclude: ["[x"])
        }
    }

    @Test func relativeKey() {
        #expect(KeyFilter.relativeKey("tickets/2026/1.txt", prefix: "tickets/") == "2026/1.txt")
        #expect(KeyFilter.relativeKey("tickets/1.txt", prefix: "") == "tickets/1.txt")
        #expect(KeyFilter.relativeKey("other/1.txt", prefix: "tickets/") == "other/1.txt")
        // Byte-wise: a decomposed é in the key is not the precomposed é of the prefix.
        #expect(KeyFilter.relativeKey("caf\u{65}\u{301}/x", prefix: "caf\u{E9}/") == "caf\u{65}\u{301}/x")
    }

    @Test func manyStarsStayFast() throws {
        // Exponential for a naive backtracking matcher; linear-time NFA here.
        let glob = try Glob(String(repeating: "*a", count: 40) + "b")
        let key = String(repeating: "a", count: 2000)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<10 { #expect(!glob.matches(key)) }
        }
        #expect(elapsed < .seconds(5))
    }

    @Test func longPatternsBeyondOneWordOfStates() throws {
        let parts = (0..<100).map { "d\($0)" }
        let glob = try Glob(parts.joined(separator: "/") + "/**/*.txt")
        #expect(glob.matches(parts.joined(separator: "/") + "/x/y.txt"))
        #expect(glob.matches(parts.joined(separator: "/") + "/y.txt"))
        #expect(!glob.matches(parts.joined(separator: "/") + "/y.md"))
    }
}
