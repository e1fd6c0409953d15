// libFuzzer harness: JSON as Conveyor reads it. The input is one JSON text, read by JSONValue's
// reader (then written and read back, which must give the same text), decoded as a Converse
// answer and as a Converse request (the emulator's side, also written and read back), as an SSM
// or Bedrock error and an SSM parameter, as a run report and a lock object; and as a jsonl input,
// whole and in small chunks, which must give the same records. Built only by `make fuzz`; see
// docs/fuzzing.md.
import Foundation
import FuzzSupport

@testable import AWSCore
@testable import AWSServices
@testable import ConveyorKit

@main
enum FuzzJSON: FuzzHarness {
    static func fuzz(_ input: UnsafeBufferPointer<UInt8>) {
        let body = Data(input)
        if let value = try? JSONValue.parse(body) {
            let text = value.serialized()
            guard let again = try? JSONValue.parse(text) else {
                fatalError("JSONValue wrote text it cannot read back: \(String(decoding: text, as: UTF8.self))")
            }
            guard again.serialized() == text else { fatalError("JSONValue's text changed when read back") }
            _ = try? ConverseResponse(body: value, requestId: "fuzz")
            if let request = try? ConverseRequest(modelId: "fuzz.model-v1:0", body: value) {
                guard let decoded = try? ConverseRequest(modelId: request.modelId, body: request.bodyJSON) else {
                    fatalError("a Converse request written by ConverseRequest.bodyJSON cannot be read back")
                }
                _ = decoded
            }
            _ = LockRecord.parse(body)
            _ = try? RunReport.load(from: body)
        }
        var headers = HTTPHeaders()
        headers.add("x-amzn-RequestId", "fuzz-0001")
        for proto in [AWSProtocol.json, .restJSON] {
            let error = AWSErrorParser.parse(HTTPResponse(status: 400, headers: headers, body: body), protocol: proto,
                                             service: "SSM", operation: "GetParameter")
            _ = error.description
        }
        if let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] {
            _ = (object["Parameter"] as? [String: Any]).flatMap(SSMClient.parameter)
            _ = (object["Parameters"] as? [[String: Any]] ?? []).compactMap(SSMClient.parameter)
        }
        // jsonl: the same records whatever the chunking (a short line limit reaches the oversize path).
        let whole = JSONLReader.read(body, maxLineBytes: 64)
        for chunkSize in [1, 5] {
            var reader = JSONLReader(maxLineBytes: 64)
            var entries: [JSONLReader.Entry] = []
            var start = 0
            while start < body.count {
                let end = min(start + chunkSize, body.count)
                entries += reader.feed(body.subdata(in: start..<end))
                start = end
            }
            entries += reader.finish()
            guard entries == whole else { fatalError("jsonl records differ when fed in chunks of \(chunkSize)") }
        }
    }
}
