import Foundation
import PipeTestSupport
import Testing

/// `agents.star` through the built binary: provenance, the cache, and kill and resume against
/// a scripted server; full provenance against the real local model server.
struct StarAgentsTests {
  /// FNV-1a, so the scripted answers do not depend on Swift's per-process hash seed.
  static func fnv(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return hash
  }

  /// Deterministic agents: answers derived from the request; the judge prefers A or B by a
  /// hash of the two answers.
  static func server() throws -> ScriptedHTTPServer {
    try ScriptedHTTPServer { _, request in
      if request.path.hasSuffix("/embeddings") {
        // Eight dimensions from the input's hash: the memory bank stores what this returns.
        let input = request.body
        let vector = (0..<8).map { Double((fnv(input + String($0)) % 1000)) / 1000 - 0.5 }
        let answer: [String: Any] = [
          "object": "list", "data": [["object": "embedding", "index": 0, "embedding": vector]],
          "usage": ["prompt_tokens": 4, "total_tokens": 4],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: answer)) ?? Data()
        return .json(String(decoding: data, as: UTF8.self))
      }
      let object = (try? JSONSerialization.jsonObject(with: Data(request.body.utf8))) as? [String: Any]
      let messages = object?["messages"] as? [[String: Any]] ?? []
      let system = messages.first?["content"] as? String ?? ""
      let user = messages.last?["content"] as? String ?? ""
      let text: String
      if system.contains("impartial judge") {
        text = fnv(user) % 3 == 0 ? "Both are fine. [[C]]" : fnv(user) % 3 == 1 ? "A is better. [[A]]" : "[[B]]"
      } else {
        text = "reply \(fnv(system + user) % 10_000) to \(user.prefix(24))"
      }
      return .json(LLMGenerateTests.chatAnswer(text))
    }
  }

  static func pipeline(baseURL: String, in folder: String, name: String = "pipeline.json") throws -> String {
    try E2E.writePipeline(
      """
      { "name": "star", "seed": 3, "inputs": [{ "id": "seeds", "paths": ["seeds-*.jsonl"] }],
        "stages": [{ "id": "star", "op": "agents.star@1", "inputs": ["seeds"],
          "config": {
            "endpoints": { "s": { "baseURL": "\(baseURL)", "model": "scripted", "maxRetries": 1,
                                  "backoffBaseSeconds": 0.01, "timeoutSeconds": 10 } },
            "agents": [
              { "name": "a", "endpoint": "s", "system": "You are A." },
              { "name": "b", "endpoint": "s", "system": "You are B.", "rewrite": "Harder: {instruction}" },
              { "name": "c", "endpoint": "s", "system": "You are C.", "rewrite": "Clearer: {instruction}" } ],
            "basePairs": [["a", "a"]], "samplesPerSeed": 2, "batchSize": 2, "embeddings": "s",
            "judge": { "endpoint": "s" } } }],
        "output": { "from": "star", "path": "out" } }
      """, in: folder, name: name)
  }

  static func writeSeeds(in folder: String) throws {
    let instructions = [
      "Explain how a hash table resolves collisions.", "Write a haiku about autumn rain.",
      "What is the difference between TCP and UDP?", "Summarize the causes of the French revolution.",
      "How do vaccines train the immune system?", "Give three tips for writing clear commit messages.",
      "Why is the sky blue?", "Describe binary search in plain words.", "What does a compiler do?",
    ]
    for shard in 0..<3 {
      let lines = (0..<3).map { index in
        #"{"id":"seed-\#(shard * 3 + index)","text":"\#(instructions[shard * 3 + index])"}"#
      }
      try E2E.writeShard(folder + "/seeds-\(shard).jsonl", json: lines)
    }
  }

  @Test func outputCarriesProvenanceAndAResumeContinuesFromTheSavedState() throws {
    let folder = try E2E.temporaryDirectory("star")
    try Self.writeSeeds(in: folder)
    let server = try Self.server()
    defer { server.stop() }
    let pipeline = try Self.pipeline(baseURL: server.baseURL, in: folder)
    let reference = folder + "/reference"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", reference, "--workers", "2"])
    #expect(run.status == 0, "\(run.stderr)")
    let sent = server.requestCount

    let lines = try E2E.readLines(reference + "/data/star/part-00001.jsonl.zst")
    #expect(lines.count == 3)
    let record = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    let metadata = try #require(record["metadata"] as? [String: Any])
    let star = try #require(metadata["star"] as? [String: Any])
    #expect(star["seed"] as? String == "seed-3")
    #expect((star["pair"] as? String)?.contains("+") == true)
    #expect((0...1).contains(try #require(star["difficulty"] as? Double)))
    #expect([0, 0.25, 0.5, 0.75, 1].contains(try #require(star["quality"] as? Double)))
    let candidates = try #require(star["candidates"] as? [[String: Any]])
    // The base pair plus two sampled pairs.
    #expect(candidates.count == 3)
    #expect(candidates.filter { $0["base"] as? Bool == true }.count == 1)
    #expect(metadata["instruction"] is String && metadata["response"] is String)
    let why = try E2E.pipe(["why", reference, "seed-3"])
    #expect(why.stdout.contains("seed seed-3: pair"), "\(why.stdout)")

    // The probabilities and the memory bank are saved after every shard and sum to one.
    let state = try #require(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: reference + "/artifacts/star/state-00002.json")))
        as? [String: Any])
    let probabilities = try #require(state["probabilities"] as? [Double])
    #expect(probabilities.count == 8)
    #expect(abs(probabilities.reduce(0, +) - 1) < 1e-9)
    #expect(probabilities != [Double](repeating: 0.125, count: 8), "the probabilities never evolved")
    let memories = try #require(state["memories"] as? [[String: Any]])
    #expect(!memories.isEmpty)
    // The embeddings came from the endpoint: 8 floats of 4 bytes, base64.
    #expect(memories.allSatisfy { Data(base64Encoded: $0["embedding"] as? String ?? "")?.count == 32 })

    // Killed after the first shard's task, then resumed: same bytes, and no request sent twice.
    let killed = folder + "/killed"
    let first = try E2E.pipe(
      ["run", pipeline, "--run-dir", killed, "--workers", "2"], environment: ["PIPE_FAULT": "kill-after-tasks=1"])
    #expect(first.wasSignaled)
    // What the killed run had paid for is in its cache, or in the journal of the task that
    // received it (merged into the cache when the run resumes); a request in flight is not.
    let journaled = try Self.journalRequests(killed)
    let cachedBodies = Set(try E2E.sql(killed + "/manifest.sqlite", "SELECT request FROM llm_cache")).union(journaled)
    let cachedAtKill = cachedBodies.count
    let beforeResume = server.requestCount
    let resumed = try E2E.pipe(["resume", killed, "--workers", "2"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    #expect(cachedAtKill > 0)
    // Identical requests in flight together are sent once, so each request is sent once in
    // all: what the resume sent is exactly what the killed run had not cached.
    #expect(
      server.requestCount - beforeResume == sent - cachedAtKill, "the resumed run sent a request it had cached")
    let resentBodies = server.requests.dropFirst(beforeResume).map(\.body)
    let resentCached = resentBodies.filter { cachedBodies.contains($0) }
    #expect(resentCached.isEmpty, "a cached request was sent again: \(resentCached.prefix(3).map { $0.prefix(200) })")
    E2E.expectSameFiles(try E2E.outputs(killed), try E2E.outputs(reference), "after a kill and resume")

    // Forcing the stage again answers everything from the cache.
    let before = server.requestCount
    let again = try E2E.pipe(["run", pipeline, "--run-dir", reference, "--force", "star"])
    #expect(again.status == 0)
    #expect(server.requestCount == before)
  }

  /// Version 2 on the scripted server: the explain-first judge prompt, every reading kept,
  /// `maxSeeds`, the evolution in `pipe inspect`, and the chat export.
  @Test func versionTwoKeepsReadingsLimitsSeedsAndShowsTheEvolution() throws {
    let folder = try E2E.temporaryDirectory("star-v2")
    try Self.writeSeeds(in: folder)
    let server = try Self.server()
    defer { server.stop() }
    let text = try String(contentsOfFile: try Self.pipeline(baseURL: server.baseURL, in: folder), encoding: .utf8)
      .replacingOccurrences(of: "agents.star@1", with: "agents.star@2")
      .replacingOccurrences(of: #""batchSize": 2,"#, with: #""batchSize": 2, "maxSeeds": 5,"#)
      .replacingOccurrences(of: #""path": "out" }"#, with: #""path": "out", "chat": {} }"#)
    let pipeline = folder + "/v2.json"
    try text.write(toFile: pipeline, atomically: true, encoding: .utf8)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")

    // The judge was asked to explain first, with room to do it.
    let judged = server.requests.filter { $0.body.contains("impartial judge") }
    #expect(!judged.isEmpty)
    #expect(judged.allSatisfy { $0.body.contains("First write two or three sentences comparing the answers") })
    #expect(judged.allSatisfy { $0.body.contains(#""max_tokens":512"#) }, "\(judged.first?.body ?? "")")

    // Five seeds synthesized, the other four kept as rejects.
    let records = try E2E.readLines(runDirectory + "/out/part-00000.jsonl.zst")
    #expect(records.count == 5)
    let limited = try E2E.sql(
      runDirectory + "/manifest.sqlite", "SELECT count FROM drop_counts WHERE stage = 'star' AND reason = 'seed_limit'")
    #expect(limited == ["4"])
    for line in records {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let star = try #require((object["metadata"] as? [String: Any])?["star"] as? [String: Any])
      let sampled = try #require(star["candidates"] as? [[String: Any]]).filter { $0["base"] as? Bool == false }
      #expect(sampled.count == 2)
      for candidate in sampled {
        let readings = try #require(candidate["judgements"] as? [[String: Any]])
        #expect(readings.map { $0["order"] as? String } == ["candidate first", "reference first"])
        #expect(readings.allSatisfy { !($0["explanation"] as? String ?? "").isEmpty })
        #expect(candidate["response"] is String)
      }
    }

    // The evolution: a start and three shards per pair, seeds won, judge figures.
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.stdout.contains("Star-Agents star: pair probabilities after each shard"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("START  SHARD 0  SHARD 1  SHARD 2  SEEDS WON"), "\(inspect.stdout)")
    #expect(inspect.stdout.contains("a+a (base)"))
    #expect(inspect.stdout.contains("both positions agreed in"))
    let json = try E2E.pipe(["inspect", runDirectory, "--json"])
    let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let agents = try #require((document["agents"] as? [[String: Any]])?.first)
    let trajectory = try #require(agents["trajectory"] as? [[Double]])
    #expect(trajectory.count == 4)
    #expect(trajectory.allSatisfy { $0.count == 8 && abs($0.reduce(0, +) - 1) < 1e-9 })
    #expect(trajectory.first == [Double](repeating: 0.125, count: 8))
    let won = try #require(agents["seedsWon"] as? [String: Int])
    #expect(won.values.reduce(0, +) == 5)
    #expect(agents["judgeReadings"] as? Int == 20)

    try ChatExportCheck.expectReadable(runDirectory + "/out")
  }

  /// Config mistakes of version 2, each named by its JSON path, exit 2.
  @Test func versionTwoConfigMistakesNameTheirPath() throws {
    let folder = try E2E.temporaryDirectory("star-config")
    try Self.writeSeeds(in: folder)
    let base = try String(
      contentsOfFile: try Self.pipeline(baseURL: "http://127.0.0.1:9", in: folder), encoding: .utf8
    ).replacingOccurrences(of: "agents.star@1", with: "agents.star@2")
    let cases: [(String, String, String)] = [
      (
        #""samplesPerSeed": 2"#, #""samplesPerSeed": 2, "memoryDraws": 2"#,
        "config.memoryDraws: is 2 with samplesPerSeed 2"
      ),
      (
        #""embeddings": "s","#,
        #""embeddings": "s", "difficulty": {"small": {"endpoint": "s", "logprobs": "prompt"}},"#,
        "config.difficulty.small.logprobs: expected \"forced\""
      ),
      (#""embeddings": "s","#, #""embeddings": "s", "maxSeeds": 0,"#, "config.maxSeeds"),
    ]
    for (index, (from, to, message)) in cases.enumerated() {
      let file = folder + "/bad-\(index).json"
      try base.replacingOccurrences(of: from, with: to).write(toFile: file, atomically: true, encoding: .utf8)
      let validate = try E2E.pipe(["validate", file])
      #expect(validate.status == 2, "\(to): \(validate.stderr)")
      #expect(validate.stderr.contains(message), "\(to): \(validate.stderr)")
    }
  }

  @Test(.enabled(if: LiveServer.isEnabled, "PIPE_LLM_URL=skip"))
  func realServerProducesRecordsWithFullProvenance() throws {
    let url = try LiveServer.baseURL.get()
    let folder = try E2E.temporaryDirectory("star-live")
    try E2E.writeShard(
      folder + "/seeds-0.jsonl",
      json: [
        #"{"id":"s1","text":"Name three primary colors."}"#, #"{"id":"s2","text":"What is two plus three?"}"#,
      ])
    let text = try String(contentsOfFile: try Self.pipeline(baseURL: url, in: folder), encoding: .utf8)
      .replacingOccurrences(of: #""model": "scripted""#, with: #""model": "smollm2""#)
      .replacingOccurrences(of: #""timeoutSeconds": 10"#, with: #""timeoutSeconds": 300"#)
      .replacingOccurrences(of: #""system": "You are A." }"#, with: #""system": "You are A.", "maxTokens": 24 }"#)
      .replacingOccurrences(of: #""samplesPerSeed": 2"#, with: #""samplesPerSeed": 1, "memoryDraws": 0"#)
      .replacingOccurrences(
        of: #""judge": { "endpoint": "s" }"#, with: #""judge": { "endpoint": "s", "maxTokens": 24 }"#)
    try text.write(toFile: folder + "/pipeline.json", atomically: true, encoding: .utf8)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", folder + "/pipeline.json", "--run-dir", runDirectory])
    #expect(run.status == 0, "\(run.stderr)")
    let lines = try E2E.readLines(runDirectory + "/data/star/part-00000.jsonl.zst")
    let rejects =
      FileManager.default.fileExists(atPath: runDirectory + "/rejects/star/part-00000.jsonl.zst")
      ? try E2E.readLines(runDirectory + "/rejects/star/part-00000.jsonl.zst") : []
    #expect(lines.count + rejects.count == 2)
    #expect(lines.count >= 1, "the real server answered no seed: \(rejects)")
    for line in lines {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let star = try #require((object["metadata"] as? [String: Any])?["star"] as? [String: Any])
      for key in ["seed", "pair", "difficulty", "quality", "score", "verdicts", "ifdSmall", "ifdLarge", "candidates"] {
        #expect(star[key] != nil, "missing \(key)")
      }
      #expect(!(object["text"] as? String ?? "").isEmpty)
    }
    let inspect = try E2E.pipe(["inspect", runDirectory])
    #expect(inspect.stdout.contains("LLM calls:"))
  }

  /// The request bodies in the LLM answer journals of a run's unfinished tasks.
  static func journalRequests(_ runDirectory: String) throws -> [String] {
    var bodies: [String] = []
    guard let files = FileManager.default.enumerator(atPath: runDirectory + "/ledgers") else { return [] }
    for case let file as String in files where file.hasSuffix(".llm.jsonl") {
      let text = try String(contentsOfFile: runDirectory + "/ledgers/" + file, encoding: .utf8)
      for line in text.split(separator: "\n") {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let request = object["request"] as? String
        else { continue }
        bodies.append(request)
      }
    }
    return bodies
  }
}
