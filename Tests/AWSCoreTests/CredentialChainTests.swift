import Foundation
import Testing
@testable import AWSCore

@Suite struct CredentialChainTests {
    private let envKeys = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "SK-zzsecretzz-env"]

    private func chain(_ sandbox: ConfigSandbox, _ variables: [String: String] = [:], profile: String? = nil,
                       clock: TestClock = TestClock(expiry2030.addingTimeInterval(-3600))) throws -> DefaultCredentialChain {
        try AWSConfiguration.resolve(environment: sandbox.environment(variables), profile: profile, now: clock.closure)
            .credentials
    }

    /// Writes all four sources for profile `dev`; `process` is the credential_process body.
    private func writeEverySource(_ sandbox: ConfigSandbox, process: String) {
        let script = sandbox.script("creds.sh", process)
        sandbox.credentials("[dev]\naws_access_key_id = AKIDSHARED\naws_secret_access_key = SK-zzsecretzz-shared\n")
        sandbox.config("""
            [profile dev]
            credential_process = \(script)
            aws_access_key_id = AKIDCONFIG
            aws_secret_access_key = SK-zzsecretzz-config
            """)
    }

    @Test func theOrderIsBotocores() throws {
        let sandbox = ConfigSandbox()
        let chain = try chain(sandbox)
        #expect(chain.entries.map(\.position) == [.environment, .assumeRole, .webIdentity, .sharedCredentialsFile,
                                                  .process, .configFile, .container, .instanceMetadata])
        #expect(chain.providerNames == ["environment", "assume role", "web identity",
                                        "shared credentials file \(sandbox.credentialsPath)",
                                        "credential_process", "config file \(sandbox.configPath)", "container",
                                        "instance metadata"])
        #expect(CredentialChainPosition.allCases.count == 11)
        #expect(CredentialChainPosition.webIdentity < .sharedCredentialsFile && .configFile < .container)
    }

    @Test func theFirstSourceWithCredentialsWins() async throws {
        let sandbox = ConfigSandbox()
        writeEverySource(sandbox, process: "echo '\(processJSON())'")
        let profileEnv = ["AWS_PROFILE": "dev"]
        let fromEnv = try chain(sandbox, profileEnv.merging(envKeys) { $1 })
        #expect(try await fromEnv.credentials().accessKeyId == "AKIDENV")
        #expect(fromEnv.resolvedProviderName == "environment")
        let fromShared = try chain(sandbox, profileEnv)
        #expect(try await fromShared.credentials().accessKeyId == "AKIDSHARED")
        #expect(sandbox.runs == 0)

        sandbox.credentials("[dev]\nregion = us-east-1\n")
        let fromProcess = try chain(sandbox, profileEnv)
        #expect(try await fromProcess.credentials().source == "credential_process [dev]")
        #expect(fromProcess.resolvedProviderName == "credential_process")

        sandbox.config("[profile dev]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = SK-zzsecretzz-config\n")
        let fromConfig = try chain(sandbox, profileEnv)
        #expect(try await fromConfig.credentials().source == "config file \(sandbox.configPath) [dev]")
    }

    @Test func anExplicitProfileTakesEnvironmentCredentialsOut() async throws {
        let sandbox = ConfigSandbox()
        writeEverySource(sandbox, process: "echo '\(processJSON())'")
        let explicit = try chain(sandbox, envKeys, profile: "dev")
        #expect(try await explicit.credentials().accessKeyId == "AKIDSHARED")
        // AWS_PROFILE does not: environment keys still win, as in botocore.
        let viaVariable = try chain(sandbox, envKeys.merging(["AWS_PROFILE": "dev"]) { $1 })
        #expect(try await viaVariable.credentials().accessKeyId == "AKIDENV")
    }

    @Test func nothingFoundListsEverySourceTried() async throws {
        let sandbox = ConfigSandbox()
        let error = try await #require(throws: CredentialsError.self) { try await chain(sandbox).credentials() }
        #expect(error.kind == .noCredentials)
        #expect(error.description == "no AWS credentials found; tried: environment (AWS_ACCESS_KEY_ID not set), "
            + "assume role (profile 'default' has no role_arn), "
            + "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set and profile 'default' has no web_identity_token_file), "
            + "shared credentials file \(sandbox.credentialsPath) (file not found), "
            + "credential_process (not set in profile 'default'), config file \(sandbox.configPath) (file not found), "
            + "container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set), "
            + "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)")

        sandbox.config("[profile dev]\nregion = us-east-1\n")
        sandbox.credentials("[other]\naws_access_key_id = A\naws_secret_access_key = SK-zzsecretzz\n")
        let named = try await #require(throws: CredentialsError.self) {
            try await chain(sandbox, envKeys, profile: "dev").credentials()
        }
        #expect(named.tried == [
            "environment (skipped: profile given with --profile)",
            "assume role (profile 'dev' has no role_arn)",
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE not set and profile 'dev' has no web_identity_token_file)",
            "shared credentials file \(sandbox.credentialsPath) (no profile 'dev')",
            "credential_process (not set in profile 'dev')",
            "config file \(sandbox.configPath) (profile 'dev' has no aws_access_key_id)",
            "container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set)",
            "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)",
        ])
    }

    @Test func aBrokenSourceStopsTheChain() async throws {
        let sandbox = ConfigSandbox()
        writeEverySource(sandbox, process: "echo 'helper crashed' >&2; exit 1")
        sandbox.credentials("")
        // The config file has keys, but the failing credential_process comes first and stops the chain.
        let error = try await #require(throws: CredentialsError.self) {
            try await chain(sandbox, ["AWS_PROFILE": "dev"]).credentials()
        }
        #expect(error.kind == .processFailed && error.message.hasSuffix("exited with status 1: helper crashed"))

        let partial = try await #require(throws: CredentialsError.self) {
            try await chain(sandbox, ["AWS_PROFILE": "dev", "AWS_ACCESS_KEY_ID": "AKID"]).credentials()
        }
        #expect(partial.kind == .partialCredentials && partial.message.contains("AWS_SECRET_ACCESS_KEY is missing"))
    }

    @Test func theChainCachesAndRefreshesAheadOfExpiry() async throws {
        let sandbox = ConfigSandbox()
        let clock = TestClock(expiry2030.addingTimeInterval(-3600))
        writeEverySource(sandbox, process: "sleep 0.2; echo '\(processJSON())'")
        sandbox.credentials("")
        let chain = try chain(sandbox, ["AWS_PROFILE": "dev"], clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { _ = try await chain.credentials() } }
            try await group.waitForAll()
        }
        _ = try await chain.credentials()
        #expect(sandbox.runs == 1)
        clock.set(expiry2030.addingTimeInterval(-13 * 60))
        _ = try await chain.credentials()
        #expect(sandbox.runs == 2)
    }

    @Test func laterProvidersInsertAtTheirBotocorePosition() async throws {
        let sandbox = ConfigSandbox()
        sandbox.credentials("[default]\naws_access_key_id = AKIDSHARED\naws_secret_access_key = SK-zzsecretzz\n")
        let base = try chain(sandbox)
        let webIdentity = StaticCredentialProvider(Credentials(accessKeyId: "AKIDWEB", secretAccessKey: "SK-zzsecretzz-web",
                                                               source: "web identity"))
        let imds = StaticCredentialProvider(Credentials(accessKeyId: "AKIDIMDS", secretAccessKey: "SK-zzsecretzz-imds"))
        let extended = base
            .inserting(CredentialChainEntry(name: "instance metadata", position: .instanceMetadata, provider: imds))
            .inserting(CredentialChainEntry(name: "web identity", position: .webIdentity, provider: webIdentity))
        #expect(extended.entries.map(\.position) == [
            .environment, .assumeRole, .webIdentity, .webIdentity, .sharedCredentialsFile, .process, .configFile,
            .container, .instanceMetadata, .instanceMetadata,
        ])
        #expect(try await extended.credentials().accessKeyId == "AKIDWEB")
    }

    @Test func secretsNeverAppearInErrorsOrDescriptions() async throws {
        let sandbox = ConfigSandbox()
        var messages: [String] = []
        let script = sandbox.script("creds.sh", "echo '\(processJSON())'; echo 'bad thing' >&2; exit 9")
        sandbox.config("[profile dev]\ncredential_process = \(script)\n")
        sandbox.credentials("[keyonly]\naws_access_key_id = AKID\n[half]\naws_secret_access_key = SK-zzsecretzz\n")
        for (variables, profile) in [(["AWS_PROFILE": "dev"], nil),  // process fails after printing secrets
                                     (["AWS_ACCESS_KEY_ID": "AKID", "AWS_SESSION_TOKEN": "TK-zztokenzz"], nil),
                                     (["AWS_SECRET_ACCESS_KEY": "SK-zzsecretzz"], "half"),
                                     ([:], "keyonly")] as [([String: String], String?)] {
            do {
                _ = try await chain(sandbox, variables, profile: profile).credentials()
                Issue.record("expected an error")
            } catch {
                messages.append("\(error)")
                messages.append(String(describing: error))
                messages.append(String(reflecting: error))
            }
        }
        sandbox.config("[default]\naws_secret_access_key wJalrzzsecretzz\n")
        do {
            _ = try AWSConfiguration.resolve(environment: sandbox.environment())
        } catch {
            messages.append("\(error)")
        }
        let good = Credentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "SK-zzsecretzz", sessionToken: "TK-zztokenzz")
        messages.append(good.description)
        messages.append(String(reflecting: good))
        #expect(messages.count == 15)
        for message in messages { #expect(!containsSecret(message), "\(message)") }
    }
}
