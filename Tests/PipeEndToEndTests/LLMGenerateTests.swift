import Foundation
import PipeTestSupport
import Testing

/// `llm.generate` through the built binary: against a scripted loopback server that injects
/// faults, and against the real local model server.
struct LLMGenerateTests {
  /// A chat completion whose answer is `text`.
  static func chatAnswer(_ text: String) -> String {
    let answer: [String: Any] = [
      "id": "x", "object": "chat.completion", "model": "scripted",
      "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
      "usage": ["prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16],
    ]
    let data = (try? JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  /// The last user message of a chat request body.
  static func question(_ request: RecordedRequest) -> String {
    guard let object = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any],
      let messages = object["messages"] as? [[String: Any]], let content = messages.last?["content"] as? String
    else { return "" }
    return content
  }

  /// Answers "Q: x" with "A: X" (upper-cased); texts with FAIL always get 400 (a request the
  /// server refuses, such as one too long for its context), texts with GARBAGE get a body that
  /// is not JSON, and the first two requests of all get 429.
  static func server() throws -> ScriptedHTTPServer {
    try ScriptedHTTPServer { index, request in
      let question = Self.question(request)
      if index < 2 { return .json(#"{"error":{"message":"slow down"}}"#, status: 429, headers: ["Retry-After": "0"]) }
      if question.contains("FAIL") { return .json(#"{"error":{"message":"too long"}}"#, status: 400) }
      if question.contains("GARBAGE") { return .json("this is not json") }
      return .json(Self.chatAnswer("A: " + question.dropFirst(3).uppercased()))
    }
  }

  static func pipeline(baseURL: String, in folder: String, name: String = "pipeline.json") throws -> String {
    try E2E.writePipeline(
      """
      { "name": "gen", "inputs": [{ "id": "in", "paths": ["in.jsonl"] }],
        "stages": [{ "id": "gen", "op": "llm.generate@1", "inputs": ["in"],
          "config": { "name": "scripted", "prompt": "Q: {text}", "output": "answer", "batchSize": 2,
                      "endpoint": { "baseURL": "\(baseURL)", "model": "scripted", "maxConcurrentRequests": 2,
                                    "maxRetries": 2, "backoffBaseSeconds": 0.01, "backoffMaxSeconds": 0.05,
                                    "timeoutSeconds": 10 } } }],
        "output": { "from": "gen", "path": "out" } }
      """, in: folder, name: name)
  }

  static let texts = (0..<12).map { index in
    index == 5 ? "please FAIL here" : index == 8 ? "GARBAGE in" : "question number \(index)"
  }

  static func writeInput(in folder: String) throws {
    try E2E.writeShard(
      folder + "/in.jsonl", json: texts.enumerated().map { #"{"id":"q\#($0.offset)","text":"\#($0.element)"}"# })
  }

  @Test func faultsAreRetriedOrRejectedAndAResumeResendsNothingCached() throws {
    let folder = try E2E.temporaryDirectory("llm-faults")
    try Self.writeInput(in: folder)
    let server = try Self.server()
    defer { server.stop() }
    let pipeline = try Self.pipeline(baseURL: server.baseURL, in: folder)

    let reference = folder + "/reference"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", reference])
    #expect(run.status == 0, "\(run.stderr)")
    let kept = try E2E.readLines(reference + "/data/gen/part-00000.jsonl.zst")
    #expect(kept.count == 10)
    #expect(kept.contains { $0.contains(#""answer":"A: QUESTION NUMBER 3""#) })
    let rejects = try E2E.readLines(reference + "/rejects/gen/part-00000.jsonl.zst")
    #expect(rejects.count == 2)
    #expect(rejects.contains { $0.contains("llm_http_4xx") && $0.contains("q5") })
    #expect(rejects.contains { $0.contains("llm_malformed_response") && $0.contains("q8") })
    // 12 records: 2 refused with 429 first and retried, FAIL sent once (a 400 is not retried),
    // the others once.
    #expect(server.requestCount == 2 + 1 + 11)
    let inspect = try E2E.pipe(["inspect", reference])
    #expect(inspect.stdout.contains("LLM calls:"), "\(inspect.stdout)")
    let counters = try E2E.sql(
      reference + "/manifest.sqlite", "SELECT name || '=' || value FROM counters WHERE stage = 'gen' ORDER BY name")
    #expect(counters.contains("llm.scripted.calls=12"), "\(counters)")
    #expect(counters.contains("llm.scripted.failures.http_4xx=1"), "\(counters)")
    #expect(counters.contains("llm.scripted.failures.malformed_response=1"), "\(counters)")

    // A second run of the same pipeline into a fresh directory would send everything again;
    // the same directory with a changed output key reruns the stage from the cache alone.
    let before = server.requestCount
    let edited = try String(contentsOfFile: pipeline, encoding: .utf8)
      .replacingOccurrences(of: #""output": "answer""#, with: #""output": "reply""#)
    try edited.write(toFile: pipeline, atomically: true, encoding: .utf8)
    let rerun = try E2E.pipe(["run", pipeline, "--run-dir", reference])
    #expect(rerun.status == 0)
    // Only the two failed records are asked again (failures are never cached).
    #expect(server.requestCount - before == 2)
    let cached = try E2E.sql(
      reference + "/manifest.sqlite",
      "SELECT value FROM counters WHERE stage = 'gen' AND name = 'llm.scripted.cache_hits'")
    #expect(cached == ["10"])
    try (try String(contentsOfFile: pipeline, encoding: .utf8))
      .replacingOccurrences(of: #""output": "reply""#, with: #""output": "answer""#)
      .write(toFile: pipeline, atomically: true, encoding: .utf8)
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", reference]).status == 0)

    // Killed after four records are written, then resumed: the output is the uninterrupted
    // run's, and the four answered requests are not sent again.
    let killedServer = try Self.server()
    defer { killedServer.stop() }
    let killedPipeline = try Self.pipeline(baseURL: killedServer.baseURL, in: folder, name: "killed.json")
    let killed = folder + "/killed"
    let first = try E2E.pipe(
      ["run", killedPipeline, "--run-dir", killed], environment: ["PIPE_FAULT": "kill-in-task=gen:0:4"])
    #expect(first.wasSignaled)
    let sentBeforeKill = killedServer.requestCount
    #expect(sentBeforeKill >= 4)
    let resumed = try E2E.pipe(["resume", killed])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(killedServer.requestCount == 2 + 1 + 11, "requests sent again after the resume")
    E2E.expectSameFiles(
      try E2E.outputs(killed).filter { $0.key.hasPrefix("data/") },
      try E2E.outputs(reference).filter { $0.key.hasPrefix("data/") }, "after a kill and resume")
    // The rejects name the same records and reasons (their messages name each server's port).
    func reasons(_ runDirectory: String) throws -> [String] {
      try E2E.readLines(runDirectory + "/rejects/gen/part-00000.jsonl.zst").map { line in
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let reject = object?["reject"] as? [String: Any]
        return "\(object?["id"] ?? ""):\(reject?["reason"] ?? "")"
      }
    }
    #expect(try reasons(killed) == reasons(reference))
  }

  @Test(.enabled(if: LiveServer.isEnabled, "PIPE_LLM_URL=skip"))
  func realServerAnswersInJSONModeAndTheSecondRunSendsNothing() throws {
    let url = try LiveServer.baseURL.get()
    let folder = try E2E.temporaryDirectory("llm-live")
    try E2E.writeShard(
      folder + "/in.jsonl",
      json: [
        #"{"id":"a","text":"The capital of France is Paris."}"#,
        #"{"id":"b","text":"Water boils at 100 degrees Celsius at sea level."}"#,
      ])
    let pipeline = try E2E.writePipeline(
      """
      { "name": "live", "inputs": [{ "id": "in", "paths": ["in.jsonl"] }],
        "stages": [{ "id": "facts", "op": "llm.generate@1", "inputs": ["in"],
          "config": { "name": "local", "json": true, "maxTokens": 48, "output": "raw",
                      "system": "Answer with a JSON object only.",
                      "prompt": "Give a JSON object with the key \\"topic\\" (one word) for: {text}",
                      "endpoint": { "baseURL": "\(url)", "model": "smollm2", "timeoutSeconds": 120 } } }] }
      """, in: folder)
    let runDirectory = folder + "/run"
    let first = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(first.status == 0, "\(first.stderr)")
    // Each record is either kept with the parsed members or rejected with the reason; never an
    // empty field.
    let kept = try E2E.readLines(runDirectory + "/data/facts/part-00000.jsonl.zst")
    let rejected =
      FileManager.default.fileExists(atPath: runDirectory + "/rejects/facts/part-00000.jsonl.zst")
      ? try E2E.readLines(runDirectory + "/rejects/facts/part-00000.jsonl.zst") : []
    #expect(kept.count + rejected.count == 2)
    for line in kept {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let metadata = try #require(object["metadata"] as? [String: Any])
      let raw = try #require(metadata["raw"] as? String)
      #expect(raw.hasPrefix("{"))
    }
    for line in rejected { #expect(line.contains("llm_")) }

    // Forcing the stage to run again answers every call from the manifest's cache.
    let second = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--force", "facts"])
    #expect(second.status == 0, "\(second.stderr)")
    let counters = try E2E.sql(
      runDirectory + "/manifest.sqlite",
      "SELECT name || '=' || value FROM counters WHERE stage = 'facts' AND name IN ('llm.local.calls', 'llm.local.cache_hits')"
    )
    #expect(counters.sorted() == ["llm.local.cache_hits=2", "llm.local.calls=2"], "\(counters)")
    let cached = try E2E.sql(runDirectory + "/manifest.sqlite", "SELECT count(*) FROM llm_cache")
    #expect(cached == ["2"])
  }
}
