import AWSCore
import AWSServices
import Foundation
import Testing
import TestSupport

/// S3 against moto, every request through the signature-checking proxy.
@Suite struct S3IntegrationTests {
    @Test func putGetHeadDeleteRoundTrip() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        let body = Data("hello, conveyor\n".utf8)
        let put = try await s3.putObject(bucket: bucket, key: "in/hello.txt", body: body,
                                         contentType: "text/plain; charset=utf-8", metadata: ["job": "demo"])
        #expect(put.etag != nil)
        let object = try await s3.getObject(bucket: bucket, key: "in/hello.txt")
        #expect(object.body == body)
        #expect(object.metadata.contentType == "text/plain; charset=utf-8")
        #expect(object.metadata.etag == put.etag)
        let head = try await s3.headObject(bucket: bucket, key: "in/hello.txt")
        #expect(head.contentLength == body.count)
        #expect(head.metadata["job"] == "demo")
        #expect(head.lastModified != nil)
        try await s3.deleteObject(bucket: bucket, key: "in/hello.txt")
        let gone = await AWSError.capture { _ = try await s3.getObject(bucket: bucket, key: "in/hello.txt") }
        #expect(gone?.kind == .notFound)
    }

    @Test(arguments: [
        "dir a/b+c=d&e~f:(g).jsonl", "plus+plus", "equals=and&amp", "colon:key", "paren(1)", "café/日本/ü.txt",
        "spaces  two", "tilde~dash-under_score.dot", "a//double/slash", "per%cent", "quote'\"", "semi;comma,at@",
        "emoji-🚀.txt", "hash#question?", "brackets[1]{2}",
    ])
    func awkwardKeysRoundTrip(key: String) async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        let body = Data("body of \(key)".utf8)
        _ = try await s3.putObject(bucket: bucket, key: key, body: body, contentType: "application/octet-stream")
        #expect(try await s3.getObject(bucket: bucket, key: key).body == body)
        #expect(try await s3.headObject(bucket: bucket, key: key).contentLength == body.count)
        var listed: [String] = []
        for try await summary in s3.listObjects(bucket: bucket) { listed.append(summary.key) }
        #expect(listed == [key])
        try await s3.deleteObject(bucket: bucket, key: key)
    }

    @Test func emptyObject() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        _ = try await s3.putObject(bucket: bucket, key: "empty", body: Data(), contentType: "text/plain")
        let object = try await s3.getObject(bucket: bucket, key: "empty")
        #expect(object.body.isEmpty)
        #expect(object.metadata.contentLength == 0)
    }

    @Test func rangedGet() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        _ = try await s3.putObject(bucket: bucket, key: "r", body: Data("0123456789abcdef".utf8),
                                   contentType: "text/plain")
        let first = try await s3.getObject(bucket: bucket, key: "r", range: .bytes(first: 2, last: 5))
        #expect(String(decoding: first.body, as: UTF8.self) == "2345")
        #expect(first.metadata.contentRange == "bytes 2-5/16")
        let tail = try await s3.getObject(bucket: bucket, key: "r", range: .suffix(3))
        #expect(String(decoding: tail.body, as: UTF8.self) == "def")
        let rest = try await s3.getObject(bucket: bucket, key: "r", range: .from(14))
        #expect(String(decoding: rest.body, as: UTF8.self) == "ef")
    }

    @Test func conditionalWriteIfAbsent() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        _ = try await s3.putObject(bucket: bucket, key: "once", body: Data("first".utf8), contentType: "text/plain",
                                   condition: .ifAbsent)
        let error = await AWSError.capture {
            _ = try await s3.putObject(bucket: bucket, key: "once", body: Data("second".utf8),
                                       contentType: "text/plain", condition: .ifAbsent)
        }
        #expect(error?.kind == .preconditionFailed)
        #expect(error?.code == "PreconditionFailed")
        #expect(error?.status == 412)
        #expect(String(decoding: try await s3.getObject(bucket: bucket, key: "once").body, as: UTF8.self) == "first")
        // overwrite without a condition
        _ = try await s3.putObject(bucket: bucket, key: "once", body: Data("third".utf8), contentType: "text/plain")
        #expect(String(decoding: try await s3.getObject(bucket: bucket, key: "once").body, as: UTF8.self) == "third")
    }

    @Test func notFoundMapping() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        let missingKey = await AWSError.capture { _ = try await s3.getObject(bucket: bucket, key: "nope") }
        #expect(missingKey?.kind == .notFound)
        #expect(missingKey?.code == "NoSuchKey")
        #expect(missingKey?.operation == "GetObject")
        let missingHead = await AWSError.capture { _ = try await s3.headObject(bucket: bucket, key: "nope") }
        #expect(missingHead?.kind == .notFound)
        #expect(missingHead?.code == "404")
        let missingBucket = await AWSError.capture {
            _ = try await s3.getObject(bucket: "conveyor-no-such-bucket-x", key: "k")
        }
        #expect(missingBucket?.kind == .notFound)
        #expect(missingBucket?.code == "NoSuchBucket")
        let listMissing = await AWSError.capture {
            _ = try await s3.listObjectsPage(bucket: "conveyor-no-such-bucket-x")
        }
        #expect(listMissing?.code == "NoSuchBucket")
        // DeleteObject of an absent key succeeds, as S3's does
        try await s3.deleteObject(bucket: bucket, key: "never-there")
    }

    @Test func listingPagesLazilyAndDecodesKeys() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        var keys: [String] = []
        for i in 0..<23 { keys.append(String(format: "p/item %02d+x.txt", i)) }
        keys.append("q/other.txt")
        for key in keys {
            _ = try await s3.putObject(bucket: bucket, key: key, body: Data(key.utf8), contentType: "text/plain")
        }
        let first = try await s3.listObjectsPage(bucket: bucket, prefix: "p/", maxKeys: 10)
        #expect(first.objects.count == 10)
        #expect(first.isTruncated)
        #expect(first.nextContinuationToken != nil)
        #expect(first.objects[0].key == "p/item 00+x.txt")
        #expect(first.objects[0].size == "p/item 00+x.txt".utf8.count)
        var all: [String] = []
        for try await summary in s3.listObjects(bucket: bucket, prefix: "p/", pageSize: 10) { all.append(summary.key) }
        #expect(all == keys.filter { $0.hasPrefix("p/") })
        var after: [String] = []
        for try await summary in s3.listObjects(bucket: bucket, startAfter: "p/item 20+x.txt") { after.append(summary.key) }
        #expect(after == ["p/item 21+x.txt", "p/item 22+x.txt", "q/other.txt"])
        let grouped = try await s3.listObjectsPage(bucket: bucket, delimiter: "/")
        #expect(grouped.commonPrefixes == ["p/", "q/"])
        #expect(grouped.objects.isEmpty)
    }

    @Test func multipartUploadAssemblesParts() async throws {
        let s3 = try Fixture.s3(multipartThreshold: 6 * 1024 * 1024)
        let bucket = try await Fixture.bucket(s3)
        var body = Data(count: 12 * 1024 * 1024 + 123)
        body.withUnsafeMutableBytes { raw in
            for i in 0..<raw.count { raw[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 11) }
        }
        let result = try await s3.upload(bucket: bucket, key: "big/blob.bin", body: body,
                                         contentType: "application/octet-stream")
        #expect(result.etag?.contains("-3") == true)  // a multipart ETag names its part count
        let back = try await s3.getObject(bucket: bucket, key: "big/blob.bin")
        #expect(back.body == body)
        // small bodies go up in one PUT
        let small = try await s3.upload(bucket: bucket, key: "small", body: Data("x".utf8), contentType: "text/plain")
        #expect(small.etag?.contains("-") == false)
    }

    @Test func multipartFailureAbortsTheUpload() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        let uploadId = try await s3.createMultipartUpload(bucket: bucket, key: "k", contentType: "text/plain")
        let error = await AWSError.capture {
            _ = try await s3.completeMultipartUpload(
                bucket: bucket, key: "k", uploadId: uploadId, parts: [S3CompletedPart(partNumber: 1, etag: "\"bogus\"")])
        }
        #expect(error != nil)
        #expect(error?.kind == .invalidRequest)
        try await s3.abortMultipartUpload(bucket: bucket, key: "k", uploadId: uploadId)
        let again = await AWSError.capture {
            try await s3.abortMultipartUpload(bucket: bucket, key: "k", uploadId: uploadId)
        }
        #expect(again?.code == "NoSuchUpload")
        #expect(again?.kind == .notFound)
    }

    @Test func sessionTokenCredentialsAreSignedAndAccepted() async throws {
        let credentials = Credentials(accessKeyId: TestAWS.tokenAccessKey, secretAccessKey: TestAWS.tokenSecretKey,
                                      sessionToken: TestAWS.sessionToken, source: "test")
        let s3 = try Fixture.s3(credentials: credentials)
        let bucket = try await Fixture.bucket(s3)
        _ = try await s3.putObject(bucket: bucket, key: "t", body: Data("t".utf8), contentType: "text/plain")
        #expect(try await s3.getObject(bucket: bucket, key: "t").body == Data("t".utf8))
    }

    @Test func wrongSecretIsRejectedAsAccessDenied() async throws {
        let good = try Fixture.s3()
        let bucket = try await Fixture.bucket(good)
        let badCredentials = Credentials(accessKeyId: TestAWS.accessKey, secretAccessKey: "not-the-secret",
                                         source: "test")
        let bad = try Fixture.s3(credentials: badCredentials)
        let error = await AWSError.capture { _ = try await bad.getObject(bucket: bucket, key: "x") }
        #expect(error?.kind == .accessDenied)
        #expect(error?.code == "SignatureDoesNotMatch")
        #expect(error.map { "\($0)" }?.contains("not-the-secret") == false)
        let unknown = try Fixture.s3(credentials: Credentials(accessKeyId: "AKIDUNKNOWN", secretAccessKey: "s"))
        let unknownError = await AWSError.capture { _ = try await unknown.getObject(bucket: bucket, key: "x") }
        #expect(unknownError?.kind == .accessDenied)
        #expect(unknownError?.code == "InvalidAccessKeyId")
    }

    @Test func missingSessionTokenIsRejected() async throws {
        let s3 = try Fixture.s3(credentials: Credentials(accessKeyId: TestAWS.tokenAccessKey,
                                                         secretAccessKey: TestAWS.tokenSecretKey))
        let error = await AWSError.capture { _ = try await s3.listObjectsPage(bucket: "any-bucket") }
        #expect(error?.kind == .accessDenied)
    }

    @Test func everyRequestIsCheckedByTheProxy() async throws {
        let before = try await TestAWS.proxyStats()
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        _ = try await s3.putObject(bucket: bucket, key: "a b", body: Data("1".utf8), contentType: "text/plain")
        _ = try await s3.getObject(bucket: bucket, key: "a b")
        _ = try await s3.listObjectsPage(bucket: bucket)
        let after = try await TestAWS.proxyStats()
        #expect(after.accepted - before.accepted >= 4)
        #expect(after.checked - before.checked >= 4)
    }

    @Test func bucketInAnotherRegionIsFollowedOnceAndRemembered() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        try await TestAWS.proxyRules(bucketRegions: [bucket: "eu-west-2"])
        #expect(s3.region(of: bucket) == "us-east-1")
        _ = try await s3.putObject(bucket: bucket, key: "k", body: Data("v".utf8), contentType: "text/plain")
        #expect(s3.region(of: bucket) == "eu-west-2")
        #expect(try await s3.getObject(bucket: bucket, key: "k").body == Data("v".utf8))
        // HEAD's 301 has no body: the region comes from x-amz-bucket-region
        let fresh = try Fixture.s3()
        #expect(try await fresh.headObject(bucket: bucket, key: "k").contentLength == 1)
        #expect(fresh.region(of: bucket) == "eu-west-2")
        var keys: [String] = []
        for try await summary in try Fixture.s3().listObjects(bucket: bucket) { keys.append(summary.key) }
        #expect(keys == ["k"])
    }

    @Test func accessDeniedOnWritesButNotReads() async throws {
        let s3 = try Fixture.s3()
        let bucket = try await Fixture.bucket(s3)
        _ = try await s3.putObject(bucket: bucket, key: "in.txt", body: Data("x".utf8), contentType: "text/plain")
        try await TestAWS.proxyRules(denyBuckets: [bucket: "write"])
        let denied = await AWSError.capture {
            _ = try await s3.putObject(bucket: bucket, key: "out.txt", body: Data("y".utf8), contentType: "text/plain")
        }
        #expect(denied?.kind == .accessDenied)
        #expect(denied?.code == "AccessDenied")
        #expect(denied?.status == 403)
        #expect(denied?.operation == "PutObject")
        #expect(try await s3.getObject(bucket: bucket, key: "in.txt").body == Data("x".utf8))
        try await TestAWS.proxyRules(denyBuckets: [bucket: "read"])
        let headDenied = await AWSError.capture { _ = try await s3.headObject(bucket: bucket, key: "in.txt") }
        #expect(headDenied?.kind == .accessDenied)
        #expect(headDenied?.code == "403")
    }

    @Test func unreachableEndpointIsATransportError() async throws {
        // a loopback port nobody listens on: bind one, learn its number, close it
        let s3 = try Fixture.s3(endpoint: URL(string: "http://127.0.0.1:\(try closedLoopbackPort())")!)
        let error = await AWSError.capture { _ = try await s3.getObject(bucket: "b", key: "k") }
        #expect(error?.kind == .transport)
        #expect(error?.transportError?.kind == .connect)
        #expect(error?.transportError?.requestSent == false)
    }
}

/// A loopback TCP port with no listener.
func closedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestServerError(message: "socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestServerError(message: "bind failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
