import Foundation
import Testing
@testable import AWSCore

@Suite struct XMLTests {
    @Test func parsesListingWithNamespaceEntitiesAndCDATA() throws {
        let text = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment -->
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name>
              <Contents><Key>a%20b</Key><ETag>&quot;abc&quot;</ETag><Size>12</Size></Contents>
              <Contents><Key><![CDATA[x<y]]></Key><Size>0</Size></Contents>
              <Note>caf&#233; &#x65E5;</Note>
              <Empty/>
            </ListBucketResult>
            """
        let root = try XMLElement.parse(Data(text.utf8))
        #expect(root.localName == "ListBucketResult")
        #expect(root.attributes["xmlns"] == "http://s3.amazonaws.com/doc/2006-03-01/")
        #expect(root.children("Contents").count == 2)
        #expect(root.children("Contents")[0].text(of: "ETag") == "\"abc\"")
        #expect(root.children("Contents")[1].text(of: "Key") == "x<y")
        #expect(root.text(of: "Note") == "café 日")
        #expect(root.child("Empty")?.text == "")
    }

    @Test func refusesDoctypeAndMismatchedTags() {
        #expect(throws: XMLParseError.self) {
            try XMLElement.parse(Data(#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>"#.utf8))
        }
        #expect(throws: XMLParseError.self) { try XMLElement.parse(Data("<a><b></a></b>".utf8)) }
        #expect(throws: XMLParseError.self) { try XMLElement.parse(Data("<a>".utf8)) }
        #expect(throws: XMLParseError.self) { try XMLElement.parse(Data("<a>&bogus;</a>".utf8)) }
        #expect(throws: XMLParseError.self) { try XMLElement.parse(Data("<a/><b/>".utf8)) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "<a>", count: 1000) + String(repeating: "</a>", count: 1000)
        #expect(throws: XMLParseError.self) { try XMLElement.parse(Data(deep.utf8)) }
    }

    @Test func escapesForXML() {
        #expect(XMLElement.escape(#"<"a" & 'b'>"#) == "&lt;&quot;a&quot; &amp; &apos;b&apos;&gt;")
    }
}
