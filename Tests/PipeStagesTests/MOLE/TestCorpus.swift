import Foundation
import PipeCore
import PipeStages

/// One document of a test corpus.
struct TestDocument {
  var id: String
  var text: String
  var kind: String
}

/// Test corpora: the small fixture extracted from the project's samples, and (behind
/// `PIPE_MOLE_BENCH=1`) the bench corpus.
enum TestCorpus {
  /// 340 original records of /work/main/samples (280 prose in 40 languages, 60 code), as plain
  /// JSONL; see Fixtures/README.md.
  static let samples: [TestDocument] = {
    let url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/samples.jsonl")
    guard let data = try? Data(contentsOf: url) else { return [] }
    return parse(data)
  }()

  /// Records of JSONL bytes.
  static func parse(_ data: Data) -> [TestDocument] {
    var documents: [TestDocument] = []
    data.withUnsafeBytes { raw in
      let bytes = raw.bindMemory(to: UInt8.self)
      var start = 0
      for index in 0...bytes.count where index == bytes.count || bytes[index] == 0x0A {
        defer { start = index + 1 }
        guard index > start,
          let record = try? Record(line: UnsafeBufferPointer(rebasing: bytes[start..<index]), fallbackID: "\(start)")
        else { continue }
        let kind = record.metadata("kind")?.stringValue ?? "prose"
        documents.append(TestDocument(id: record.id, text: record.text, kind: kind == "code" ? "code" : "prose"))
      }
    }
    return documents
  }

  /// Decompresses `.jsonl.zst` shards with the zstd command-line tool.
  static func loadShards(in directory: String) throws -> [TestDocument] {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".jsonl.zst") }
    var documents: [TestDocument] = []
    for name in names.sorted() {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
      process.arguments = ["-dc", directory + "/" + name]
      let pipe = Pipe()
      process.standardOutput = pipe
      try process.run()
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      documents += parse(data)
    }
    return documents
  }

  /// One counterfactual per (document, facet) where the facet's rule applies.
  static func pairs(_ documents: [TestDocument], scenario: Scenario) -> [CounterfactualPair] {
    var pairs: [CounterfactualPair] = []
    for document in documents {
      for facet in scenario.facets {
        var generator = SeededRNG(seed: XXH64.hash(document.id + "/" + facet.name))
        guard let degraded = Perturbation.degrade(document.text, facet: facet, using: &generator) else { continue }
        pairs.append(
          CounterfactualPair(group: document.id, original: document.text, counterfactual: degraded, facet: facet.name))
      }
    }
    return pairs
  }

  /// `text` with up to `count` facets degraded in turn (in a random order), and how many were.
  static func degrade(_ text: String, id: String, count: Int, scenario: Scenario) -> (text: String, applied: Int) {
    var generator = SeededRNG(seed: XXH64.hash(id + "/multi"))
    var facets = scenario.facets
    for index in stride(from: facets.count - 1, to: 0, by: -1) {
      facets.swapAt(index, Int(generator.next() % UInt64(index + 1)))
    }
    var current = text
    var applied = 0
    for facet in facets where applied < count {
      if let next = Perturbation.degrade(current, facet: facet, using: &generator) {
        current = next
        applied += 1
      }
    }
    return (current, applied)
  }

  /// Labels as in the project's MOLE notes: 5 − (facets degraded) + N(0, 0.5).
  static func labels(_ documents: [TestDocument], scenario: Scenario, salt: String) -> [LabelledText] {
    documents.map { document in
      var generator = SeededRNG(seed: XXH64.hash(document.id + salt))
      let wanted = Int(generator.next() % UInt64(scenario.facets.count + 1))
      let (text, applied) = degrade(document.text, id: document.id + salt, count: wanted, scenario: scenario)
      let u1 = max(Double(generator.next() >> 11) * 0x1.0p-53, 1e-12)
      let u2 = Double(generator.next() >> 11) * 0x1.0p-53
      let noise = 0.5 * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
      return LabelledText(group: document.id, text: text, score: 5 - Double(applied) + noise)
    }
  }
}

/// Figures printed only with `PIPE_MOLE_VERBOSE=1`, for reports.
enum Verbose {
  static let isOn = ProcessInfo.processInfo.environment["PIPE_MOLE_VERBOSE"] == "1"

  static func print(_ message: @autoclosure () -> String) {
    if isOn { Swift.print(message()) }
  }
}
