import PipeCore

@testable import PipeStages

// Synthetic documents for the quality filter tests. Each construction was checked against
// datatrove 0.10.1 (the reference the filters follow), which drops it with the same reason
// the tests expect.

/// The syllables of the made-up words.
private let syllables = [
  "ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "ri", "so", "tu", "va",
]

/// A made-up six-letter word; different for every `index` below 4096.
func word(_ index: Int) -> String {
  syllables[index % 16] + syllables[(index / 16) % 16] + syllables[(index / 256) % 16]
}

/// `count` different words starting at `start`.
func words(_ start: Int, _ count: Int) -> [String] {
  (start..<(start + count)).map(word)
}

/// An eleven-word sentence with two stop words ("the", "and") and a final period.
func sentence(_ start: Int) -> String {
  let made = words(start, 9)
  return ([made[0], "the"] + made[1..<4] + ["and"] + made[4...]).joined(separator: " ") + "."
}

/// `count` sentences on one line, none repeating a word of another.
func prose(_ start: Int, _ count: Int) -> String {
  (0..<count).map { sentence(start + 9 * $0) }.joined(separator: " ")
}

/// `count` sentences, one a line.
func proseLines(_ start: Int, _ count: Int) -> String {
  (0..<count).map { sentence(start + 9 * $0) }.joined(separator: "\n")
}

/// A two-letter word, different for every `index` below 676.
func shortWord(_ index: Int) -> String {
  String(UnicodeScalar(UInt8(97 + index % 26))) + String(UnicodeScalar(UInt8(97 + (index / 26) % 26)))
}

/// The drop reason of `verdict`, or `nil` when it keeps.
func reason(_ verdict: Verdict) -> String? {
  if case .drop(let reason, _) = verdict { return reason }
  return nil
}

/// The drop reason of `stage` on `text`, or `nil` when it keeps.
func reason(_ stage: some RecordStage, _ text: String) throws -> String? {
  reason(try run(stage, on: text).verdict)
}

/// The words of `text` as strings.
func splitWords(_ text: String, spaceless: Bool = true) -> [String] {
  var text = text
  return text.withUTF8 { bytes in
    var splitter = EnglishWordSplitter()
    return Words.split(bytes, using: &splitter, spaceless: spaceless).map {
      String(decoding: UnsafeBufferPointer(rebasing: bytes[$0.start..<$0.end]), as: UTF8.self)
    }
  }
}

/// The sentence count of `text`.
func sentenceCount(_ text: String) -> Int {
  var text = text
  return text.withUTF8 { bytes in
    var splitter = EnglishWordSplitter()
    return Words.sentenceCount(bytes, using: &splitter)
  }
}

/// A config for `descriptor` with `overrides`, resolved like a pipeline file's.
func resolvedConfig(_ descriptor: OpDescriptor, _ overrides: JSONObject = [:]) throws -> StageConfig {
  let (config, issues) = descriptor.resolve(overrides, path: "config")
  guard let config, issues.isEmpty else { throw ConfigProblem(issues: issues) }
  return config
}

/// The record stage `descriptor` builds from `overrides`.
func makeStage(_ descriptor: OpDescriptor, _ overrides: JSONObject = [:]) throws -> any RecordStage {
  guard case .record(let stage) = try descriptor.make(try resolvedConfig(descriptor, overrides)) else {
    throw ConfigProblem(issues: [])
  }
  return stage
}

struct ConfigProblem: Error {
  var issues: [ValidationIssue]
}
