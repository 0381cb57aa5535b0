import Foundation
import PipeCore
import PipeTestSupport
import Testing

/// `pipe tokenize` and `tokens.count` with `method: "tokenizer"` on the built binary, with a
/// small real tokenizer file (TinyTokenizer) so no model is needed.
@Suite struct TokenizeTests {
  static func tokenizerFile(in folder: String, _ text: String = TinyTokenizer.json()) throws -> String {
    let path = folder + "/tokenizer.json"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test func printsIdsPiecesCountsAndRecords() throws {
    let folder = try E2E.temporaryDirectory("tokenize")
    let tokenizer = try Self.tokenizerFile(in: folder)
    let ids = try E2E.pipe(["tokenize", "--tokenizer", tokenizer, "the the", "aaaaa<s>x"])
    #expect(ids.status == 0, "\(ids.stderr)")
    let added = TinyTokenizer.tokens.count
    #expect(ids.stdout == "116 257 258\n260 97 \(added + 1)\n")
    let pieces = try E2E.pipe(["tokenize", "--tokenizer=" + tokenizer, "--pieces", "--", " the"])
    #expect(pieces.stdout == "258:\" the\"\n")
    let count = try E2E.pipe(["tokenize", "--tokenizer", tokenizer, "--count", "the the"])
    #expect(count.stdout == "3\n")

    try E2E.writeShard(
      folder + "/in.jsonl.zst",
      json: [#"{"id":"a","text":"the the"}"#, #"{"id":"b","text":"aaa\ud800"}"#, #"{"text":""}"#])
    let records = try E2E.pipe(["tokenize", "--tokenizer", tokenizer, "--records", folder + "/in.jsonl.zst"])
    #expect(records.status == 0, "\(records.stderr)")
    // The lone surrogate is U+FFFD (EF BF BD), as every stage sees it.
    #expect(
      records.stdout.split(separator: "\n") == [
        #"{"id":"a","tokens":[116,257,258]}"#, #"{"id":"b","tokens":[259,97,239,191,189]}"#,
        "{\"id\":\"\(folder)/in.jsonl.zst/3\",\"tokens\":[]}",
      ])
    let counts = try E2E.pipe([
      "tokenize", "--tokenizer", tokenizer, "--records", "--count", "--limit", "1", folder + "/in.jsonl.zst",
    ])
    #expect(counts.stdout == #"{"id":"a","count":3}"# + "\n")

    let info = try E2E.pipe(["tokenize", "--tokenizer", tokenizer, "--info"])
    #expect(info.stdout.contains("model: byte-level BPE, \(added + 3) ids"))
    #expect(info.stdout.contains("added tokens: 3 (2 special)"))
    #expect(info.stdout.contains("identity: "))
    #expect(try E2E.pipe(["tokenize", "--help"]).stdout.contains("usage: pipe tokenize"))
  }

  @Test func badUsageAndBadFilesExitTwoAndSayWhat() throws {
    let folder = try E2E.temporaryDirectory("tokenize-bad")
    let missing = try E2E.pipe(["tokenize", "hello"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("--tokenizer FILE is required"))
    let nowhere = try E2E.pipe(["tokenize", "--tokenizer", folder + "/none.json", "x"])
    #expect(nowhere.status == 2)
    #expect(nowhere.stderr.contains(folder + "/none.json"))
    let broken = try Self.tokenizerFile(in: folder, #"{"model":{"type":"WordPiece","vocab":{}}}"#)
    let result = try E2E.pipe(["tokenize", "--tokenizer", broken, "x"])
    #expect(result.status == 2)
    #expect(result.stderr.contains(broken) && result.stderr.contains("model.type"))
    #expect(try E2E.pipe(["tokenize", "--tokenizer", broken, "--bogus"]).status == 2)
    let truncated = folder + "/cut.gguf"
    try Data(TinyTokenizer.gguf(truncateTo: 200)).write(to: URL(fileURLWithPath: truncated))
    let cut = try E2E.pipe(["tokenize", "--tokenizer", truncated, "x"])
    #expect(cut.status == 2)
    #expect(cut.stderr.contains("truncated"))
  }

  static func pipeline(in folder: String, config: String) throws -> String {
    try E2E.writePipeline(
      """
      { "name": "tok", "inputs": [{ "id": "in", "paths": ["in-*.jsonl.zst"] }],
        "stages": [{ "id": "tokens", "op": "tokens.count@1", "inputs": ["in"], "config": \(config) }] }
      """, in: folder)
  }

  @Test func tokensCountCountsExactlyAndRerunsWhenTheTokenizerChanges() throws {
    let folder = try E2E.temporaryDirectory("tokens-exact")
    let tokenizer = try Self.tokenizerFile(in: folder)
    try E2E.writeShard(
      folder + "/in-0.jsonl.zst",
      json: [
        #"{"id":"a","text":"the the","metadata":{"language":"en"}}"#,
        #"{"id":"b","text":"aaaaa hell","metadata":{"language":"xx"}}"#,
      ])
    let pipeline = try Self.pipeline(
      in: folder, config: #"{ "method": "tokenizer", "tokenizer": "tokenizer.json" }"#)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run", "--no-progress"])
    #expect(run.status == 0, "\(run.stderr)")
    let output = try E2E.readLines(folder + "/run/data/tokens/part-00000.jsonl.zst").joined(separator: "\n")
    // "the the": the, " the" -> 116 257 258; "aaaaa hell": aaaa a, " ", h e l l -> 260 97 | 32 | 257 261.
    #expect(output.contains(#""id":"a""#) && output.contains(#""tokens":3"#))
    #expect(output.contains(#""tokens":5"#))
    let totals = try E2E.sql(
      folder + "/run/manifest.sqlite", "SELECT name, value FROM counters WHERE name LIKE 'tokens%' ORDER BY name")
    #expect(totals == ["tokens|8", "tokens.en|3", "tokens.xx|5"])

    // Same path, size and modification time, another tokenizer inside (two merges swapped):
    // the identity in the fingerprint still reruns the stage.
    let attributes = try FileManager.default.attributesOfItem(atPath: tokenizer)
    var swapped = TinyTokenizer.merges
    swapped.swapAt(5, 6)
    try Data(TinyTokenizer.json(mergesJSON: TinyTokenizer.mergesArray(swapped)).utf8)
      .write(to: URL(fileURLWithPath: tokenizer))
    try FileManager.default.setAttributes(
      [.modificationDate: attributes[.modificationDate] as Any], ofItemAtPath: tokenizer)
    #expect(
      (try FileManager.default.attributesOfItem(atPath: tokenizer))[.size] as? NSNumber == attributes[.size]
        as? NSNumber)
    let again = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run", "--no-progress"])
    #expect(again.status == 0, "\(again.stderr)")
    #expect(again.stdout.contains("1 task(s) run, 0 up to date"), "\(again.stdout)")
    // And a run with nothing changed reruns nothing.
    let unchanged = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run", "--no-progress"])
    #expect(unchanged.stdout.contains("0 task(s) run"), "\(unchanged.stdout)")
  }

  @Test func badTokenizerConfigsAreValidationErrorsWithTheirPath() throws {
    let folder = try E2E.temporaryDirectory("tokens-bad")
    _ = try Self.tokenizerFile(in: folder)
    try Data(#"{"model":{"type":"Unigram"}}"#.utf8).write(to: URL(fileURLWithPath: folder + "/unigram.json"))
    let cases: [(String, String)] = [
      (#"{ "method": "tokenizer" }"#, "stages[0].config.tokenizer: required with method \"tokenizer\""),
      (#"{ "tokenizer": "tokenizer.json" }"#, "stages[0].config.tokenizer: is read only with method \"tokenizer\""),
      (#"{ "method": "tokenizer", "tokenizer": "tokenizer.json", "scale": 2 }"#, "stages[0].config.scale"),
      (#"{ "method": "tokenizer", "tokenizer": "nothing.json" }"#, "no such file: \(folder)/nothing.json"),
      (#"{ "method": "tokenizer", "tokenizer": "unigram.json" }"#, "\(folder)/unigram.json: model.type"),
      (#"{ "method": "tokenizer", "tokenizer": 3 }"#, "stages[0].config.tokenizer: expected a file path"),
    ]
    for (config, expected) in cases {
      let pipeline = try Self.pipeline(in: folder, config: config)
      let result = try E2E.pipe(["validate", pipeline])
      #expect(result.status == 2, "\(config)")
      #expect(result.stderr.contains(expected), "\(config): \(result.stderr)")
    }
  }
}
