import Foundation
import Testing
@testable import AWSCore

@Suite struct ConfigFileParserTests {
    private func parse(_ text: String) throws -> [String: [String: ConfigValue]] {
        var result: [String: [String: ConfigValue]] = [:]
        for section in try SharedConfigParser.parse(text, path: "/x/config") { result[section.name] = section.values }
        return result
    }

    @Test func commentsWhitespaceAndKeyCase() throws {
        let sections = try parse("""
            # a comment
            ; another
            [default]
              # an indented comment
            \tregion=us-west-2
            \tOutput\t =\t json  \t
            AWS_Access_Key_ID : AKIDCOLON
            endpoint_url = http://localhost:9000
            empty =

            """)
        let values = try #require(sections["default"])
        #expect(values["region"] == .string("us-west-2"))
        #expect(values["output"] == .string("json"))  // keys lowercased, blanks and tabs trimmed
        #expect(values["aws_access_key_id"] == .string("AKIDCOLON"))  // `:` separates too
        #expect(values["endpoint_url"] == .string("http://localhost:9000"))  // split at the first `=`
        #expect(values["empty"] == .string(""))
        #expect(values.count == 5)

        // A line indented deeper than the key line above continues its value.
        let continued = try parse("[default]\nregion = us-west-2\n\toutput = json\n")
        #expect(continued["default"] == ["region": .string("us-west-2\noutput = json")])
    }

    @Test func inlineCommentsStayInTheValueAsInBotocore() throws {
        let sections = try parse("[default]\nregion = us-east-1 # my region\n[profile dev] ; note\nregion = eu-west-1\n")
        #expect(sections["default"]?["region"] == .string("us-east-1 # my region"))
        // The header ends at the last `]`, so a comment after it is ignored.
        #expect(sections["profile dev"]?["region"] == .string("eu-west-1"))
    }

    @Test func indentedSubSections() throws {
        let sections = try parse("""
            [services local]
            s3 =
                addressing_style = path
                Endpoint_URL = http://localhost:9000

                # comment inside
                signature_version=s3v4
            ssm =
              endpoint_url = http://localhost:5000
            region = x
            literal = first
              second line

            """)
        let local = try #require(sections["services local"])
        #expect(local["s3"] == .subsection([
            "addressing_style": "path", "Endpoint_URL": "http://localhost:9000", "signature_version": "s3v4",
        ]))  // sub-section keys keep their case, as in botocore
        #expect(local["ssm"]?.subsection == ["endpoint_url": "http://localhost:5000"])
        #expect(local["region"] == .string("x"))
        #expect(local["literal"] == .string("first\nsecond line"))  // a value on the key line: a literal
    }

    @Test func duplicateSectionsMergeAndLaterKeysWin() throws {
        let sections = try parse("[default]\na = 1\nb = 2\n[other]\nc = 3\n[default]\nb = 20\nd = 4\n")
        #expect(sections["default"] == ["a": .string("1"), "b": .string("20"), "d": .string("4")])
        #expect(sections["other"] == ["c": .string("3")])
    }

    @Test func lineEndingsAndByteOrderMark() throws {
        let sections = try parse("\u{FEFF}[default]\r\nregion = us-east-1\r\n\r\n[profile b]\rregion = b\r")
        #expect(sections["default"]?["region"] == .string("us-east-1"))
        #expect(sections["profile b"]?["region"] == .string("b"))
    }

    @Test func malformedLinesNameFileAndLineButNotTheText() throws {
        let cases: [(String, Int)] = [
            ("region = us-east-1\n[default]\n", 1),  // a setting before any section
            ("[default]\nregion = x\n\naws_secret_access_key wJalrzzsecretzz\n", 4),  // no `=`
            ("[default]\n= value\n", 2),  // no key
            ("[default]\ns3 =\n  endpoint_url = http://x\n  addressing_style path\n", 4),  // sub-section line without `=`
            ("[default]\n[missing bracket\n", 2),
            ("[]\n", 1),
        ]
        for (text, line) in cases {
            let error = try #require(throws: AWSConfigError.self) { try SharedConfigParser.parse(text, path: "/x/config") }
            #expect(error.kind == .malformedFile)
            #expect(error.line == line, "\(text)")
            #expect(error.description.hasPrefix("/x/config:\(line): "))
            #expect(!containsSecret(error.description))
        }
    }

    @Test func profilesInTheConfigFile() throws {
        let files = SharedConfigFiles(configPath: "/c", credentialsPath: "/k", configSections: try SharedConfigParser.parse("""
            [default]
            region = d
            [profile dev]
            region = e
            [prod]
            region = ignored
            [profile "with space"]
            region = s
            [profile  spaced  ]
            region = p
            [profile a b]
            region = three-words
            [ default ]
            region = not-default
            [profile default]
            output = json
            [sso-session corp]
            sso_region = us-east-1
            [services local]
            s3 =
              endpoint_url = http://localhost:9000
            """, path: "/c"), credentialsSections: nil)
        #expect(files.configFileFound && !files.credentialsFileFound)
        #expect(Set(files.configProfiles.keys) == ["default", "dev", "with space", "spaced"])
        #expect(files.profile(named: "default")?.values == ["region": .string("d"), "output": .string("json")])
        #expect(files.profile(named: "dev")?["region"] == "e")
        #expect(files.profile(named: "prod") == nil)  // a bare [name] in the config file is no profile
        #expect(files.profile(named: "with space")?["region"] == "s")
        #expect(files.ssoSessions["corp"]?["sso_region"] == .string("us-east-1"))
        #expect(files.services["local"]?["s3"]?.subsection?["endpoint_url"] == "http://localhost:9000")
    }

    @Test func credentialsFileSectionsAreBareNamesAndOverrideConfig() throws {
        let sandbox = ConfigSandbox()
        sandbox.config("[profile dev]\nregion = eu-west-1\noutput = json\n[default]\nregion = us-east-1\n")
        sandbox.credentials("""
            [dev]
            aws_access_key_id = AKIDDEV
            region = eu-central-1
            [profile odd]
            aws_access_key_id = AKIDODD
            [only-here]
            region = ap-south-1
            """)
        let files = try sandbox.files()
        #expect(files.configPath == sandbox.configPath && files.credentialsPath == sandbox.credentialsPath)
        let dev = try #require(files.profile(named: "dev"))
        #expect(dev["region"] == "eu-central-1")  // credentials file wins
        #expect(dev["output"] == "json")
        #expect(dev["aws_access_key_id"] == "AKIDDEV")
        #expect(files.profile(named: "profile odd")?["aws_access_key_id"] == "AKIDODD")
        #expect(files.profile(named: "odd") == nil)
        #expect(files.profile(named: "only-here")?["region"] == "ap-south-1")
        #expect(files.profileNames == ["default", "dev", "only-here", "profile odd"])
    }

    @Test func missingFilesAreEmptyButBrokenOnesFail() throws {
        let sandbox = ConfigSandbox()
        let none = try sandbox.files()
        #expect(!none.configFileFound && !none.credentialsFileFound && none.profileNames.isEmpty)

        // A directory where the file should be counts as missing, as in botocore.
        try FileManager.default.createDirectory(atPath: sandbox.path + "/dir", withIntermediateDirectories: true)
        #expect(try sandbox.files(["AWS_CONFIG_FILE": sandbox.path + "/dir"]).configFileFound == false)

        sandbox.write("bad-utf8", "")
        _ = FileManager.default.createFile(atPath: sandbox.path + "/bad-utf8", contents: Data([0x5B, 0xFF, 0x5D, 0x0A]))
        let error = try #require(throws: AWSConfigError.self) {
            try sandbox.files(["AWS_SHARED_CREDENTIALS_FILE": sandbox.path + "/bad-utf8"])
        }
        #expect(error.kind == .malformedFile && error.path == sandbox.path + "/bad-utf8")

        sandbox.credentials("[default]\naws_access_key_id = AKID\noops\n")
        let parseError = try #require(throws: AWSConfigError.self) { try sandbox.files() }
        #expect(parseError.description == "\(sandbox.credentialsPath):3: expected 'key = value', a [section] header or a comment")
    }

    @Test func fileLocationsComeFromTheEnvironmentWithExpansion() throws {
        let sandbox = ConfigSandbox()
        sandbox.write("elsewhere/cfg", "[profile x]\nregion = r\n")
        sandbox.write("elsewhere/creds", "[x]\naws_access_key_id = A\n")
        let env = sandbox.environment(["AWS_CONFIG_FILE": "~/elsewhere/cfg",
                                       "AWS_SHARED_CREDENTIALS_FILE": "${SANDBOX}/elsewhere/creds",
                                       "SANDBOX": sandbox.path])
        #expect(env.configFilePath == sandbox.path + "/elsewhere/cfg")
        #expect(env.credentialsFilePath == sandbox.path + "/elsewhere/creds")
        let files = try SharedConfigFiles.load(environment: env)
        #expect(files.profile(named: "x")?.values == ["region": .string("r"), "aws_access_key_id": .string("A")])
        let plain = AWSEnvironment(variables: ["AWS_CONFIG_FILE": ""], homeDirectory: "/home/u")
        #expect(plain.configFilePath == "/home/u/.aws/config")  // empty means unset
        #expect(plain.credentialsFilePath == "/home/u/.aws/credentials")
        #expect(plain.expandPath("$UNKNOWN/x") == "$UNKNOWN/x")
    }

    @Test func shellWordsMatchPythonShlex() throws {
        // Expected values from Python's shlex.split.
        let cases: [(String, [String])] = [
            ("aws-vault export dev", ["aws-vault", "export", "dev"]),
            ("  a\t b  ", ["a", "b"]),
            ("'/path with/space' --x", ["/path with/space", "--x"]),
            (#"cmd "a \"q\" \\ \$x" b"#, ["cmd", #"a "q" \ \$x"#, "b"]),
            (#"a\ b c\\d"#, ["a b", #"c\d"#]),
            (#"a"b c"d ''"#, ["ab cd", ""]),
        ]
        for (input, expected) in cases {
            #expect(try ShellWords.split(input) == expected, "\(input)")
        }
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split("echo 'unterminated") }
        #expect(throws: ShellWords.SplitError.self) { try ShellWords.split("echo trailing\\") }
    }
}
