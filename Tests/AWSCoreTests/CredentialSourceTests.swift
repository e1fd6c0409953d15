import Foundation
import Testing
import TestSupport
@testable import AWSCore

/// Each credential source of a cron host against the loopback stand-in (STS, container endpoint,
/// IMDS), each proven by a signed S3 request that a signature-checking proxy accepts only with the
/// temporary key, secret and session token the stand-in handed out.
@Suite struct CredentialSourceTests {
    static let s3 = ServiceInfo(serviceId: "S3", signingName: "s3", endpointPrefix: "s3", wireProtocol: .restXML,
                                signerOptions: .s3)

    /// The default chain for `variables` (plus a region, STS at the stand-in, IMDS off unless
    /// the test points it at the stand-in), with `clock` as its clock.
    func makeChain(_ sandbox: ConfigSandbox, _ standIn: CredentialStandIn, _ variables: [String: String] = [:],
               profile: String? = nil, clock: TestClock = TestClock(Date())) throws -> DefaultCredentialChain {
        var all = ["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": standIn.endpoint]
        all.merge(variables) { $1 }
        return try AWSConfiguration.resolve(environment: sandbox.environment(all), profile: profile,
                                            now: clock.closure).credentials
    }

    /// ListBuckets through the stand-in's proxy, signed with what `credentials` gives.
    @discardableResult
    func listBuckets(_ standIn: CredentialStandIn, _ credentials: any CredentialProvider) async throws -> HTTPResponse {
        let proxy = try #require(Endpoint(url: standIn.proxyURL.absoluteString))
        let client = AWSClient(service: Self.s3, region: "us-east-1", endpoint: proxy,
                               credentials: credentials, transport: CurlTransport.shared)
        return try await client.send(HTTPRequest(method: "GET", endpoint: client.endpoint, path: "/"),
                                     operation: "ListBuckets")
    }

    // MARK: web identity

    @Test func webIdentityFromTheEnvironmentSignsS3AndRereadsTheTokenFileAtEachRefresh() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let tokenFile = sandbox.write("token", standIn.webIdentityToken + "\n")
        let clock = TestClock(Date())
        let chain = try makeChain(sandbox, standIn, [
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/irsa",
            "AWS_ROLE_SESSION_NAME": "nightly",
        ], clock: clock)
        let first = try await chain.credentials()
        #expect(first.accessKeyId == standIn.issued[0].accessKeyId)
        #expect(first.sessionToken == standIn.issued[0].sessionToken)
        #expect(first.expiration != nil)
        #expect(chain.resolvedProviderName == "web identity")
        try await listBuckets(standIn, chain)
        #expect(try await standIn.proxyStats().acceptedByKey == [standIn.issued[0].accessKeyId: 1])
        #expect(try await standIn.last("AssumeRoleWithWebIdentity") == [
            "RoleArn": "arn:aws:iam::123456789012:role/irsa", "RoleSessionName": "nightly",
        ])

        // The token rotates; the next refresh must send the new one (the old one is refused now).
        // The new credentials last two hours, so they are fresh on the moved clock.
        try await standIn.configure(["webIdentityToken": "rotated-zztokenzz", "expiresIn": 7200])
        sandbox.write("token", "rotated-zztokenzz")
        clock.set(Date().addingTimeInterval(3600 - 5 * 60))  // inside the mandatory window
        let second = try await chain.credentials()
        #expect(second.accessKeyId == standIn.issued[1].accessKeyId)
        try await listBuckets(standIn, chain)
        #expect(try await standIn.calls()["AssumeRoleWithWebIdentity"] == 2)
        #expect(try await standIn.calls()["AssumeRoleWithWebIdentity:rejected"] == nil)
    }

    @Test func webIdentityFromAProfileUsesTheProfilesSTSEndpoint() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let tokenFile = sandbox.write("token", standIn.webIdentityToken)
        sandbox.config("""
            [profile ci]
            region = eu-west-1
            web_identity_token_file = \(tokenFile)
            role_arn = arn:aws:iam::123456789012:role/ci
            services = local
            [services local]
            sts =
              endpoint_url = \(standIn.endpoint)
            """)
        let resolved = try AWSConfiguration.resolve(environment: sandbox.environment(["AWS_PROFILE": "ci"]))
        let credentials = try await resolved.credentials.credentials()
        #expect(credentials.accessKeyId == standIn.issued[0].accessKeyId)
        #expect(credentials.source == "web identity (arn:aws:iam::123456789012:role/ci)")
        try await listBuckets(standIn, resolved.credentials)
        let session = try await standIn.last("AssumeRoleWithWebIdentity")["RoleSessionName"]
        #expect(session?.hasPrefix("conveyor-session-") == true)
    }

    @Test func webIdentityProblemsAreClearErrors() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let noRole = try await #require(throws: CredentialsError.self) {
            try await makeChain(sandbox, standIn, ["AWS_WEB_IDENTITY_TOKEN_FILE": sandbox.path + "/token"]).credentials()
        }
        #expect(noRole.kind == .partialCredentials)
        #expect(noRole.description.contains("AWS_ROLE_ARN"))
        let missing = try await #require(throws: CredentialsError.self) {
            try await makeChain(sandbox, standIn, ["AWS_WEB_IDENTITY_TOKEN_FILE": sandbox.path + "/absent",
                                               "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"]).credentials()
        }
        #expect(missing.kind == .configuration)
        #expect(missing.description.contains("\(sandbox.path)/absent"))
        sandbox.write("wrong", "not-the-token")
        let refused = try await #require(throws: CredentialsError.self) {
            try await makeChain(sandbox, standIn, ["AWS_WEB_IDENTITY_TOKEN_FILE": sandbox.path + "/wrong",
                                               "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"]).credentials()
        }
        #expect(refused.kind == .requestFailed)
        #expect(refused.description.contains("InvalidIdentityToken"))
        #expect(!containsSecret(refused.description))
    }

    @Test func webIdentityIsRetriedWhenTheIdentityProviderDoesNotAnswer() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let tokenFile = sandbox.write("token", standIn.webIdentityToken)
        try await standIn.configure(["idpFailures": 2])
        let chain = try makeChain(sandbox, standIn, ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
                                                     "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"])
        try await listBuckets(standIn, chain)
        let calls = try await standIn.calls()
        #expect(calls["AssumeRoleWithWebIdentity:rejected"] == 2 && calls["AssumeRoleWithWebIdentity"] == 1, "\(calls)")
    }

    // MARK: assume role

    @Test func assumeRoleIsSignedWithTheSourceProfilesKeyAndPassesItsSettings() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        sandbox.credentials("[base]\naws_access_key_id = \(standIn.source.accessKeyId)\n"
            + "aws_secret_access_key = \(standIn.source.secretAccessKey)\n")
        sandbox.config("""
            [profile nightly]
            role_arn = arn:aws:iam::123456789012:role/batch
            source_profile = base
            external_id = ext-42
            role_session_name = conveyor-nightly
            duration_seconds = 1800
            """)
        let chain = try makeChain(sandbox, standIn, profile: "nightly")
        let credentials = try await chain.credentials()
        #expect(credentials.accessKeyId == standIn.issued[0].accessKeyId)
        #expect(chain.resolvedProviderName == "assume role")
        try await listBuckets(standIn, chain)
        #expect(try await standIn.last("AssumeRole") == [
            "RoleArn": "arn:aws:iam::123456789012:role/batch", "RoleSessionName": "conveyor-nightly",
            "ExternalId": "ext-42", "DurationSeconds": "1800", "SignedBy": standIn.source.accessKeyId,
            "Region": "us-east-1",
        ])
    }

    @Test func chainedProfilesAssumeEachRoleInTurn() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        sandbox.config("""
            [profile base]
            aws_access_key_id = \(standIn.source.accessKeyId)
            aws_secret_access_key = \(standIn.source.secretAccessKey)
            [profile hop]
            role_arn = arn:aws:iam::111111111111:role/hop
            source_profile = base
            [profile target]
            role_arn = arn:aws:iam::222222222222:role/target
            source_profile = hop
            """)
        let chain = try makeChain(sandbox, standIn, ["AWS_PROFILE": "target"])
        #expect(try await chain.credentials().accessKeyId == standIn.issued[1].accessKeyId)
        try await listBuckets(standIn, chain)
        #expect(try await standIn.calls()["AssumeRole"] == 2)
        // the second hop was signed with the first hop's temporary key
        let last = try await standIn.last("AssumeRole")
        #expect(last["RoleArn"] == "arn:aws:iam::222222222222:role/target")
        #expect(last["SignedBy"] == standIn.issued[0].accessKeyId)
    }

    @Test func assumeRoleFromTheEnvironmentAsCredentialSource() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        sandbox.config("[profile ops]\nrole_arn = arn:aws:iam::1:role/ops\ncredential_source = Environment\n")
        let chain = try makeChain(sandbox, standIn, [
            "AWS_ACCESS_KEY_ID": standIn.source.accessKeyId, "AWS_SECRET_ACCESS_KEY": standIn.source.secretAccessKey,
        ], profile: "ops")
        #expect(try await chain.credentials().accessKeyId == standIn.issued[0].accessKeyId)
        try await listBuckets(standIn, chain)
        #expect(try await standIn.last("AssumeRole")["SignedBy"] == standIn.source.accessKeyId)
    }

    @Test func assumeRoleConfigurationErrorsNameTheProblem() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        sandbox.config("""
            [profile loop-a]
            role_arn = arn:aws:iam::1:role/a
            source_profile = loop-b
            [profile loop-b]
            role_arn = arn:aws:iam::1:role/b
            source_profile = loop-a
            [profile mfa]
            role_arn = arn:aws:iam::1:role/m
            source_profile = loop-a
            mfa_serial = arn:aws:iam::1:mfa/me
            [profile both]
            role_arn = arn:aws:iam::1:role/x
            source_profile = loop-a
            credential_source = Environment
            [profile neither]
            role_arn = arn:aws:iam::1:role/x
            [profile odd-source]
            role_arn = arn:aws:iam::1:role/x
            credential_source = Laptop
            [profile dangling]
            role_arn = arn:aws:iam::1:role/x
            source_profile = nowhere
            """)
        let cases = [
            ("loop-a", "profiles refer to each other in a loop: 'loop-a' -> 'loop-b' -> 'loop-a'"),
            ("mfa", "sets mfa_serial"),
            ("both", "has both source_profile and credential_source"),
            ("neither", "neither source_profile nor credential_source"),
            ("odd-source", "expected one of Environment, Ec2InstanceMetadata, EcsContainer"),
            ("dangling", "source_profile 'nowhere' of profile 'dangling' does not exist"),
        ]
        for (profile, expected) in cases {
            let error = try await #require(throws: CredentialsError.self) {
                try await makeChain(sandbox, standIn, profile: profile).credentials()
            }
            #expect(error.kind == .configuration, "\(profile)")
            #expect(error.description.contains(expected), "\(profile): \(error)")
        }
        #expect(try await standIn.calls()["AssumeRole"] == nil)
    }

    // MARK: container

    @Test func containerFullURIWithATokenFileReadAtEachFetch() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let tokenFile = sandbox.write("pod-token", standIn.containerToken)
        let clock = TestClock(Date())
        let chain = try makeChain(sandbox, standIn, [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": standIn.endpoint + "/container/v1/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-when-the-file-is-set",
        ], clock: clock)
        let credentials = try await chain.credentials()
        #expect(credentials.accessKeyId == standIn.issued[0].accessKeyId)
        #expect(chain.resolvedProviderName == "container")
        try await listBuckets(standIn, chain)
        #expect(try await standIn.last("container")["Accept"] == "application/json")

        try await standIn.configure(["containerToken": "rotated-zztokenzz"])
        sandbox.write("pod-token", "rotated-zztokenzz")
        clock.set(Date().addingTimeInterval(3600 - 5 * 60))
        #expect(try await chain.credentials().accessKeyId == standIn.issued[1].accessKeyId)
        #expect(try await standIn.calls()["container"] == 2)
        #expect(try await standIn.calls()["container:rejected"] == nil)
    }

    @Test func containerTokenFromTheVariableAndAWrongTokenIsAnError() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let uri = standIn.endpoint + "/container/v2/credentials/abc"
        let good = try makeChain(sandbox, standIn, ["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
                                                "AWS_CONTAINER_AUTHORIZATION_TOKEN": standIn.containerToken])
        try await listBuckets(standIn, good)
        let bad = ContainerCredentialProvider(
            environment: sandbox.environment(["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
                                              "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong-zztokenzz"]),
            transport: CurlTransport.shared, retryDelay: .zero)
        let error = try await #require(throws: CredentialsError.self) { try await bad.credentials() }
        #expect(error.kind == .requestFailed)
        #expect(error.description.contains("HTTP 401"))
        #expect(!containsSecret(error.description))
        // a 4xx is not asked again
        #expect(try await standIn.calls()["container:rejected"] == 1)
    }

    @Test func containerEndpointsAreCheckedBeforeAnythingIsSent() throws {
        func endpoint(_ variables: [String: String]) throws -> String? {
            try ContainerCredentialProvider(environment: AWSEnvironment(variables: variables, homeDirectory: "/h"),
                                            transport: CurlTransport.shared).endpointURL()
                .map { "\($0.endpoint)\($0.path)" }
        }
        #expect(try endpoint(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/ignored"])
            == "http://169.254.170.2/v2/credentials/x")
        #expect(try endpoint(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"])
            == "http://169.254.170.23/v1/credentials")
        #expect(try endpoint(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://[fd00:ec2::23]/v1/credentials"])
            == "http://[fd00:ec2::23]/v1/credentials")
        #expect(try endpoint(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://creds.example.com/x"])
            == "https://creds.example.com/x")
        #expect(try endpoint(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.2:8080/c"])
            == "http://127.0.0.2:8080/c")
        #expect(try endpoint([:]) == nil)
        let refused = try #require(throws: CredentialsError.self) {
            try endpoint(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.169.254/latest"])
        }
        #expect(refused.description.contains("only https, a loopback address"))
        let crlf = ContainerCredentialProvider(
            environment: AWSEnvironment(variables: ["AWS_CONTAINER_AUTHORIZATION_TOKEN": "a\r\nX-Injected: 1"],
                                        homeDirectory: "/h"), transport: CurlTransport.shared)
        #expect(throws: CredentialsError.self) { try crlf.authorizationToken() }
    }

    // MARK: instance metadata

    func imds(_ standIn: CredentialStandIn, _ extra: [String: String] = [:]) -> [String: String] {
        var variables = ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": standIn.endpoint]
        variables.merge(extra) { $1 }
        return variables
    }

    @Test func instanceMetadataV2TokenThenRoleThenCredentials() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let chain = try makeChain(sandbox, standIn, imds(standIn))
        #expect(try await chain.credentials().accessKeyId == standIn.issued[0].accessKeyId)
        #expect(chain.resolvedProviderName == "instance metadata")
        try await listBuckets(standIn, chain)
        let calls = try await standIn.calls()
        #expect(calls["imds-token"] == 1 && calls["imds-role"] == 1 && calls["imds-credentials"] == 1, "\(calls)")
        #expect(try await standIn.last("imds-credentials")["v2"] == "1")
        #expect(calls.keys.allSatisfy { !$0.hasSuffix(":rejected") }, "\(calls)")
    }

    @Test func instanceMetadataFallsBackToV1UnlessV1IsDisabled() async throws {
        let standIn = try CredentialStandIn.start()
        try await standIn.configure(["imdsTokenStatus": 403])
        let sandbox = ConfigSandbox()
        let chain = try makeChain(sandbox, standIn, imds(standIn))
        try await listBuckets(standIn, chain)
        #expect(try await standIn.last("imds-credentials")["v2"] == "0")

        let strict = try makeChain(sandbox, standIn, imds(standIn, ["AWS_EC2_METADATA_V1_DISABLED": "true"]))
        let error = try await #require(throws: CredentialsError.self) { try await strict.credentials() }
        #expect(error.kind == .requestFailed)
        #expect(error.description.contains("IMDSv1 is disabled"))
    }

    @Test func instanceMetadataGivesTheRegionAsTheLastResort() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let aws = try AWSConfiguration.resolve(environment: sandbox.environment(imds(standIn)))
        #expect(try aws.region.name == "eu-central-1")
        #expect(try aws.region.source.hasPrefix("instance metadata"))
        #expect(try await standIn.calls()["imds-region"] == 1)
        let withRegion = sandbox.environment(imds(standIn, ["AWS_REGION": "us-west-2"]))
        let configured = try AWSConfiguration.resolve(environment: withRegion)
        #expect(try configured.region.name == "us-west-2")
        #expect(try await standIn.calls()["imds-region"] == 1)
        let off = try AWSConfiguration.resolve(environment: sandbox.environment())
        let tried = off.regionResult.failure?.message ?? ""
        #expect(tried.contains("instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"), "\(tried)")
    }

    // MARK: refresh and expiry

    @Test func oneHundredConcurrentCallersCauseOneRefresh() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let clock = TestClock(Date())
        let chain = try makeChain(sandbox, standIn, imds(standIn), clock: clock)
        try await listBuckets(standIn, chain)
        clock.set(Date().addingTimeInterval(3600 - 5 * 60))  // every caller must wait for the refresh
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 { group.addTask { try await chain.credentials().accessKeyId } }
            var keys = Set<String>()
            for try await key in group { keys.insert(key) }
            return keys
        }
        #expect(keys == [standIn.issued[1].accessKeyId])
        #expect(try await standIn.calls()["imds-credentials"] == 2)
    }

    @Test func credentialsAreRefreshedMidRunBeforeTheyExpire() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let tokenFile = sandbox.write("token", standIn.webIdentityToken)
        let start = Date()
        let clock = TestClock(start)
        let chain = try makeChain(sandbox, standIn, ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
                                                 "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"], clock: clock)
        // A run of requests while the clock moves through the hour the credentials last: before
        // the advisory window they are reused, inside it they are replaced, never used expired.
        for minute in stride(from: 0, through: 48, by: 8) {
            clock.set(start.addingTimeInterval(Double(minute) * 60))
            try await listBuckets(standIn, chain)
        }
        let used = try await standIn.proxyStats().acceptedByKey
        #expect(used == [standIn.issued[0].accessKeyId: 6, standIn.issued[1].accessKeyId: 1])
        #expect(try await standIn.calls()["AssumeRoleWithWebIdentity"] == 2)
    }

    @Test func anExpiredTokenAnswerRefreshesOnceAndRetriesOnce() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let chain = try makeChain(sandbox, standIn, imds(standIn))
        try await listBuckets(standIn, chain)
        try await standIn.expire(standIn.issued[0].accessKeyId)
        // 20 requests at once all meet the expired key: one refresh, each retried once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 { group.addTask { try await listBuckets(standIn, chain) } }
            try await group.waitForAll()
        }
        #expect(try await standIn.calls()["imds-credentials"] == 2)
        let stats = try await standIn.proxyStats()
        #expect(stats.acceptedByKey[standIn.issued[1].accessKeyId] == 20)
        #expect(stats.acceptedByKey[standIn.issued[0].accessKeyId] == 21)  // 1 before it expired, then 20
        #expect(stats.expiredAnswers == 20)

        // Credentials that stay expired after the refresh: the second answer is the error.
        try await standIn.expire(standIn.issued[1].accessKeyId)
        try await standIn.expire(standIn.issued[2].accessKeyId)
        let error = try await #require(throws: AWSError.self) { try await listBuckets(standIn, chain) }
        #expect(error.code == "ExpiredToken")
        #expect(try await standIn.calls()["imds-credentials"] == 3)
    }

    // MARK: the chain

    @Test func theEnvironmentStillWinsOverEveryOtherSource() async throws {
        let standIn = try CredentialStandIn.start()
        let sandbox = ConfigSandbox()
        let tokenFile = sandbox.write("token", standIn.webIdentityToken)
        let chain = try makeChain(sandbox, standIn, imds(standIn, [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "SK-zzsecretzz-env",
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": standIn.endpoint + "/container/x",
        ]))
        #expect(try await chain.credentials().accessKeyId == "AKIDENV")
        #expect(try await standIn.calls().isEmpty)
        // without the keys, web identity comes before the container and IMDS
        let noKeys = try makeChain(sandbox, standIn, imds(standIn, [
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": standIn.endpoint + "/container/x",
        ]))
        _ = try await noKeys.credentials()
        #expect(noKeys.resolvedProviderName == "web identity")
        #expect(try await standIn.calls() == ["AssumeRoleWithWebIdentity": 1])
    }
}
