import Testing
@testable import ConveyorKit

/// requestMetadata values as Bedrock allows them: `[a-zA-Z0-9\s:_@$#=/+,-.]`, up to 256 characters.
@Suite struct RequestMetadataTests {
    @Test func allowedTextPassesAsItIs() {
        #expect(RequestBuilder.metadataValue("tickets/t001.txt") == "tickets/t001.txt")
        #expect(RequestBuilder.metadataValue("run 20261130T020000Z-3f9a: a=b, c+d @x #1 $2") == "run 20261130T020000Z-3f9a: a=b, c+d @x #1 $2")
    }

    @Test func everythingElseBecomesAnUnderscorePerCharacter() {
        #expect(RequestBuilder.metadataValue("a?b*c") == "a_b_c")
        #expect(RequestBuilder.metadataValue("café ☕️") == "caf_ _")  // one per character, not per byte
        #expect(RequestBuilder.metadataValue("tab\there") == "tab_here")
    }

    @Test func longValuesAreCutAt256Characters() {
        #expect(RequestBuilder.metadataValue(String(repeating: "a", count: 300)) == String(repeating: "a", count: 256))
        #expect(RequestBuilder.metadataValue(String(repeating: "é", count: 300)) == String(repeating: "_", count: 256))
    }
}
