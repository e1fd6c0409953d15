import Foundation
import Testing
@testable import AWSCore

@Suite struct ConfigurationTests {
    @Test func anExplicitProfileThatDoesNotExistFailsResolution() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[profile dev]\nregion = eu-west-1\n")
        let error = try #require(throws: AWSConfigError.self) {
            try AWSConfiguration.resolve(environment: sandbox.environment(), profile: "x")
        }
        #expect(error.kind == .profileNotFound)
        #expect(try AWSConfiguration.resolve(environment: sandbox.environment(), profile: "dev").profile.name == "dev")
        // A malformed file fails resolution too.
        sandbox.credentials("[dev]\nnot a setting\n")
        let malformed = try #require(throws: AWSConfigError.self) { try AWSConfiguration.resolve(environment: sandbox.environment()) }
        #expect(malformed.description.hasPrefix("\(sandbox.credentialsPath):2: "))
    }

    @Test func regionOverrideAndMissingRegion() throws {
        let sandbox = ConfigSandbox()
        let job = try AWSConfiguration.resolve(environment: sandbox.environment(["AWS_REGION": "us-east-1"]),
                                               region: "eu-west-2", regionSource: "job file")
        #expect(try job.region == ResolvedRegion(name: "eu-west-2", source: "job file"))
        let none = try AWSConfiguration.resolve(environment: sandbox.environment())
        guard case .failure(let failure) = none.regionResult else {
            Issue.record("expected no region")
            return
        }
        #expect(failure.kind == .noRegion)
        #expect(throws: AWSConfigError.self) { try none.endpoint(for: .bedrockRuntime) }
        // A configured endpoint needs no region.
        let custom = try AWSConfiguration.resolve(environment: sandbox.environment(["AWS_ENDPOINT_URL": "http://127.0.0.1:9"]))
        #expect(try custom.endpoint(for: .s3).endpoint.isCustom)
    }

    @Test func oneConfigurationForClientsAndDoctor() async throws {
        let sandbox = ConfigSandbox()
        sandbox.config("""
            [profile emu]
            region = eu-west-1
            services = emu
            [services emu]
            bedrock_runtime =
              endpoint_url = http://127.0.0.1:5050
            """)
        sandbox.credentials("[emu]\naws_access_key_id = AKIDEMULATOR\naws_secret_access_key = SK-zzsecretzz\n")
        let aws = try AWSConfiguration.resolve(environment: sandbox.environment(["AWS_PROFILE": "emu"]))
        #expect(aws.profile == ProfileSelection(name: "emu", source: .environment("AWS_PROFILE")))
        #expect(try aws.region.name == "eu-west-1")
        #expect(try aws.endpoint(for: .bedrockRuntime).endpoint.description == "http://127.0.0.1:5050")
        #expect(try aws.endpoint(for: .s3).endpoint.description == "https://s3.eu-west-1.amazonaws.com")
        let facts = await aws.facts(services: [.bedrockRuntime, .s3])
        #expect(facts.map(\.label) == ["profile", "config file", "credentials file", "region", "credentials",
                                       "endpoint Bedrock Runtime", "endpoint S3"])
        #expect(facts.allSatisfy { $0.ok })
        #expect(facts[4].value == "Credentials(********ATOR from shared credentials file \(sandbox.credentialsPath) [emu])")
        #expect(aws.credentials.resolvedProviderName == "shared credentials file \(sandbox.credentialsPath)")
        #expect(!facts.contains { containsSecret($0.value) })

        let nothing = try AWSConfiguration.resolve(environment: sandbox.environment(["AWS_CONFIG_FILE": "/nonexistent/c"]))
        let failing = await nothing.facts(services: [.ssm])
        #expect(failing.map(\.ok) == [true, true, true, false, false, false])
        #expect(failing[1].value == "/nonexistent/c (not found)")
    }
}
