import Foundation
import Testing
@testable import AWSCore

@Suite struct ConfigProfileSelectionTests {
    @Test func explicitThenAWSProfileThenAWSDefaultProfileThenDefault() {
        let both = AWSEnvironment(variables: ["AWS_PROFILE": "p", "AWS_DEFAULT_PROFILE": "dp"], homeDirectory: "/h")
        #expect(ProfileSelection.select(explicit: "cli", environment: both) == ProfileSelection(name: "cli", source: .argument))
        #expect(ProfileSelection.select(explicit: nil, environment: both)
            == ProfileSelection(name: "p", source: .environment("AWS_PROFILE")))
        let legacy = AWSEnvironment(variables: ["AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "dp"], homeDirectory: "/h")
        #expect(ProfileSelection.select(explicit: nil, environment: legacy)
            == ProfileSelection(name: "dp", source: .environment("AWS_DEFAULT_PROFILE")))
        let none = AWSEnvironment(variables: [:], homeDirectory: "/h")
        let selection = ProfileSelection.select(explicit: nil, environment: none)
        #expect(selection == ProfileSelection(name: "default", source: .implicitDefault))
        #expect(!selection.isExplicit)
        #expect(selection.description == "profile 'default' (from default)")
    }

    @Test func aProfileAskedForMustExist() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[profile dev]\nregion = eu-west-1\n")
        sandbox.credentials("[ci]\naws_access_key_id = AKID\naws_secret_access_key = SK-zzsecretzz\n")
        let files = try sandbox.files()
        for name in ["dev", "ci"] {
            #expect(throws: Never.self) { try ProfileSelection(name: name, source: .argument).validate(in: files) }
        }
        // The implicit default may be absent; an explicit `default` may not (as botocore).
        #expect(throws: Never.self) { try ProfileSelection(name: "default", source: .implicitDefault).validate(in: files) }
        let error = try #require(throws: AWSConfigError.self) {
            try ProfileSelection.select(explicit: "x", environment: sandbox.environment()).validate(in: files)
        }
        #expect(error.kind == .profileNotFound)
        #expect(error.description
            == "profile 'x' (from --profile) not found in \(sandbox.configPath) or \(sandbox.credentialsPath)")
        let fromEnv = try #require(throws: AWSConfigError.self) {
            try ProfileSelection.select(explicit: nil, environment: sandbox.environment(["AWS_PROFILE": "default"]))
                .validate(in: files)
        }
        #expect(fromEnv.message.hasPrefix("profile 'default' (from AWS_PROFILE) not found in "))
    }
}
