// libFuzzer harness: the shared config and credentials files and credential_process output. The
// input is read as both files (SharedConfigParser, then SharedConfigFiles' profile, sso-session
// and services sections); for each profile found the static keys, the region, the configured
// endpoints and the credential_process command line are read as the credential chain reads them.
// The same bytes are also read as credential_process's JSON output. No command is run and no
// request is sent. Built only by `make fuzz`; see docs/fuzzing.md.
import Foundation
import FuzzSupport

@testable import AWSCore

private let environment = AWSEnvironment(variables: [:], homeDirectory: "/nonexistent")

@main
enum FuzzConfig: FuzzHarness {
    static func fuzz(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = Data(input)
        _ = try? ProcessCredentialProvider.parse(bytes, profileName: "fuzz")
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? ShellWords.split(text)
        let sections: [ConfigSection]
        do {
            sections = try SharedConfigParser.parse(text, path: "fuzz-config")
        } catch {
            _ = "\(error)"
            return
        }
        let files = SharedConfigFiles(configPath: "fuzz-config", credentialsPath: "fuzz-credentials",
                                      configSections: sections, credentialsSections: sections)
        for name in files.profileNames.prefix(8) {
            let profile = files.profile(named: name)
            _ = try? StaticProfileKeys.credentials(profile: profile, profileName: name, providerName: "fuzz")
            _ = try? RegionResolver.resolve(override: nil, environment: environment, profileName: name, files: files)
            let endpoints = EndpointResolver(environment: environment, files: files, profileName: name)
            for service in [AWSServiceID.s3, .ssm, .bedrockRuntime, .sts] {
                _ = try? endpoints.resolve(service, region: "eu-west-2")
            }
            if let command = profile?["credential_process"] { _ = try? ShellWords.split(command) }
        }
    }
}
