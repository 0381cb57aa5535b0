import Testing

@testable import PipeCore

/// A record going through several stages of a fused chain writes exactly the bytes it would
/// have if each stage had read the one before's output from disk.
struct RecordStagesTests {
  typealias Change = (key: String, value: JSONValue?)

  static let lines = [
    #"{"id":"r","text":"Hello\nworld","metadata":{"a":1,"b":"x","a":2}}"#,
    #"{"text":"no id, no metadata","extra":[1,2]}"#,
    #"{"id":7,"metadata":{"c":{"deep":true}},"text":"caf\u00e9"}"#,
  ]

  /// Applies one stage's changes (metadata keys and, for "text", the text).
  static func apply(_ changes: [Change], to record: inout Record) {
    for change in changes {
      if change.key == "text" {
        record.text = change.value?.stringValue ?? ""
      } else {
        record.setMetadata(change.key, change.value)
      }
    }
  }

  static func parse(_ line: [UInt8]) throws -> Record {
    try line.withUnsafeBufferPointer { buffer throws(RecordError) -> Record in
      try Record(line: buffer, fallbackID: "shard:1")
    }
  }

  /// Each stage parses the last one's output (what separate tasks did).
  static func separately(_ line: String, _ stages: [[Change]]) throws -> [UInt8] {
    var bytes = Array(line.utf8)
    for stage in stages {
      var record = try parse(bytes)
      apply(stage, to: &record)
      bytes = []
      record.write(to: &bytes)
    }
    return bytes
  }

  /// One parse, every stage in turn (a fused chain).
  static func fused(_ line: String, _ stages: [[Change]]) throws -> (bytes: [UInt8], modified: [Bool]) {
    var record = try parse(Array(line.utf8))
    var modified: [Bool] = []
    for stage in stages {
      record.beginStage()
      apply(stage, to: &record)
      modified.append(record.isModifiedInStage)
    }
    var bytes: [UInt8] = []
    record.write(to: &bytes)
    return (bytes, modified)
  }

  @Test func aKeyAnEarlierStageAddedKeepsItsPlace() throws {
    let stages: [[Change]] = [[("x", .int(1)), ("y", .int(2))], [("z", .int(3))], [("x", .int(9))]]
    let line = Self.lines[0]
    let expected = try Self.separately(line, stages)
    #expect(String(decoding: expected, as: UTF8.self).hasSuffix(#""metadata":{"b":"x","a":2,"x":9,"y":2,"z":3}}"#))
    #expect(try Self.fused(line, stages).bytes == expected)
  }

  @Test func removedThenSetAgainGoesToTheEnd() throws {
    let stages: [[Change]] = [[("a", nil)], [("q", .int(1))], [("a", .string("back"))]]
    for line in Self.lines {
      #expect(try Self.fused(line, stages).bytes == Self.separately(line, stages), "\(line)")
    }
  }

  @Test(arguments: 0..<200)
  func randomChangesGiveTheSameBytesFusedOrNot(seed: Int) throws {
    var rng = SeededRNG(seed: UInt64(seed))
    let keys = ["a", "b", "c", "x", "y", "text"]
    var stages: [[Change]] = []
    for _ in 0..<Int(rng.next() % 5 + 1) {
      var stage: [Change] = []
      for _ in 0..<Int(rng.next() % 4) {
        let key = keys[Int(rng.next() % UInt64(keys.count))]
        let roll = rng.next() % 6
        let value: JSONValue? =
          key == "text"
          ? .string("text \(rng.next() % 3)") : roll == 0 ? nil : roll == 1 ? .double(0.5) : .int(Int64(roll))
        stage.append((key, value))
      }
      stages.append(stage)
    }
    let line = Self.lines[seed % Self.lines.count]
    let (bytes, modified) = try Self.fused(line, stages)
    #expect(bytes == (try Self.separately(line, stages)), "stages \(stages)")
    // A stage counts as having changed the record only if it did something.
    for (stage, changed) in zip(stages, modified) where stage.isEmpty {
      #expect(!changed)
    }
  }

  @Test func settingTheSameTextIsNoChange() throws {
    var record = try Self.parse(Array(Self.lines[0].utf8))
    record.text = "Hello\nworld"
    #expect(!record.isModifiedInStage && !record.isModified)
    record.text = "changed"
    #expect(record.isModifiedInStage)
    record.beginStage()
    #expect(!record.isModifiedInStage && record.isModified)
    record.text = "changed"
    #expect(!record.isModifiedInStage, "the same text as the stage found is no change")
  }
}
