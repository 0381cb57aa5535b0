import Foundation
import PipeCore
import PipeIO
import PipeManifest
import Testing

/// Task ledgers: what a task hands the manifest's one writer, as a file that is complete and
/// intact or refused.
struct TaskLedgerTests {
  /// A chain's two rows, the first with provenance spilled past a tiny memory limit, and two
  /// LLM answers.
  static func ledger(in directory: TemporaryDirectory) throws -> (TaskLedger, ProvenanceSpool) {
    let spool = ProvenanceSpool(spillPath: directory.path + "/spool.tmp", memoryLimit: 512)
    for index in 0..<2000 {
      try spool.addOrigin(recordID: "rec-\(index)", sourcePath: "/data/in-\(index % 2).jsonl", line: index + 1)
      if index % 3 == 0 {
        try spool.addVerdict(recordID: "rec-\(index)", kind: .dropped, reason: "too_short", detail: "\(index) chars")
      }
    }
    var first = Fixture.completion(stage: "a", shard: 0, records: 0)
    first.provenance = spool
    first.chain = "a[0]"
    first.kind = "records"
    first.rejectsBytes = 77
    first.rejectsChecksum = "xxh64:00000000000000aa"
    first.dropCounts = ["too_short": 667]
    first.counters = ["tokens": 12]
    first.mixtureGroups = [
      PlannedGroup(
        name: "en", records: 3, tokensAvailable: 30, tokensTargeted: 15.5, rate: 0.5, shareBefore: 1, shareAfter: 1)
    ]
    var second = Fixture.completion(
      stage: "b", shard: 0, records: 3,
      artifacts: [
        ArtifactRow(
          name: "keys-00000.bin", path: "/run/artifacts/b/keys-00000.bin", bytes: 10, checksum: "xxh64:1", shard: 0)
      ])
    second.chain = "a[0]"
    second.kind = "collect"
    let answers = (0..<2).map { index in
      LLMCacheEntry(
        key: "key-\(index)", endpoint: "local", model: "m", path: "chat/completions", request: #"{"q":\#(index)}"#,
        response: #"{"a":"ünïcode \#(index)"}"#, promptTokens: index == 0 ? nil : 5, completionTokens: 7,
        latencySeconds: 0.25, createdAt: 100)
    }
    return (TaskLedger(task: "a[0]", rows: [first, second], llmCache: answers), spool)
  }

  static func write(_ ledger: TaskLedger, to path: String) throws {
    let writer = try AtomicFileWriter(path: path, durable: false)
    try ledger.write(to: writer)
    _ = try writer.commit()
  }

  @Test func roundTripKeepsEveryRowProvenanceAndAnswer() throws {
    let directory = try TemporaryDirectory()
    let (ledger, spool) = try Self.ledger(in: directory)
    let path = directory.path + "/part-00000.ledger"
    try Self.write(ledger, to: path)
    let read = try TaskLedger.read(try BinaryFile(path: path))
    #expect(read.task == "a[0]")
    #expect(read.llmCache == ledger.llmCache)
    #expect(read.rows.count == 2)
    let (a, b) = (read.rows[0], read.rows[1])
    #expect(a.stage == "a" && a.chain == "a[0]" && a.kind == "records" && a.rejectsBytes == 77)
    #expect(a.rejectsChecksum == "xxh64:00000000000000aa" && a.dropCounts == ["too_short": 667])
    #expect(a.counters == ["tokens": 12] && a.mixtureGroups == ledger.rows[0].mixtureGroups)
    #expect(b.artifacts == ledger.rows[1].artifacts && b.kind == "collect" && b.provenance == nil)
    let provenance = try #require(a.provenance)
    #expect(provenance.originCount == spool.originCount && provenance.verdictCount == spool.verdictCount)
    #expect(provenance.strings == spool.strings)

    // Merged, the manifest holds what a direct completion would have written.
    let manifest = try Manifest(path: directory.manifestPath)
    for (position, stage) in ["a", "b"].enumerated() { try Fixture.recordStage(manifest, stage, position: position) }
    try manifest.markTasksDone(read.rows, llmCache: read.llmCache)
    let history = try manifest.provenance(recordID: "rec-1998")
    #expect(history.origins.map(\.line) == [1999] && history.verdicts.map(\.reason) == ["too_short"])
    #expect(try manifest.llmCacheEntry(key: "key-1") == ledger.llmCache[1])
    let row = try #require(try manifest.task(stage: "a", shard: 0))
    #expect(row.status == .done && row.chain == "a[0]" && row.kind == "records" && row.rejectsBytes == 77)
    spool.discard()
  }

  @Test(arguments: ["flip", "truncate", "empty", "garbage"])
  func aDamagedLedgerIsRefused(_ damage: String) throws {
    let directory = try TemporaryDirectory()
    let (ledger, spool) = try Self.ledger(in: directory)
    defer { spool.discard() }
    let path = directory.path + "/part-00000.ledger"
    try Self.write(ledger, to: path)
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    switch damage {
    case "flip": bytes[bytes.count / 3] ^= 0x01
    case "truncate": bytes = bytes.prefix(bytes.count - 9)
    case "empty": bytes = Data()
    default: bytes = Data(String(repeating: "not a ledger ", count: 20).utf8)
    }
    try bytes.write(to: URL(fileURLWithPath: path))
    let error = try #require(throws: PipeError.self) { try TaskLedger.read(try BinaryFile(path: path)) }
    #expect(error.code == .corruptInput)
    #expect(error.message.contains("not a complete task ledger"))
    #expect(error.file == path)
  }
}
