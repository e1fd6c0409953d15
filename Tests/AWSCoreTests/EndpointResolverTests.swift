import Foundation
import Testing
@testable import AWSCore

@Suite struct EndpointResolverTests {
    static let services: [(AWSServiceID, String, String)] = [
        (.s3, "AWS_ENDPOINT_URL_S3", "s3"),
        (.bedrockRuntime, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "bedrock_runtime"),
        (.bedrock, "AWS_ENDPOINT_URL_BEDROCK", "bedrock"),
        (.ssm, "AWS_ENDPOINT_URL_SSM", "ssm"),
        (.sts, "AWS_ENDPOINT_URL_STS", "sts"),
    ]

    private func resolver(_ sandbox: ConfigSandbox, _ variables: [String: String] = [:],
                          profile: String = "default") throws -> EndpointResolver {
        EndpointResolver(environment: sandbox.environment(variables), files: try sandbox.files(variables), profileName: profile)
    }

    @Test func namesOfVariablesAndConfigKeys() {
        for (service, variable, key) in Self.services {
            #expect(service.environmentVariable == variable)
            #expect(service.configKey == key)
        }
    }

    @Test func awsHostsByDefault() throws {
        let sandbox = ConfigSandbox()
        let resolver = try resolver(sandbox)
        let expected = ["s3.eu-west-1.amazonaws.com", "bedrock-runtime.eu-west-1.amazonaws.com",
                        "bedrock.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com", "sts.eu-west-1.amazonaws.com"]
        for ((service, _, _), host) in zip(Self.services, expected) {
            let resolved = try resolver.resolve(service, region: "eu-west-1")
            #expect(resolved.endpoint == Endpoint(scheme: "https", host: host, isCustom: false))
            #expect(resolved.source == "AWS default for eu-west-1")
        }
        #expect(try resolver.endpoint(for: .bedrockRuntime, region: "cn-north-1").description
            == "https://bedrock-runtime.cn-north-1.amazonaws.com.cn")
        #expect(try resolver.endpoint(for: .s3, region: "cn-northwest-1").host == "s3.cn-northwest-1.amazonaws.com.cn")
        let noRegion = try #require(throws: AWSConfigError.self) { try resolver.resolve(.ssm, region: nil) }
        #expect(noRegion.kind == .noRegion)
    }

    @Test(arguments: [0, 1, 2, 3, 4])
    func lookupOrderForEveryService(index: Int) throws {
        let (service, variable, key) = Self.services[index]
        let sandbox = ConfigSandbox()
        sandbox.config("""
            [default]
            services = local
            endpoint_url = http://profile-wide:4000
            [services local]
            \(key) =
                endpoint_url = http://from-services:5000/base
            """)
        let all = [variable: "http://service-var:1000", "AWS_ENDPOINT_URL": "http://global-var:2000"]
        var resolved = try resolver(sandbox, all).resolve(service, region: "us-east-1")
        #expect(resolved == ResolvedEndpoint(
            endpoint: Endpoint(scheme: "http", host: "service-var", port: 1000, isCustom: true), source: variable))
        resolved = try resolver(sandbox, ["AWS_ENDPOINT_URL": "http://global-var:2000", variable: ""]).resolve(service, region: nil)
        #expect(resolved.endpoint.description == "http://global-var:2000" && resolved.source == "AWS_ENDPOINT_URL")
        resolved = try resolver(sandbox).resolve(service, region: "us-east-1")
        #expect(resolved.endpoint == Endpoint(scheme: "http", host: "from-services", port: 5000, basePath: "/base", isCustom: true))
        #expect(resolved.source == "[services local] in \(sandbox.configPath) (profile 'default')")
        // Another service's entry does not count; the profile's own endpoint_url does.
        let other = Self.services[(index + 1) % Self.services.count].2
        sandbox.config("[default]\nservices = local\nendpoint_url = http://profile-wide:4000\n[services local]\n\(other) =\n  endpoint_url = http://x\n")
        resolved = try resolver(sandbox).resolve(service, region: "us-east-1")
        #expect(resolved.endpoint.description == "http://profile-wide:4000" && resolved.endpoint.isCustom)
        #expect(resolved.source == "endpoint_url of profile 'default' in \(sandbox.configPath)")
    }

    @Test func theIgnoreFlagSwitchesOffConfiguredEndpoints() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[default]\nendpoint_url = http://localhost:4566\n[profile off]\nendpoint_url = http://localhost:4566\nignore_configured_endpoint_urls = TRUE\n")
        let env = ["AWS_ENDPOINT_URL_S3": "http://localhost:9000"]
        #expect(try resolver(sandbox, env).resolve(.s3, region: "us-east-1").endpoint.isCustom)
        let ignored = try resolver(sandbox, env.merging(["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"]) { $1 })
        #expect(ignored.ignoresConfiguredEndpoints)
        #expect(try ignored.resolve(.s3, region: "us-east-1").endpoint.description == "https://s3.us-east-1.amazonaws.com")
        #expect(try resolver(sandbox, profile: "off").resolve(.ssm, region: "us-east-1").source == "AWS default for us-east-1")
        // The variable wins over the config setting, either way.
        let notIgnored = try resolver(sandbox, ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"], profile: "off")
        #expect(try notIgnored.resolve(.ssm, region: "us-east-1").endpoint.description == "http://localhost:4566")
    }

    @Test func invalidURLsAndMissingServicesSectionsAreErrors() throws {
        let sandbox = ConfigSandbox()
        for bad in ["localhost:9000", "ftp://host", "http://", "http://host:99999", "http://user:zzsecretzz@host",
                    "http://host:9000 # local"] {
            let error = try #require(throws: AWSConfigError.self) {
                try resolver(sandbox, ["AWS_ENDPOINT_URL_S3": bad]).resolve(.s3, region: "us-east-1")
            }
            #expect(error.kind == .invalidEndpoint)
            #expect(error.message.hasPrefix("AWS_ENDPOINT_URL_S3 is not a valid http(s) URL: "))
            #expect(!containsSecret(error.message))
        }
        sandbox.config("[default]\nservices = local\n[services local]\nssm =\n  endpoint_url = not a url\n")
        let fromFile = try #require(throws: AWSConfigError.self) { try resolver(sandbox).resolve(.ssm, region: "us-east-1") }
        #expect(fromFile.message == "endpoint_url for ssm in [services local] in \(sandbox.configPath) is not a valid http(s) URL: 'not a url'")

        sandbox.config("[default]\nservices = missing\n")
        let missing = try #require(throws: AWSConfigError.self) { try resolver(sandbox).resolve(.ssm, region: "us-east-1") }
        #expect(missing.kind == .invalidServicesSection)
        #expect(missing.message == "profile 'default' uses services section 'missing', which does not exist in \(sandbox.configPath)")
        // A service variable is looked at before the services section, so it still works.
        #expect(try resolver(sandbox, ["AWS_ENDPOINT_URL_SSM": "http://h"]).resolve(.ssm, region: nil).source == "AWS_ENDPOINT_URL_SSM")

        sandbox.config("[default]\nservices = flat\n[services flat]\ns3 = http://localhost:9000\n")
        let flat = try #require(throws: AWSConfigError.self) { try resolver(sandbox).resolve(.s3, region: "us-east-1") }
        #expect(flat.kind == .invalidServicesSection)
    }
}
