import Foundation
import Testing
@testable import AWSCore

@Suite struct CredentialProcessTests {
    private func provider(_ sandbox: ConfigSandbox, _ command: String?, clock: TestClock? = nil) -> ProcessCredentialProvider {
        ProcessCredentialProvider(command: command, profileName: "dev", environment: sandbox.environment(),
                                  now: (clock ?? TestClock(expiry2030.addingTimeInterval(-3600))).closure)
    }

    @Test func successWithTokenAndExpiration() async throws {
        let sandbox = ConfigSandbox()
        let script = sandbox.script("creds.sh", "cat <<'EOF'\n\(processJSON())\nEOF")
        let credentials = try await provider(sandbox, script).credentials()
        #expect(credentials == Credentials(accessKeyId: "AKIDPROCESS0001", secretAccessKey: "SK-zzsecretzz-process",
                                           sessionToken: "TK-zztokenzz-process", expiration: expiry2030,
                                           source: "credential_process [dev]"))
    }

    @Test func theCommandIsSplitLikeAShellWithoutRunningOne() async throws {
        let sandbox = ConfigSandbox()
        let script = sandbox.script("dir with space/args.sh", """
            for a in "$@"; do printf '%s\\n' "$a" >> '\(sandbox.path)/args'; done
            echo '\(processJSON(expiration: nil, token: false))'
            """)
        // `$HOME` and `;` reach the program as literal text: no shell is involved.
        let command = "'\(script)' \"two words\" plain\\ escaped '$HOME' ';'"
        let credentials = try await provider(sandbox, command).credentials()
        #expect(credentials.sessionToken == nil && credentials.expiration == nil)
        let args = try String(contentsOfFile: sandbox.path + "/args", encoding: .utf8)
        #expect(args == "two words\nplain escaped\n$HOME\n;\n")
    }

    @Test func theProgramIsFoundInThePATHOfTheEnvironment() async throws {
        let sandbox = ConfigSandbox()
        sandbox.script("bin/my-creds", "echo '\(processJSON())'")
        let environment = sandbox.environment(["PATH": "/usr/bin:/bin:\(sandbox.path)/bin"])
        let found = ProcessCredentialProvider(command: "my-creds --profile x", profileName: "dev", environment: environment,
                                              now: TestClock(expiry2030.addingTimeInterval(-3600)).closure)
        #expect(try await found.credentials().accessKeyId == "AKIDPROCESS0001")

        let missing = provider(sandbox, "no-such-credential-helper --secret zzsecretzz")
        let error = try await #require(throws: CredentialsError.self) { try await missing.credentials() }
        #expect(error.kind == .processFailed)
        #expect(error.message == "credential_process for profile 'dev' failed: 'no-such-credential-helper' is not an executable file in PATH")
    }

    @Test func nonZeroExitReportsStderrButNeverStdout() async throws {
        let sandbox = ConfigSandbox()
        let script = sandbox.script("fail.sh", """
            echo '\(processJSON())'
            echo 'SSO session expired; run aws sso login' >&2
            exit 3
            """)
        let error = try await #require(throws: CredentialsError.self) { try await provider(sandbox, script).credentials() }
        #expect(error.kind == .processFailed)
        #expect(error.message == "credential_process for profile 'dev' exited with status 3: SSO session expired; run aws sso login")
        #expect(!containsSecret(error.description) && !error.description.contains("AKIDPROCESS"))

        let silent = sandbox.script("silent.sh", "exit 1")
        let quiet = try await #require(throws: CredentialsError.self) { try await provider(sandbox, silent).credentials() }
        #expect(quiet.message == "credential_process for profile 'dev' exited with status 1 (no stderr)")
    }

    @Test func malformedOutputIsAnErrorThatDoesNotQuoteIt() async throws {
        let sandbox = ConfigSandbox()
        let cases: [(String, String)] = [
            ("echo 'AccessKeyId=AKID SecretAccessKey=SK-zzsecretzz'", "did not print a JSON object on stdout"),
            ("echo '[\"SK-zzsecretzz\"]'", "did not print a JSON object on stdout"),
            ("echo '\(processJSON(version: "2"))'", "printed unsupported Version '2'; supported versions: 1"),
            ("echo '{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"SK-zzsecretzz\"}'",
             "printed unsupported Version '<Version key not provided>'; supported versions: 1"),
            ("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SessionToken\": \"TK-zztokenzz\"}'",
             "output is missing required key SecretAccessKey"),
            ("echo '{\"Version\": 1, \"SecretAccessKey\": \"SK-zzsecretzz\"}'", "output is missing required key AccessKeyId"),
            ("echo '\(processJSON(expiration: "soon zzsecretzz"))'",
             "output has an Expiration that is not an ISO-8601 timestamp"),
        ]
        for (index, (body, expected)) in cases.enumerated() {
            let script = sandbox.script("bad\(index).sh", body)
            let error = try await #require(throws: CredentialsError.self) { try await provider(sandbox, script).credentials() }
            #expect(error.kind == .invalidCredentials)
            #expect(error.message == "credential_process for profile 'dev' \(expected)")
            #expect(!containsSecret(error.description))
        }
    }

    @Test func cachedUntilTheRefreshWindowThenRunAgain() async throws {
        let sandbox = ConfigSandbox()
        let clock = TestClock(expiry2030.addingTimeInterval(-3600))
        let script = sandbox.script("creds.sh", "echo '\(processJSON())'")
        let provider = provider(sandbox, script, clock: clock)
        _ = try await provider.credentials()
        _ = try await provider.credentials()
        #expect(sandbox.runs == 1)
        clock.set(expiry2030.addingTimeInterval(-16 * 60))  // more than 15 minutes left: cached
        _ = try await provider.credentials()
        #expect(sandbox.runs == 1)
        clock.set(expiry2030.addingTimeInterval(-14 * 60))  // advisory window: refresh
        _ = try await provider.credentials()
        #expect(sandbox.runs == 2)
        clock.set(expiry2030.addingTimeInterval(-5 * 60))  // mandatory window: refresh (same expiry, so again)
        _ = try await provider.credentials()
        #expect(sandbox.runs == 3)
    }

    @Test func aFailedAdvisoryRefreshKeepsTheOldCredentialsAMandatoryOneThrows() async throws {
        let sandbox = ConfigSandbox()
        let clock = TestClock(expiry2030.addingTimeInterval(-3600))
        let script = sandbox.script("flaky.sh", """
            if [ "$(wc -l < '\(sandbox.path)/runs')" -gt 1 ]; then echo 'token service down' >&2; exit 2; fi
            echo '\(processJSON())'
            """)
        let provider = provider(sandbox, script, clock: clock)
        let first = try await provider.credentials()
        clock.set(expiry2030.addingTimeInterval(-12 * 60))
        #expect(try await provider.credentials() == first)
        #expect(sandbox.runs == 2)
        clock.set(expiry2030.addingTimeInterval(-9 * 60))
        let error = try await #require(throws: CredentialsError.self) { try await provider.credentials() }
        #expect(error.kind == .processFailed && error.message.hasSuffix("exited with status 2: token service down"))
    }

    @Test func expiredCredentialsFromTheProcessAreAnError() async throws {
        let sandbox = ConfigSandbox()
        let script = sandbox.script("old.sh", "echo '\(processJSON(expiration: "2020-01-01T00:00:00Z"))'")
        let error = try await #require(throws: CredentialsError.self) { try await provider(sandbox, script).credentials() }
        #expect(error.kind == .expired)
        #expect(error.message == "credentials from credential_process [dev] expired at 2020-01-01T00:00:00Z, and refreshing them gave no newer ones")
    }

    @Test func concurrentCallersShareOneRun() async throws {
        let sandbox = ConfigSandbox()
        let script = sandbox.script("slow.sh", "sleep 0.3\necho '\(processJSON())'")
        let provider = provider(sandbox, script)
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await provider.credentials().accessKeyId } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(keys.count == 20 && Set(keys) == ["AKIDPROCESS0001"])
        #expect(sandbox.runs == 1)
    }

    @Test func notConfiguredOrBrokenCommandLines() async throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[profile dev]\nregion = us-east-1\n[profile broken]\ncredential_process = 'unterminated --token zztokenzz\n")
        let files = try sandbox.files()
        let none = ProcessCredentialProvider(profileName: "dev", files: files, environment: sandbox.environment())
        let skip = try await #require(throws: CredentialsError.self) { try await none.credentials() }
        #expect(skip.kind == .notConfigured && skip.message == "not set in profile 'dev'")

        let broken = ProcessCredentialProvider(profileName: "broken", files: files, environment: sandbox.environment())
        let error = try await #require(throws: CredentialsError.self) { try await broken.credentials() }
        #expect(error.kind == .configuration)
        #expect(error.message == "credential_process for profile 'broken' cannot be split into words: no closing quotation")
        #expect(!containsSecret(error.description))
    }
}
