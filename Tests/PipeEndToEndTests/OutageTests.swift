import Foundation
import PipeTestSupport
import Testing

/// An endpoint that goes down in the middle of a run, with a real local model server stopped
/// and started again: the task fails naming the endpoint (nothing is rejected for it), and
/// `pipe resume` after the restart finishes with the bytes of an uninterrupted run, sending
/// only the requests whose answers were not received before the outage.
@Suite(.enabled(if: LiveServer.isEnabled, "PIPE_LLM_URL=skip"))
struct OutageTests {
  @Test func llmGenerateFailsItsTaskAndResumeFinishesIt() throws {
    let folder = try E2E.temporaryDirectory("outage-generate")
    try E2E.writeShard(
      folder + "/in.jsonl",
      json: (1...40).map { #"{"id":"n\#($0)","text":"\#($0 * 7)"}"# })
    let port = 8779
    let url = try LiveServer.startDedicated(port: port)
    defer { try? LiveServer.stopDedicated(port: port) }
    let pipeline = try E2E.writePipeline(
      """
      { "name": "outage", "inputs": [{ "id": "in", "paths": ["in.jsonl"] }],
        "stages": [{ "id": "gen", "op": "llm.generate@1", "inputs": ["in"],
          "config": { "name": "local", "prompt": "Write the number {text} in words.", "maxTokens": 16,
                      "output": "words", "batchSize": 8,
                      "endpoint": \(Self.endpoint(url)) } }],
        "output": { "from": "gen", "path": "out" } }
      """, in: folder)
    try OutageDrill.run(
      pipeline: pipeline, folder: folder, port: port, stage: "gen", endpoint: "local", afterAnswers: 6)
  }

  @Test func agentsStarFailsItsTaskAndResumeFinishesIt() throws {
    let folder = try E2E.temporaryDirectory("outage-star")
    let seeds = [
      "Explain what a hash table is.", "Why is the sky blue?", "What does a compiler do?",
      "Give one tip for writing clear commit messages.",
    ]
    try E2E.writeShard(
      folder + "/in.jsonl", json: seeds.enumerated().map { #"{"id":"s\#($0.offset)","text":"\#($0.element)"}"# })
    let port = 8780
    let url = try LiveServer.startDedicated(port: port)
    defer { try? LiveServer.stopDedicated(port: port) }
    let pipeline = try E2E.writePipeline(
      """
      { "name": "outage-star", "seed": 5, "inputs": [{ "id": "in", "paths": ["in.jsonl"] }],
        "stages": [{ "id": "star", "op": "agents.star@2", "inputs": ["in"],
          "config": {
            "endpoints": { "small": \(Self.endpoint(url)), "large": \(Self.endpoint(url)) },
            "agents": [
              { "name": "plain", "endpoint": "small", "system": "Answer briefly.", "temperature": 0.2, "maxTokens": 32 },
              { "name": "teacher", "endpoint": "large", "system": "Explain step by step.", "maxTokens": 32,
                "rewrite": "Ask this more precisely: {instruction}" } ],
            "basePairs": [["plain", "plain"]], "samplesPerSeed": 1, "memoryDraws": 0, "batchSize": 2,
            "difficulty": { "small": { "endpoint": "small" }, "large": { "endpoint": "large" } },
            "judge": { "endpoint": "large", "maxTokens": 48 } } }],
        "output": { "from": "star", "path": "out" } }
      """, in: folder)
    try OutageDrill.run(
      pipeline: pipeline, folder: folder, port: port, stage: "star", endpoint: "small", afterAnswers: 20,
      anyEndpoint: true)
  }

  /// An endpoint that gives up quickly once the server is gone (and opens its circuit), and
  /// asks llama.cpp not to reuse its cache of the previous prompt: with it, an answer depends
  /// on which request came before (the reused prefix changes how the rest is computed, and so
  /// the last bits of the logits), and a resumed run, which sends fewer requests, drew other
  /// tokens at temperature 0.7 in one CI run in four.
  static func endpoint(_ url: String) -> String {
    #"{ "baseURL": "\#(url)", "model": "smollm2", "maxConcurrentRequests": 1, "timeoutSeconds": 60, "maxRetries": 2, "#
      + #""backoffBaseSeconds": 0.2, "backoffMaxSeconds": 1, "circuitBreakerFailures": 3, "#
      + #""extraBody": { "cache_prompt": false } }"#
  }
}

/// Stops a dedicated server once a run's stage has received `afterAnswers` answers, and checks
/// what the issue promises: exit 1 naming the endpoint, the failure in the manifest, and a
/// resume after the restart that ends byte-identical to an uninterrupted run.
enum OutageDrill {
  static func run(
    pipeline: String, folder: String, port: Int, stage: String, endpoint: String, afterAnswers: Int,
    anyEndpoint: Bool = false
  ) throws {
    let reference = folder + "/reference"
    let uninterrupted = try E2E.pipe(["run", pipeline, "--run-dir", reference, "--no-progress"])
    try #require(uninterrupted.status == 0, "\(uninterrupted.stderr)")

    // The same pipeline into a new directory, with the server stopped mid-run.
    let interrupted = folder + "/interrupted"
    let journal = interrupted + "/ledgers/\(stage)/part-00000.llm.jsonl"
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: ProcessResult? = nil
    DispatchQueue.global().async {
      result = try? E2E.pipe(["run", pipeline, "--run-dir", interrupted, "--no-progress"])
      done.signal()
    }
    var answered = 0
    let deadline = Date().addingTimeInterval(300)
    while answered < afterAnswers, Date() < deadline, done.wait(timeout: .now() + 0.1) == .timedOut {
      answered = (try? String(contentsOfFile: journal, encoding: .utf8))?.split(separator: "\n").count ?? 0
    }
    try #require(answered >= afterAnswers, "the run ended or stalled before \(afterAnswers) answers (\(answered))")
    try LiveServer.stopDedicated(port: port)
    done.wait()
    let failed = try #require(result)
    #expect(failed.status == 1, "\(failed.stdout)\n\(failed.stderr)")
    let named = anyEndpoint ? "LLM endpoint '" : "LLM endpoint '\(endpoint)'"
    #expect(failed.stderr.contains(named), "\(failed.stderr)")
    #expect(failed.stderr.contains("pipe resume"), "\(failed.stderr)")
    let errors = try E2E.sql(
      interrupted + "/manifest.sqlite", "SELECT error FROM tasks WHERE stage_id = '\(stage)' AND status = 'failed'")
    #expect(errors.count == 1 && errors[0].contains(named), "\(errors)")
    // Nothing was rejected for the outage.
    #expect(!FileManager.default.fileExists(atPath: interrupted + "/rejects/\(stage)/part-00000.jsonl.zst"))

    // Back up: the resume finishes, answering what it had from the cache.
    _ = try LiveServer.startDedicated(port: port)
    let resumed = try E2E.pipe(["resume", interrupted, "--no-progress"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    let hits = try E2E.sql(
      interrupted + "/manifest.sqlite",
      "SELECT coalesce(sum(value), 0) FROM counters WHERE stage = '\(stage)' AND name LIKE 'llm.%.cache_hits'")
    #expect(Int(hits.first ?? "") ?? 0 >= answered, "cache hits \(hits) after \(answered) answers")
    E2E.expectSameFiles(try E2E.outputs(interrupted), try E2E.outputs(reference), "after an outage and a resume")
  }
}
