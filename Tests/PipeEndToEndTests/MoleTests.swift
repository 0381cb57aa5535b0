import Foundation
import PipeTestSupport
import Testing

/// MOLE through the built binary: counterfactuals, training and scoring on the samples, and
/// LLM counterfactuals against a scripted and the real local server.
struct MoleTests {
  @Test func trainsOnTheSamplesScoresEveryRecordAndReportsHeldOutAccuracy() throws {
    let folder = try E2E.temporaryDirectory("mole")
    let pipeline = E2E.repositoryRoot + "/pipelines/quality-mole.json"
    let runDirectory = folder + "/w2"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--workers", "2"])
    #expect(run.status == 0, "\(run.stderr)")

    // Held-out pairwise accuracy on the samples' documents.
    let report = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: runDirectory + "/artifacts/train/report.json"))) as? [String: Any])
    let facets = try #require(report["facets"] as? [[String: Any]])
    var accuracy: [String: Double] = [:]
    for facet in facets { accuracy[facet["facet"] as? String ?? ""] = facet["accuracy"] as? Double }
    #expect((accuracy["coherence"] ?? 0) >= 0.75, "\(accuracy)")
    for name in ["informativeness", "fluency", "redundancy", "noise"] {
      #expect((accuracy[name] ?? 0) >= 0.9, "\(name): \(accuracy)")
    }

    // Every scored record carries the overall and per-facet scores; drops name the reason.
    let scored = try E2E.readLines(runDirectory + "/data/score/part-00000.jsonl.zst")
    #expect(!scored.isEmpty)
    for line in scored.prefix(50) {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let metadata = try #require(object["metadata"] as? [String: Any])
      let quality = try #require(metadata["quality"] as? [String: Any])
      #expect(Set(quality.keys) == ["overall", "coherence", "informativeness", "fluency", "redundancy", "noise"])
      #expect(metadata["quality_score"] as? Double == quality["overall"] as? Double)
    }
    let drops = try E2E.sql(
      runDirectory + "/manifest.sqlite", "SELECT reason || '=' || count FROM drop_counts WHERE stage = 'score'")
    #expect(drops.count == 1 && drops[0].hasPrefix("low_quality_overall="), "\(drops)")
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.stdout.contains("training report of train"), "\(inspect.stdout)")

    // The trained evaluator and every output are the same bytes with one worker.
    let one = folder + "/w1"
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", one, "--workers", "1"]).status == 0)
    E2E.expectSameFiles(try E2E.outputs(one), try E2E.outputs(runDirectory), "with one worker")
  }

  /// Answers rewrite prompts: a fluency rewrite swaps two words (valid), a noise rewrite
  /// returns the text unchanged (invalid: identical), anything else fails with 500.
  static func server() throws -> ScriptedHTTPServer {
    try ScriptedHTTPServer { _, request in
      let prompt = LLMGenerateTests.question(request)
      guard let range = prompt.range(of: "\n\n", options: .backwards) else { return .json("{}", status: 400) }
      let text = String(prompt[range.upperBound...])
      if prompt.contains("worse in fluency") {
        var words = text.split(separator: " ").map(String.init)
        if words.count > 3 { words.swapAt(1, 2) }
        return .json(LLMGenerateTests.chatAnswer(words.joined(separator: " ")))
      }
      if prompt.contains("worse in noise") { return .json(LLMGenerateTests.chatAnswer(text)) }
      return .json(#"{"error":{"message":"no"}}"#, status: 500)
    }
  }

  static let documents = [
    "Rivers carry water from the mountains to the sea. Along the way they shape valleys and feed farmland.",
    "A compiler translates source code into machine code. It checks types and optimizes the result.",
  ]

  static func pipeline(baseURL: String, in folder: String, extra: String = "") throws -> String {
    try E2E.writeShard(
      folder + "/docs.jsonl", json: documents.enumerated().map { #"{"id":"d\#($0.offset)","text":"\#($0.element)"}"# })
    return try E2E.writePipeline(
      """
      { "name": "cf", "inputs": [{ "id": "docs", "paths": ["docs.jsonl"] }],
        "stages": [{ "id": "cf", "op": "counterfactual.generate@1", "inputs": ["docs"],
          "config": { "method": "llm", "only": ["fluency", "noise"], "name": "local", "maxTokens": 160 \(extra),
                      "endpoint": { "baseURL": "\(baseURL)", "model": "smollm2", "maxRetries": 0,
                                    "timeoutSeconds": 300 } } }] }
      """, in: folder)
  }

  @Test func llmCounterfactualsAreValidatedAndInvalidOnesBecomeRejects() throws {
    let server = try Self.server()
    defer { server.stop() }
    let folder = try E2E.temporaryDirectory("mole-llm")
    let pipeline = try Self.pipeline(baseURL: server.baseURL, in: folder, extra: #", "maxSimilarity": 1"#)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")
    let kept = try E2E.readLines(runDirectory + "/data/cf/part-00000.jsonl.zst")
    // Each document: the original and its fluency rewrite; the noise rewrite was identical.
    #expect(kept.count == 4)
    #expect(kept.filter { $0.contains(#""facet":"fluency""#) && $0.contains(#""method":"llm""#) }.count == 2)
    let rejects = try E2E.readLines(runDirectory + "/rejects/cf/part-00000.jsonl.zst")
    #expect(rejects.count == 2)
    #expect(rejects.allSatisfy { $0.contains("counterfactual_identical") && $0.contains("~noise") })
    let counters = try E2E.sql(
      runDirectory + "/manifest.sqlite", "SELECT name || '=' || value FROM counters WHERE stage = 'cf' ORDER BY name")
    #expect(counters.contains("rejected.counterfactual_identical=2"), "\(counters)")
    #expect(counters.contains("llm.local.calls=4"), "\(counters)")

    // Rerunning the stage asks nothing again.
    let sent = server.requestCount
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--force", "cf"]).status == 0)
    #expect(server.requestCount == sent)
  }

  @Test func llmCounterfactualsAgainstTheRealServer() throws {
    guard LiveServer.isEnabled else { return }
    let folder = try E2E.temporaryDirectory("mole-live")
    let pipeline = try Self.pipeline(baseURL: try LiveServer.baseURL.get(), in: folder)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")
    // Two originals always; each of the four rewrites is either kept as a valid counterfactual
    // or rejected with the validator's or the client's reason.
    let kept = try E2E.readLines(runDirectory + "/data/cf/part-00000.jsonl.zst")
    let rejectsPath = runDirectory + "/rejects/cf/part-00000.jsonl.zst"
    let rejects = FileManager.default.fileExists(atPath: rejectsPath) ? try E2E.readLines(rejectsPath) : []
    #expect(kept.filter { $0.contains(#""facet":null"#) }.count == 2)
    #expect(kept.count - 2 + rejects.count == 4, "kept \(kept.count), rejected \(rejects.count)")
    for line in rejects {
      #expect(line.contains(#""reason":"counterfactual_"#) || line.contains(#""reason":"llm_"#), "\(line)")
    }
    // The cache: a forced rerun sends nothing.
    #expect(try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--force", "cf"]).status == 0)
    let hits = try E2E.sql(
      runDirectory + "/manifest.sqlite",
      "SELECT value FROM counters WHERE stage = 'cf' AND name = 'llm.local.cache_hits'")
    #expect(hits == ["4"], "\(hits)")
  }
}
