import Foundation
import Testing
@testable import AWSCore

@Suite struct RegionResolverTests {
    private func region(_ sandbox: ConfigSandbox, _ variables: [String: String] = [:], override: String? = nil,
                        profile: String? = nil) throws -> ResolvedRegion {
        let environment = sandbox.environment(variables)
        let selection = ProfileSelection.select(explicit: profile, environment: environment)
        return try RegionResolver.resolve(override: override.map { ($0, "--region") }, environment: environment,
                                          profileName: selection.name, files: try SharedConfigFiles.load(environment: environment))
    }

    @Test func overrideThenAWSRegionThenAWSDefaultRegionThenProfile() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[default]\nregion = eu-north-1\n[profile dev]\nregion = ap-southeast-2\n")
        let all = ["AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-east-2"]
        #expect(try region(sandbox, all, override: "eu-west-1") == ResolvedRegion(name: "eu-west-1", source: "--region"))
        #expect(try region(sandbox, all) == ResolvedRegion(name: "us-west-2", source: "AWS_REGION"))
        #expect(try region(sandbox, ["AWS_REGION": "", "AWS_DEFAULT_REGION": "us-east-2"])
            == ResolvedRegion(name: "us-east-2", source: "AWS_DEFAULT_REGION"))
        #expect(try region(sandbox) == ResolvedRegion(name: "eu-north-1", source: "profile 'default' in \(sandbox.configPath)"))
        #expect(try region(sandbox, profile: "dev").name == "ap-southeast-2")
        #expect(try region(sandbox, ["AWS_PROFILE": "dev"]).description
            == "ap-southeast-2 (from profile 'dev' in \(sandbox.configPath))")
    }

    @Test func aRegionInTheCredentialsFileCountsForItsProfile() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[profile dev]\nregion = eu-west-1\n")
        sandbox.credentials("[dev]\nregion = eu-west-3\n")
        #expect(try region(sandbox, profile: "dev") == ResolvedRegion(name: "eu-west-3", source: "profile 'dev' in \(sandbox.credentialsPath)"))
    }

    @Test func noRegionListsWhatWasTried() throws {
        let sandbox = ConfigSandbox()
        let error = try #require(throws: AWSConfigError.self) { try region(sandbox) }
        #expect(error.kind == .noRegion)
        #expect(error.description == "no AWS region configured; tried: AWS_REGION (not set), AWS_DEFAULT_REGION (not set), "
            + "profile 'default' in \(sandbox.configPath) (no such profile). Set AWS_REGION or pass --region")
        sandbox.config("[profile dev]\noutput = json\n")
        let failure = try #require(throws: AWSConfigError.self) { try region(sandbox, override: nil, profile: "dev") }
        #expect(failure.message.hasPrefix("no AWS region configured; tried: AWS_REGION (not set), "))
        #expect(failure.message.contains("profile 'dev' in \(sandbox.configPath) (no region)"))
    }

    @Test func malformedRegionsAreRejectedNamingTheirSource() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[default]\nregion = us-east-1 # where we run\n")
        let inline = try #require(throws: AWSConfigError.self) { try region(sandbox) }
        #expect(inline.kind == .invalidRegion)
        #expect(inline.message.hasPrefix("region 'us-east-1 # where we run' from profile 'default' in \(sandbox.configPath) is not"))
        for bad in ["US-EAST-1", "us_east_1", "-us", "eu-west-1/"] {
            let error = try #require(throws: AWSConfigError.self) { try region(sandbox, ["AWS_REGION": bad]) }
            #expect(error.message.hasPrefix("region '\(bad)' from AWS_REGION is not a valid region name"))
        }
        #expect(throws: AWSConfigError.self) { try region(sandbox, override: "") }
        #expect(RegionResolver.isValid("cn-northwest-1") && RegionResolver.isValid("us-gov-west-1"))
    }
}
