import AWSCore
import Foundation
import Testing
import TestSupport
@testable import ConveyorKit

@Suite struct SchemaTests {
    let root = TestServers.repositoryRoot

    @Test func committedSchemaIsCurrent() throws {
        let committed = try String(contentsOf: root.appendingPathComponent("schema/conveyor-job.schema.json"), encoding: .utf8)
        #expect(committed == JobFormat.jsonSchemaText() + "\n",
                "schema/conveyor-job.schema.json is out of date: run `conveyor schema > schema/conveyor-job.schema.json`")
    }

    /// Every job file shipped in jobs/ and examples/; examples/deploy/ holds orchestrator
    /// manifests (Kubernetes YAML), not job files, and has its own check (Tests/deploy).
    func jobFiles() throws -> [String] {
        var files: [String] = []
        for folder in ["jobs", "examples"] {
            let dir = root.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(atPath: dir.path) else { continue }
            while let relative = walker.nextObject() as? String {
                if relative.hasPrefix("deploy/") { continue }
                if relative.hasSuffix(".yaml") { files.append(dir.appendingPathComponent(relative).path) }
            }
        }
        return files.sorted()
    }

    @Test func everyShippedJobLoads() throws {
        let files = try jobFiles()
        #expect(files.count >= 4)
        for file in files {
            do {
                _ = try JobLoader.load(path: file)
            } catch {
                Issue.record("\(file) does not validate:\n\(error)")
            }
        }
    }

    /// An independent validator (Python's jsonschema) checks the schema itself and every shipped job
    /// against it, so the schema says what the loader accepts.
    @Test func everyShippedJobSatisfiesTheSchemaPerAnIndependentValidator() throws {
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft7Validator.check_schema(schema)
            validator = jsonschema.Draft7Validator(schema)
            bad = 0
            for path in sys.argv[2:]:
                for error in validator.iter_errors(yaml.safe_load(open(path))):
                    print(f"{path}: {error.json_path}: {error.message}")
                    bad += 1
            sys.exit(1 if bad else 0)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, root.appendingPathComponent("schema/conveyor-job.schema.json").path]
            + (try jobFiles())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
    }

    @Test func schemaRejectsWhatTheLoaderRejects() throws {
        let schema = JobFormat.jsonSchema()
        #expect(schema["additionalProperties"] == false)
        #expect(schema["required"] == ["version", "name", "model", "output"])
        #expect(schema["properties"]?["limits"]?["properties"]?["concurrency"]?["default"] == 16)
        #expect(schema["properties"]?["inputs"]?["properties"]?["format"]?["enum"] == ["text", "jsonl", "csv"])
    }

    @Test func everyKeyIsDocumented() throws {
        let doc = try String(contentsOf: root.appendingPathComponent("docs/job-format.md"), encoding: .utf8)
        func walk(_ shape: JobShape, _ path: String) {
            guard case .object(let fields, _) = shape else {
                if case .array(let element, _) = shape { walk(element, path) }
                return
            }
            for field in fields {
                #expect(doc.contains("`\(field.name)`"), "docs/job-format.md does not mention \(path)\(field.name)")
                walk(field.shape, path + field.name + ".")
            }
        }
        walk(JobFormat.root, "")
    }
}
