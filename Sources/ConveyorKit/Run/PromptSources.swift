import AWSCore
import AWSServices
import Foundation

/// The system prompt and prompt of a job with `{ssm: ...}` and `{s3: ...}` sources fetched and
/// compiled. SSM values (SecureStrings too) are used as templates but never shown: only the
/// parameter names are reported.
public struct ResolvedPrompts: Sendable {
    public var system: Template?
    public var prompt: Template?
    /// The SSM parameters read, by name (never their values).
    public var ssmParameters: [String]
    /// The S3 objects read for prompts.
    public var s3Objects: [String]
}

public enum PromptSources {
    public static func resolve(_ job: Job, services: RunServices) async throws -> ResolvedPrompts {
        var result = ResolvedPrompts(system: job.templates.system, prompt: job.templates.prompt, ssmParameters: [], s3Objects: [])
        let records = job.inputs.map { $0.format != .text } ?? false
        var scope = TemplateScope.perItem(input: true, records: records, vars: Set(job.vars.keys))
        scope.attachment = job.inputs?.attachAs
        func fetch(_ source: TextSource, role: String) async throws -> Template? {
            switch source {
            case .inline:
                return nil
            case .ssm(let name, let location):
                guard let ssm = services.ssm else { throw ConfigurationError("\(location): \(role) names SSM parameter \(name) but no SSM client is configured") }
                let value: String
                do {
                    value = try await ssm.getParameter(name: name, withDecryption: true).value
                } catch let error as AWSError where error.kind == .notFound {
                    throw ConfigurationError("\(location): the SSM parameter \(name) (the \(role)) does not exist in this account and region")
                } catch let error as AWSError where error.kind == .accessDenied {
                    throw ConfigurationError("\(location): reading the SSM parameter \(name) (the \(role)) was refused: \(error.code): \(error.explanation)")
                }
                result.ssmParameters.append(name)
                return try compile(value, origin: "ssm:\(name)", role: role, scope: scope, location: location)
            case .s3(let uri, let location):
                let parsed: StorageURI
                do { parsed = try StorageURI.parse(uri) } catch {
                    throw ConfigurationError("\(location): \(error.message)")
                }
                let data: Data
                do {
                    data = try await services.storage.get(parsed, maxBytes: 1024 * 1024)
                } catch let error as StorageError {
                    throw ConfigurationError("\(location): cannot read the \(role) from \(uri): \(error.code): \(error.message)")
                }
                guard let text = String(validating: data, as: UTF8.self) else {
                    throw ConfigurationError("\(location): the \(role) at \(uri) is not UTF-8 text")
                }
                result.s3Objects.append(uri)
                return try compile(text, origin: uri, role: role, scope: scope, location: location)
            }
        }
        if let system = job.system, let template = try await fetch(system, role: "system prompt") { result.system = template }
        if let prompt = job.prompt, let template = try await fetch(prompt, role: "prompt") { result.prompt = template }
        return result
    }

    /// Compiles fetched text. For SSM parameters (which may be SecureStrings) only the places of
    /// the problems are given, never the messages, which quote the text.
    static func compile(_ text: String, origin: String, role: String, scope: TemplateScope, location: SourceLocation) throws
        -> Template
    {
        do {
            return try Template(text, scope: scope, locator: .text(named: origin))
        } catch {
            let secret = origin.hasPrefix("ssm:")
            let lines = error.diagnostics.map { d in
                secret ? "  \(origin): line \(d.location?.line ?? 0), column \(d.location?.column ?? 0): invalid or unknown {{variable}}"
                    : "  \(d)"
            }.joined(separator: "\n")
            throw ConfigurationError("\(location): the \(role) from \(origin) is not a valid template:\n\(lines)")
        }
    }
}
