import AWSCore
import AWSServices
import Foundation
import Logging
import Testing
import TestSupport
@testable import ConveyorKit

/// An output prefix holding a million objects, served by a loopback stand-in that makes the
/// pages up as they are asked for (Tests/servers/s3_listing_fixture.py): listing is paged and
/// pulled, never run ahead of its consumer, and resume keeps 8 bytes per key.
@Suite(.timeLimit(.minutes(5))) struct ListingScaleTests {
    static let keys = 1_000_000

    struct Fixture {
        let url: URL
        let storage: Storage

        init() throws {
            url = try TestServers.launch(script: "s3_listing_fixture.py", arguments: ["--keys", String(ListingScaleTests.keys)])
            storage = Storage(s3: S3Client(client: try KitFixture.awsClient(S3Client.serviceInfo, endpoint: url.absoluteString)))
        }

        func pagesServed() async throws -> Int {
            let response = try await CurlTransport.shared.execute(
                HTTPRequest(method: "GET", endpoint: Endpoint(url: url.absoluteString)!, path: "/__listing/stats"))
            let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
            return object["pages"] as? Int ?? -1
        }
    }

    @Test func aListingIsPulledOnePageAtATime() async throws {
        let fixture = try Fixture()
        var consumed = 0
        for try await object in fixture.storage.list(.s3(bucket: "million", key: "out/")) {
            #expect(object.uri == .s3(bucket: "million", key: String(format: "out/k%07d.json", consumed)))
            consumed += 1
            if consumed % 1000 == 1 {
                // the page of this object is the last one asked for: nothing is fetched ahead
                let pages = try await fixture.pagesServed()
                #expect(pages == consumed / 1000 + 1, "\(pages) pages served for \(consumed) objects used")
            }
            if consumed == 20_000 { break }
        }
        #expect(consumed == 20_000)
    }

    @Test func resumeListsAMillionOutputsInBoundedMemory() async throws {
        let fixture = try Fixture()
        let job = try KitFixture.job("""
            version: 1
            name: million
            model: {id: m, maxTokens: 5}
            prompts: [{id: one, prompt: "x"}]
            output: {s3: "s3://million/out/{{item.id}}.json"}
            """)
        let builder = RequestBuilder(job: job, prompts: ResolvedPrompts(system: nil, prompt: nil, ssmParameters: [], s3Objects: []),
                                     run: TemplateValues.Run(jobName: job.name, runID: "r", startedAt: Date(), vars: [:]))
        let existing = try await ExistingOutputs.load(job: job, builder: builder, storage: fixture.storage,
                                                      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        #expect(existing.listedCount == Self.keys)
        #expect(try await fixture.pagesServed() == Self.keys / 1000)
        #expect(try await existing.contains(.s3(bucket: "million", key: "out/k0999999.json"), storage: fixture.storage))
        #expect(try await existing.contains(.s3(bucket: "million", key: "out/k0000000.json"), storage: fixture.storage))
        #expect(!(try await existing.contains(.s3(bucket: "million", key: "out/k1000000.json"), storage: fixture.storage)))
    }
}
