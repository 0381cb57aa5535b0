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

  /// Scoring stages that read one evaluator keep their own thresholds, and `groupBy` keeps the
  /// top fraction within each group (from the evaluator's per-group percentiles).
  @Test func keepTopFractionWithinEachGroup() throws {
    let folder = try E2E.temporaryDirectory("mole-groups")
    // One shard of the samples, grouped by source (man pages, translated man pages, gettext
    // catalogues, docs, code), whose scores differ the way languages' do.
    let pipeline = try E2E.writePipeline(
      """
      { "name": "mole-groups", "seed": 3,
        "inputs": [{ "id": "samples", "paths": ["\(E2E.repositoryRoot)/samples/part-00000.jsonl.zst"] }],
        "stages": [
          { "id": "cf", "op": "counterfactual.generate@1", "inputs": ["samples"],
            "config": { "only": ["noise", "redundancy", "informativeness"] } },
          { "id": "train", "op": "evaluator.train@1", "inputs": ["cf"],
            "config": { "hashBits": 12, "epochs": 2, "groupBy": "source", "groupMinimum": 60 } },
          { "id": "scores", "op": "quality.mole@1", "inputs": ["samples"], "config": { "model": "train" } },
          { "id": "overall", "op": "quality.mole@1", "inputs": ["samples"],
            "config": { "model": "train", "keepTopFraction": 0.5 } },
          { "id": "within", "op": "quality.mole@1", "inputs": ["samples"],
            "config": { "model": "train", "keepTopFraction": 0.5, "groupBy": "source" } }
        ] }
      """, in: folder)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")

    // The group of every scored record, and which records each stage kept.
    var group: [String: String] = [:]
    func kept(_ stage: String) throws -> Set<String> {
      var ids = Set<String>()
      for line in try E2E.readLines(runDirectory + "/data/\(stage)/part-00000.jsonl.zst") {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let id = try #require(object["id"] as? String)
        ids.insert(id)
        group[id] = (object["metadata"] as? [String: Any])?["source"] as? String ?? "unknown"
      }
      return ids
    }
    let scored = try kept("scores")
    #expect(scored.count == 644)
    // Without thresholds nothing is dropped; with keepTopFraction 0.5 about half is, though
    // the stage without thresholds decoded the same evaluator first.
    let overall = try kept("overall")
    let share = Double(overall.count) / Double(scored.count)
    #expect(share > 0.3 && share < 0.7, "overall kept \(share)")

    let report = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: runDirectory + "/artifacts/train/report.json"))) as? [String: Any])
    let groups = try #require(report["groups"] as? [String: Any])
    let measured = try #require(groups["withPercentiles"] as? [String])
    let counts = try #require(groups["documents"] as? [String: Int])
    #expect(groups["field"] as? String == "source")
    #expect(measured == counts.filter { $0.value >= 60 }.keys.sorted(), "\(counts)")
    #expect(measured.count >= 3, "\(counts)")
    let within = try kept("within")
    var shares: [String: (overall: Double, within: Double)] = [:]
    for name in measured {
      let members = scored.filter { group[$0] == name }
      let size = Double(members.count)
      shares[name] = (
        Double(members.filter(overall.contains).count) / size, Double(members.filter(within.contains).count) / size
      )
    }
    // Within each measured group about half is kept; one threshold for all keeps very
    // different shares of the groups (their scores differ).
    for (name, share) in shares {
      #expect(share.within > 0.35 && share.within < 0.65, "\(name): \(share)")
    }
    let overallShares = shares.values.map(\.overall)
    #expect((overallShares.max() ?? 0) - (overallShares.min() ?? 0) > 0.3, "\(shares)")
    // Groups without percentiles of their own use the overall ones, counted.
    let fallbacks = try E2E.sql(
      runDirectory + "/manifest.sqlite",
      "SELECT value FROM counters WHERE stage = 'within' AND name = 'keep_top_fraction_overall'")
    let unmeasured = scored.filter { !measured.contains(group[$0] ?? "") }.count
    #expect(unmeasured > 0 && fallbacks == [String(unmeasured)], "\(fallbacks) for \(unmeasured)")

    // A scoring stage grouping by a key the training did not group by is refused before
    // anything runs, at its JSON path, naming both keys.
    let mismatch = try E2E.writePipeline(
      try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(
        of: #""groupBy": "source" } }"#, with: #""groupBy": "language" } }"#), in: folder, name: "mismatch.json")
    let refused = try E2E.pipe(["run", mismatch, "--run-dir", folder + "/mismatch"])
    #expect(refused.status == 2)
    #expect(
      refused.stderr.contains(
        #"stages[4].config.groupBy: is "language" but stage "train" made its model.bin with groupBy "source""#),
      "\(refused.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/mismatch/data"))
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

  @Test(.enabled(if: LiveServer.isEnabled, "PIPE_LLM_URL=skip"))
  func llmCounterfactualsAgainstTheRealServer() throws {
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
