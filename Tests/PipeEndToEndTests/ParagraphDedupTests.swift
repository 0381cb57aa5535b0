import Foundation
import PipeCore
import Testing

/// `dedup.paragraphs@1` on the built binary: boilerplate repeated across shards is removed from
/// all but the first document, documents left with boilerplate only are dropped with their
/// reason, `pipe why` shows what was removed, and the bytes are the same with any worker count
/// and after kills and resume.
@Suite(.serialized)
struct ParagraphDedupTests {
  static let header = "Subscribe to our newsletter to get every new article in your inbox each week."
  static let footer = "Copyright 2026 Example Corporation. All rights reserved. Terms of use apply."
  static let pair = "This paragraph appears in exactly two documents of the corpus, and nowhere else."

  /// Unique prose for document `number`.
  static func body(_ number: Int) -> String {
    var rng = SeededRNG(seed: UInt64(number) + 1)
    let words = (0..<60).map { _ in
      ["river", "stone", "north", "field", "paper", "light", "quiet", "metal"][
        Int(rng.next() % 8)] + String(rng.next() % 100)
    }
    return words.joined(separator: " ") + "."
  }

  static func record(_ id: String, _ paragraphs: [String]) -> String {
    JSONValue.object(["id": .string(id), "text": .string(paragraphs.joined(separator: "\n\n"))]).jsonText
  }

  /// Three shards of four documents: header and footer in most, the pair paragraph in two, one
  /// document with only boilerplate and a short line, and one with the header twice.
  static func writeCorpus(in folder: String) throws -> String {
    let shards: [[String]] = [
      [
        record("d00", [header, body(0), footer]), record("d01", [body(1), pair]),
        record("d02", [header, header, body(2)]), record("d03", [body(3)]),
      ],
      [
        record("d10", [header, body(10), footer]), record("d11", [header, "Thanks!", footer]),
        record("d12", [body(12), pair]),
        record("d13", ["  " + header.replacingOccurrences(of: " ", with: " \t ") + "  ", body(13)]),
      ],
      [
        record("d20", [header, body(20)]), record("d21", [body(21), footer]),
        record("d22", [body(22)]), record("d23", [header + "\n" + footer, body(23)]),
      ],
    ]
    for (index, lines) in shards.enumerated() {
      try E2E.writeShard(folder + "/in-\(index).jsonl.zst", json: lines)
    }
    return folder
  }

  static func pipeline(in folder: String, config: String = "{}") throws -> String {
    try E2E.writePipeline(
      """
      { "name": "para", "inputs": [{ "id": "in", "paths": ["in-*.jsonl.zst"] }],
        "stages": [{ "id": "para", "op": "dedup.paragraphs@1", "inputs": ["in"], "config": \(config) }] }
      """, in: folder)
  }

  static func texts(_ runDirectory: String) throws -> [String: String] {
    var texts: [String: String] = [:]
    for shard in 0..<3 {
      for line in try E2E.readLines(runDirectory + "/data/para/part-0000\(shard).jsonl.zst") {
        let object = try JSONValue.parse(Array(line.utf8)).objectValue ?? [:]
        texts[object["id"]?.stringValue ?? ""] = object["text"]?.stringValue
      }
    }
    return texts
  }

  @Test func boilerplateStaysOnlyInTheFirstDocumentAndWhyShowsWhatWent() throws {
    let folder = try Self.writeCorpus(in: try E2E.temporaryDirectory("paragraphs"))
    let pipeline = try Self.pipeline(in: folder)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run", "--workers", "1"])
    #expect(run.status == 0, "\(run.stderr)")
    let texts = try Self.texts(folder + "/run")
    #expect(texts["d00"] == [Self.header, Self.body(0), Self.footer].joined(separator: "\n\n"), "the first keeps both")
    #expect(texts["d02"] == [Self.body(2)].joined(), "the header is d00's")
    #expect(texts["d10"] == Self.body(10))
    #expect(texts["d13"] == Self.body(13), "whitespace is collapsed before comparing")
    #expect(texts["d12"] == Self.body(12), "a paragraph in two documents is kept in the first only")
    #expect(texts["d01"] == [Self.body(1), Self.pair].joined(separator: "\n\n"))
    #expect(texts["d03"] == Self.body(3) && texts["d22"] == Self.body(22), "untouched documents")
    #expect(
      texts["d23"] == [Self.header + "\n" + Self.footer, Self.body(23)].joined(separator: "\n\n"),
      "a paragraph is all its lines")
    #expect(texts["d11"] == nil)
    let rejects = try E2E.readLines(folder + "/run/rejects/para/part-00001.jsonl.zst")
    #expect(rejects.count == 1 && rejects[0].contains(#""reason":"boilerplate_only""#), "\(rejects)")

    let why = try E2E.pipe(["why", folder + "/run", "d10"])
    #expect(why.status == 0, "\(why.stderr)")
    #expect(why.stdout.contains("removed 2 of 3 paragraphs"), "\(why.stdout)")
    #expect(why.stdout.contains("kept in d00"), "\(why.stdout)")
    let counters = try E2E.sql(
      folder + "/run/manifest.sqlite",
      "SELECT name || '=' || value FROM counters WHERE stage = 'para:index' ORDER BY name;")
    #expect(counters.contains("removed_units=10") && counters.contains("changed_documents=7"), "\(counters)")

    // With maxDocuments 2, the pair paragraph (two documents) stays in both; the header does not.
    let loose = try Self.pipeline(in: folder, config: #"{ "maxDocuments": 2 }"#)
    let second = try E2E.pipe(["run", loose, "--run-dir", folder + "/loose", "--workers", "1"])
    #expect(second.status == 0, "\(second.stderr)")
    let looseTexts = try Self.texts(folder + "/loose")
    #expect(looseTexts["d12"] == [Self.body(12), Self.pair].joined(separator: "\n\n"))
    #expect(looseTexts["d10"] == Self.body(10))
  }

  @Test func linesWithAMinimumLengthAreUnitsToo() throws {
    let folder = try E2E.temporaryDirectory("paragraph-lines")
    try E2E.writeShard(
      folder + "/in-0.jsonl.zst",
      json: [
        Self.record("a", ["}\nshared line that is long enough to count\n" + Self.body(30)]),
        Self.record("b", ["}\nshared line that is long enough to count\n" + Self.body(31)]),
      ])
    let pipeline = try Self.pipeline(in: folder, config: #"{ "unit": "line", "minUnitChars": 5 }"#)
    let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/run"])
    #expect(run.status == 0, "\(run.stderr)")
    let lines = try E2E.readLines(folder + "/run/data/para/part-00000.jsonl.zst")
    let b = try #require(lines.last.flatMap { try? JSONValue.parse(Array($0.utf8)).objectValue })
    #expect(b["text"]?.stringValue == "}\n" + Self.body(31), "the short line stays; the long shared one goes")
  }

  @Test(arguments: ["kill-in-task=para:units:1:2", "kill-after-tasks=4", "kill-in-task=para:2:2"])
  func sameBytesWithTwoWorkersAndAfterAKill(fault: String) throws {
    let folder = try Self.writeCorpus(in: try E2E.temporaryDirectory("paragraph-kill"))
    let pipeline = try Self.pipeline(in: folder)
    let reference = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/one", "--workers", "1"])
    #expect(reference.status == 0, "\(reference.stderr)")
    let expected = try E2E.outputs(folder + "/one")
    let two = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/two", "--workers", "2"])
    #expect(two.status == 0, "\(two.stderr)")
    E2E.expectSameFiles(try E2E.outputs(folder + "/two"), expected, "with 2 workers")
    let killed = try E2E.pipe(
      ["run", pipeline, "--run-dir", folder + "/killed", "--workers", "2"], environment: ["PIPE_FAULT": fault])
    #expect(killed.wasSignaled && killed.status == 9, "the fault \(fault) should have killed the run")
    let resumed = try E2E.pipe(["resume", folder + "/killed", "--workers", "2"])
    #expect(resumed.status == 0, "\(resumed.stderr)")
    E2E.expectSameFiles(try E2E.outputs(folder + "/killed"), expected, "after \(fault) and resume")
  }

  /// Under a small memory cap the index counts units in partitions (by the keys' top bits):
  /// on the samples' 126,931 lines, 1 MB gives several, and the bytes are the same.
  @Test func partitionedIndexGivesTheSameBytes() throws {
    let folder = try E2E.temporaryDirectory("paragraph-partitions")
    var outputs: [[String: Data]] = []
    for cap in [512, 1] {
      let pipeline = try E2E.writePipeline(
        """
        { "name": "para", "inputs": [{ "id": "in", "paths": ["\(E2E.repositoryRoot)/samples/*.jsonl.zst"] }],
          "stages": [{ "id": "para", "op": "dedup.paragraphs@1", "inputs": ["in"],
                      "config": { "unit": "line", "minUnitChars": 20, "memoryCapMB": \(cap) } }] }
        """, in: folder, name: "p\(cap).json")
      let run = try E2E.pipe(["run", pipeline, "--run-dir", folder + "/cap\(cap)", "--workers", "2"])
      #expect(run.status == 0, "\(run.stderr)")
      outputs.append(try E2E.outputs(folder + "/cap\(cap)"))
    }
    let partitions = try E2E.sql(
      folder + "/cap1/manifest.sqlite", "SELECT value FROM counters WHERE name = 'index_partitions';")
    #expect((Int(partitions.first ?? "") ?? 0) > 1, "\(partitions)")
    let removed = try E2E.sql(
      folder + "/cap1/manifest.sqlite", "SELECT value FROM counters WHERE name = 'removed_units';")
    #expect((Int(removed.first ?? "") ?? 0) > 1000, "the samples repeat many lines: \(removed)")
    E2E.expectSameFiles(outputs[1], outputs[0], "with a 1 MB cap")
  }
}
