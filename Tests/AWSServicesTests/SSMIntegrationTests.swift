import AWSCore
import Foundation
import Testing
import TestSupport
@testable import AWSServices

/// SSM Parameter Store against moto, every request through the signature-checking proxy.
@Suite struct SSMIntegrationTests {
    /// Creates parameters with PutParameter (signed by our client, checked by the proxy).
    func put(_ ssm: SSMClient, _ name: String, _ value: String, type: String = "String") async throws {
        _ = try await ssm.call("PutParameter", ["Name": name, "Value": value, "Type": type, "Overwrite": true])
    }

    func prefix() -> String { "/conveyor-test/\(TestAWS.uniqueName("p"))" }

    @Test func getStringParameter() async throws {
        let ssm = try Fixture.ssm()
        let base = prefix()
        try await put(ssm, "\(base)/greeting", "hello world")
        let parameter = try await ssm.getParameter(name: "\(base)/greeting", withDecryption: false)
        #expect(parameter.value == "hello world")
        #expect(parameter.type == .string)
        #expect(parameter.version == 1)
        #expect(parameter.lastModified != nil)
        #expect(parameter.description.contains("hello world"))
    }

    @Test func secureStringIsDecryptedButNeverDescribed() async throws {
        let ssm = try Fixture.ssm()
        let name = "\(prefix())/api-key"
        let secret = "s3cr3t-value-\(UUID().uuidString)"
        try await put(ssm, name, secret, type: "SecureString")
        let parameter = try await ssm.getParameter(name: name, withDecryption: true)
        #expect(parameter.value == secret)
        #expect(parameter.isSecure)
        #expect(!parameter.description.contains(secret))
        #expect(!"\(parameter)".contains(secret))
        #expect(!String(reflecting: parameter).contains(secret))
    }

    @Test func missingParameterIsNotFound() async throws {
        let ssm = try Fixture.ssm()
        let error = await AWSError.capture { _ = try await ssm.getParameter(name: "\(prefix())/missing", withDecryption: true) }
        #expect(error?.kind == .notFound)
        #expect(error?.code == "ParameterNotFound")
        #expect(error?.service == "SSM")
        #expect(error?.operation == "GetParameter")
    }

    @Test func getParametersReportsMissingNamesAndChunksByTen() async throws {
        let ssm = try Fixture.ssm()
        let base = prefix()
        var names: [String] = []
        for i in 0..<13 {
            let name = "\(base)/n\(i)"
            names.append(name)
            try await put(ssm, name, "v\(i)")
        }
        let result = try await ssm.getParameters(names: names + ["\(base)/absent-1", "\(base)/absent-2"],
                                                 withDecryption: true)
        #expect(Set(result.parameters.map(\.name)) == Set(names))
        #expect(Set(result.invalidNames) == ["\(base)/absent-1", "\(base)/absent-2"])
        #expect(result.parameters.first { $0.name == "\(base)/n7" }?.value == "v7")
    }

    @Test func getParametersByPathPagesThroughEverything() async throws {
        let ssm = try Fixture.ssm()
        let base = prefix()
        for i in 0..<23 { try await put(ssm, "\(base)/app/k\(i)", "v\(i)") }
        try await put(ssm, "\(base)/app/deeper/x", "nested")
        let page = try await ssm.getParametersByPathPage(path: "\(base)/app", recursive: false, withDecryption: true,
                                                         nextToken: nil, maxResults: 10)
        #expect(page.parameters.count == 10)
        #expect(page.nextToken != nil)
        var flat: [String] = []
        for try await parameter in ssm.getParametersByPath(path: "\(base)/app", recursive: false) {
            flat.append(parameter.name)
        }
        #expect(flat.count == 23)
        #expect(!flat.contains("\(base)/app/deeper/x"))
        var deep = 0
        for try await _ in ssm.getParametersByPath(path: "\(base)/app", recursive: true) { deep += 1 }
        #expect(deep == 24)
    }

    @Test func wrongSecretIsInvalidSignature() async throws {
        let ssm = try Fixture.ssm(credentials: Credentials(accessKeyId: TestAWS.accessKey, secretAccessKey: "wrong"))
        let error = await AWSError.capture { _ = try await ssm.getParameter(name: "/x", withDecryption: true) }
        #expect(error?.kind == .accessDenied)
        #expect(error?.code == "InvalidSignatureException")
    }
}
