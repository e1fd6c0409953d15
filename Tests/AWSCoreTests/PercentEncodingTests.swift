import Testing
@testable import AWSCore

@Suite struct PercentEncodingTests {
    @Test func encodesEverythingButUnreserved() {
        #expect(AWSPercentEncoding.encode("dir a/b+c=d&e~f:(g).jsonl", allowSlash: true)
            == "dir%20a/b%2Bc%3Dd%26e~f%3A%28g%29.jsonl")
        #expect(AWSPercentEncoding.encode("a/b", allowSlash: false) == "a%2Fb")
        #expect(AWSPercentEncoding.encode("ሴ", allowSlash: false) == "%E1%88%B4")
    }

    @Test func decodesFormStyle() {
        #expect(AWSPercentEncoding.decode("a+b%2Bc", plusAsSpace: true) == "a b+c")
        #expect(AWSPercentEncoding.decode("a+b%2Bc") == "a+b+c")
        #expect(AWSPercentEncoding.decode("100%") == "100%")
        #expect(AWSPercentEncoding.decode("%E1%88%B4") == "ሴ")
    }
}
