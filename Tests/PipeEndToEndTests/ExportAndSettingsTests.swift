import Foundation
import PipeTestSupport
import Testing

/// `pipe run --set`, the export's chat files, and `llm.judge` on a scripted server.
struct ExportAndSettingsTests {
  static func writeQA(in folder: String) throws {
    try E2E.writeShard(
      folder + "/qa.jsonl",
      json: [
        #"{"id":"q1","text":"x","metadata":{"q":"What is 2+2?","a":"4","source":"arith"}}"#,
        #"{"id":"q2","text":"x","metadata":{"q":"Capital of France?","a":"Paris","source":"geo"}}"#,
        #"{"id":"q3","text":"x","metadata":{"q":"No answer here"}}"#,
        #"{"id":"q4","text":"x","metadata":{"q":"Blank answer","a":"  \n"}}"#,
        #"{"id":"q5","text":"a longer text that the length filter keeps","metadata":{"q":"Why?","a":"Because."}}"#,
      ])
  }

  static func pipeline(in folder: String, output: String) throws -> String {
    try E2E.writePipeline(
      """
      { "name": "qa", "inputs": [{ "id": "qa", "paths": ["qa.jsonl"] }],
        "stages": [{ "id": "short", "op": "filter.length@1", "inputs": ["qa"], "config": { "minChars": 1 } }],
        "output": \(output) }
      """, in: folder)
  }

  @Test func chatExportWritesConversationsAndCountsWhatItLeftOut() throws {
    let folder = try E2E.temporaryDirectory("chat")
    try Self.writeQA(in: folder)
    let pipeline = try Self.pipeline(
      in: folder,
      output:
        #"{ "from": "short", "path": "out", "chat": { "user": "metadata.q", "assistant": "metadata.a", "system": "Be brief." } }"#
    )
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run"])
    #expect(run.status == 0, "\(run.stderr)")
    try ChatExportCheck.expectReadable(folder + "/run/out")
    // Every record is still in the record shards; two had no usable answer for a conversation.
    #expect(try E2E.readLines(folder + "/run/out/part-00000.jsonl.zst").count == 5)
    let manifest = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/run/out/manifest.json")))
        as? [String: Any])
    let chat = try #require(manifest["chat"] as? [String: Any])
    #expect(chat["conversations"] as? Int == 3)
    #expect(chat["skipped"] as? Int == 2)
    let lines = try String(contentsOfFile: folder + "/run/out/chat-00000.jsonl", encoding: .utf8)
      .split(separator: "\n")
    let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    #expect(first["id"] as? String == "q1")
    let messages = try #require(first["messages"] as? [[String: String]])
    #expect(
      messages == [
        ["role": "system", "content": "Be brief."], ["role": "user", "content": "What is 2+2?"],
        ["role": "assistant", "content": "4"],
      ])
    // The turns left the metadata; the provenance stayed.
    #expect(first["metadata"] as? [String: String] == ["source": "arith"])
  }

  @Test func chatExportRejectsBadFieldsByJSONPath() throws {
    let folder = try E2E.temporaryDirectory("chat-bad")
    try Self.writeQA(in: folder)
    let pipeline = try Self.pipeline(
      in: folder, output: #"{ "from": "short", "chat": { "user": "q", "assistant": 3, "speaker": "x" } }"#)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run"])
    #expect(run.status == 2)
    #expect(run.stderr.contains(#"output.chat.user: expected "text" or "metadata.KEY", got "q""#), "\(run.stderr)")
    #expect(run.stderr.contains("output.chat.assistant"), "\(run.stderr)")
    #expect(run.stderr.contains("output.chat.speaker: unknown key"), "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/run/manifest.sqlite"))
  }

  @Test func setChangesAStageForTheRunAndResumeKeepsIt() throws {
    let folder = try E2E.temporaryDirectory("set")
    try Self.writeQA(in: folder)
    let pipeline = try Self.pipeline(in: folder, output: #"{ "from": "short", "path": "out" }"#)
    let runDirectory = folder + "/run"
    let run = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory, "--set", "short.minChars=10"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(try E2E.readLines(runDirectory + "/out/part-00000.jsonl.zst").count == 1)
    // The run keeps the edited pipeline: resume and inspect see the setting.
    let stored = try E2E.sql(
      runDirectory + "/manifest.sqlite", "SELECT pipeline_json FROM runs ORDER BY id DESC LIMIT 1")
    #expect(stored.first?.contains(#""minChars":10"#) == true, "\(stored)")
    let resumed = try E2E.pipe(["resume", runDirectory])
    #expect(resumed.status == 0)
    #expect(resumed.stdout.contains(" 0 task(s) run"), "\(resumed.stdout)")
    // Without it, the stage's config changed: it reruns.
    let plain = try E2E.pipe(["run", pipeline, "--run-dir", runDirectory])
    #expect(plain.status == 0)
    #expect(try E2E.readLines(runDirectory + "/out/part-00000.jsonl.zst").count == 5)
  }

  @Test func setMistakesAreUsageErrors() throws {
    let folder = try E2E.temporaryDirectory("set-bad")
    try Self.writeQA(in: folder)
    let pipeline = try Self.pipeline(in: folder, output: #"{ "from": "short", "path": "out" }"#)
    let cases: [(String, String)] = [
      ("nope.minChars=3", #"no stage "nope""#),
      ("short=3", "expected STAGE.KEY=VALUE"),
      ("short.minChars", "expected STAGE.KEY=VALUE"),
      ("short.minChars=many", "stages[0].config.minChars"),
      ("short.colour=red", "stages[0].config.colour"),
    ]
    for (setting, message) in cases {
      let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run", "--set", setting])
      #expect(run.status == 2, "\(setting): \(run.stderr)")
      #expect(run.stderr.contains(message), "\(setting): \(run.stderr)")
    }
    #expect(!FileManager.default.fileExists(atPath: folder + "/run/manifest.sqlite"))
  }

  /// A judge that prefers the answer saying GOOD, except for questions marked BIASED, where it
  /// always says [[A]], and questions marked UNDECIDED, where it compares without a verdict
  /// until asked for the verdict alone.
  @Test func llmJudgeReadsBothPositions() throws {
    let server = try ScriptedHTTPServer { _, request in
      let body = request.body
      let biased = body.contains("BIASED")
      let first = body.range(of: "Assistant A's Answer]\\n").map { body[$0.upperBound...].prefix(4) } ?? ""
      if body.contains("Give your final verdict now") {
        return .json(LLMGenerateTests.chatAnswer(first == "GOOD" ? #"{"verdict": "A"}"# : #"{"verdict": "B"}"#))
      }
      if body.contains("UNDECIDED") { return .json(LLMGenerateTests.chatAnswer("Both have merits, and")) }
      let verdict = biased || first == "GOOD" ? "A answers it. [[A]]" : "B answers it. [[B]]"
      return .json(LLMGenerateTests.chatAnswer(verdict))
    }
    defer { server.stop() }
    let folder = try E2E.temporaryDirectory("judge")
    try E2E.writeShard(
      folder + "/pairs.jsonl",
      json: [
        #"{"id":"p1","text":"Q1","metadata":{"answer":"GOOD one","reference":"poor"}}"#,
        #"{"id":"p2","text":"Q2 BIASED","metadata":{"answer":"GOOD two","reference":"poor"}}"#,
        #"{"id":"p3","text":"Q3","metadata":{"answer":"poor","reference":"GOOD three"}}"#,
        #"{"id":"p4","text":"Q4","metadata":{"answer":"GOOD four"}}"#,
        #"{"id":"p5","text":"Q5 UNDECIDED","metadata":{"answer":"GOOD five","reference":"poor"}}"#,
      ])
    let pipeline = try E2E.writePipeline(
      """
      { "name": "judge", "inputs": [{ "id": "pairs", "paths": ["pairs.jsonl"] }],
        "stages": [{ "id": "judge", "op": "llm.judge@1", "inputs": ["pairs"],
          "config": { "question": "{text}", "endpoint": { "baseURL": "\(server.baseURL)", "model": "m" } } }],
        "output": { "from": "judge", "path": "out" } }
      """, in: folder)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run"])
    #expect(run.status == 0, "\(run.stderr)")
    var judged: [String: [String: Any]] = [:]
    for line in try E2E.readLines(folder + "/run/out/part-00000.jsonl.zst") {
      let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      judged[object["id"] as? String ?? ""] = (object["metadata"] as? [String: Any])?["judgement"] as? [String: Any]
    }
    #expect(judged["p1"]?["preference"] as? Double == 1)
    #expect(judged["p1"]?["positionsAgree"] as? Bool == true)
    #expect(judged["p1"]?["verdicts"] as? [String] == ["[[A]]", "[[B]]"])
    #expect(judged["p2"]?["preference"] as? Double == 0.5)
    #expect(judged["p2"]?["positionsAgree"] as? Bool == false)
    #expect(judged["p3"]?["preference"] as? Double == 0)
    #expect(judged["p4"] == nil)
    // No verdict in the comparison: asked again, under a schema, and it counts.
    #expect(judged["p5"]?["preference"] as? Double == 1)
    let p5 = try #require(judged["p5"]?["readings"] as? [[String: Any]])
    #expect(
      p5.allSatisfy { $0["followUp"] as? Bool == true && $0["explanation"] as? String == "Both have merits, and" })
    let rejects = try E2E.readLines(folder + "/run/rejects/judge/part-00000.jsonl.zst")
    #expect(rejects.count == 1 && rejects[0].contains("prompt_field_missing"))
    let first = server.requests.filter { !$0.body.contains("Give your final verdict now") }
    let followUps = server.requests.filter { $0.body.contains("Give your final verdict now") }
    #expect(first.allSatisfy { $0.body.contains("First write two or three sentences") })
    #expect(first.allSatisfy { !$0.body.contains("response_format") })
    #expect(followUps.count == 2)
    #expect(followUps.allSatisfy { $0.body.contains(#""response_format":{"json_schema""#) })
    let counters = try E2E.sql(
      folder + "/run/manifest.sqlite", "SELECT name || '=' || value FROM counters WHERE stage = 'judge' ORDER BY name")
    #expect(counters.contains("judge_swap_agreed=3") && counters.contains("judge_swapped_comparisons=4"), "\(counters)")
    #expect(counters.contains("judge_followups=2"), "\(counters)")
  }
}
