import Foundation
import Testing
@testable import AWSCore

@Suite struct CredentialProviderTests {
    private func env(_ variables: [String: String]) -> AWSEnvironment {
        AWSEnvironment(variables: variables, homeDirectory: "/nonexistent")
    }

    @Test func environmentKeysTokenAndExpiration() throws {
        let clock = TestClock(expiry2030.addingTimeInterval(-3600))
        let provider = EnvironmentCredentialProvider(environment: env([
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "SK-zzsecretzz-env",
            "AWS_SESSION_TOKEN": "TK-zztokenzz-env", "AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z",
        ]), now: clock.closure)
        let credentials = try provider.load()
        #expect(credentials == Credentials(accessKeyId: "AKIDENV", secretAccessKey: "SK-zzsecretzz-env",
                                           sessionToken: "TK-zztokenzz-env", expiration: expiry2030, source: "environment"))
        #expect(!containsSecret(credentials.description))
    }

    @Test func environmentLegacySecurityTokenComesFirstAsInBotocore() throws {
        let legacy = try EnvironmentCredentialProvider(environment: env([
            "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SECURITY_TOKEN": "legacy",
        ])).load()
        #expect(legacy.sessionToken == "legacy")
        let both = try EnvironmentCredentialProvider(environment: env([
            "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SECURITY_TOKEN": "legacy",
            "AWS_SESSION_TOKEN": "session",
        ])).load()
        #expect(both.sessionToken == "legacy")
        let none = try EnvironmentCredentialProvider(environment: env([
            "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SESSION_TOKEN": "",
        ])).load()
        #expect(none.sessionToken == nil && none.expiration == nil)
    }

    @Test func environmentMissingPieces() throws {
        let unset = try #require(throws: CredentialsError.self) { try EnvironmentCredentialProvider(environment: env([:])).load() }
        #expect(unset.kind == .notConfigured && unset.message == "AWS_ACCESS_KEY_ID not set")
        #expect(unset.description == "environment: AWS_ACCESS_KEY_ID not set")

        let secretOnly = try #require(throws: CredentialsError.self) {
            try EnvironmentCredentialProvider(environment: env(["AWS_SECRET_ACCESS_KEY": "SK-zzsecretzz"])).load()
        }
        #expect(secretOnly.kind == .notConfigured)  // botocore skips it too
        #expect(secretOnly.message == "AWS_ACCESS_KEY_ID not set, although AWS_SECRET_ACCESS_KEY is")

        let keyOnly = try #require(throws: CredentialsError.self) {
            try EnvironmentCredentialProvider(environment: env(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": ""])).load()
        }
        #expect(keyOnly.kind == .partialCredentials)
        #expect(keyOnly.description == "environment: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is missing")
    }

    @Test func environmentExpirationChecks() throws {
        let clock = TestClock(expiry2030.addingTimeInterval(60))
        let base = ["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "SK-zzsecretzz"]
        let expired = try #require(throws: CredentialsError.self) {
            try EnvironmentCredentialProvider(
                environment: env(base.merging(["AWS_CREDENTIAL_EXPIRATION": "2030-01-01T00:00:00Z"]) { $1 }),
                now: clock.closure).load()
        }
        #expect(expired.kind == .expired)
        #expect(expired.message.contains("2030-01-01T00:00:00Z"))
        let bad = try #require(throws: CredentialsError.self) {
            try EnvironmentCredentialProvider(
                environment: env(base.merging(["AWS_CREDENTIAL_EXPIRATION": "tomorrow"]) { $1 }), now: clock.closure).load()
        }
        #expect(bad.kind == .invalidCredentials && bad.message.contains("AWS_CREDENTIAL_EXPIRATION"))
        let offset = try EnvironmentCredentialProvider(
            environment: env(base.merging(["AWS_CREDENTIAL_EXPIRATION": "2030-01-01T02:30:00.5+02:00"]) { $1 }),
            now: clock.closure).load()
        #expect(offset.expiration == expiry2030.addingTimeInterval(1800.5))
    }

    @Test func sharedCredentialsFileStaticKeys() throws {
        let sandbox = ConfigSandbox()
        sandbox.credentials("""
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = SK-zzsecretzz-default
            [dev]
            aws_access_key_id=AKIDDEV
            aws_secret_access_key=SK-zzsecretzz-dev
            aws_session_token = TK-zztokenzz-dev
            [legacy]
            aws_access_key_id = AKIDLEGACY
            aws_secret_access_key = SK-zzsecretzz-legacy
            aws_security_token = TK-zztokenzz-legacy
            [region-only]
            region = us-east-1
            [half]
            aws_access_key_id = AKIDHALF
            """)
        let files = try sandbox.files()
        let path = sandbox.credentialsPath
        let dev = try SharedCredentialsFileProvider(profileName: "dev", files: files).load()
        #expect(dev == Credentials(accessKeyId: "AKIDDEV", secretAccessKey: "SK-zzsecretzz-dev",
                                   sessionToken: "TK-zztokenzz-dev", source: "shared credentials file \(path) [dev]"))
        #expect(try SharedCredentialsFileProvider(profileName: "default", files: files).load().accessKeyId == "AKIDDEFAULT")
        #expect(try SharedCredentialsFileProvider(profileName: "legacy", files: files).load().sessionToken == "TK-zztokenzz-legacy")

        let missing = try #require(throws: CredentialsError.self) {
            try SharedCredentialsFileProvider(profileName: "nope", files: files).load()
        }
        #expect(missing.kind == .notConfigured && missing.message == "no profile 'nope'")
        let noKey = try #require(throws: CredentialsError.self) {
            try SharedCredentialsFileProvider(profileName: "region-only", files: files).load()
        }
        #expect(noKey.kind == .notConfigured && noKey.message == "profile 'region-only' has no aws_access_key_id")
        let half = try #require(throws: CredentialsError.self) {
            try SharedCredentialsFileProvider(profileName: "half", files: files).load()
        }
        #expect(half.kind == .partialCredentials)
        #expect(half.message == "shared credentials file \(path): profile 'half' has aws_access_key_id but no aws_secret_access_key")

        let nothing = try #require(throws: CredentialsError.self) {
            try SharedCredentialsFileProvider(profileName: "default", files: ConfigSandbox().files()).load()
        }
        #expect(nothing.kind == .notConfigured && nothing.message == "file not found")
    }

    @Test func configFileStaticKeysOnlyInProfileSections() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("""
            [profile dev]
            aws_access_key_id = AKIDCONFIG
            aws_secret_access_key = SK-zzsecretzz-config
            [bare]
            aws_access_key_id = AKIDBARE
            aws_secret_access_key = SK-zzsecretzz-bare
            """)
        let files = try sandbox.files()
        let dev = try ConfigFileCredentialProvider(profileName: "dev", files: files).load()
        #expect(dev.accessKeyId == "AKIDCONFIG" && dev.sessionToken == nil)
        #expect(dev.source == "config file \(sandbox.configPath) [dev]")
        let bare = try #require(throws: CredentialsError.self) {
            try ConfigFileCredentialProvider(profileName: "bare", files: files).load()
        }
        #expect(bare.kind == .notConfigured && bare.message == "no profile 'bare'")
    }
}
