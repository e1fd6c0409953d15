-- wrk script: POST a small Converse request to the emulator.
wrk.method = "POST"
wrk.path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"messages": [{"role": "user", "content": [{"text": "Summarise this ticket: the printer is on fire again"}]}], "inferenceConfig": {"maxTokens": 64}}'

local failures = 0
response = function(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-200: %d\n", summary.errors.status))
end
