import PipeCore

/// The context every in-memory stage test uses; these stages do not draw random numbers.
let testContext = StageContext(stageID: "test", seed: 7, shardIndex: 0)

/// A record made in memory.
func makeRecord(_ text: String, id: String = "r1", metadata: JSONObject = [:]) -> Record {
  Record(id: id, text: text, metadata: metadata)
}

/// A record parsed from one JSONL line, as the runtime would read it.
func parseRecord(_ line: String) throws -> Record {
  try Array(line.utf8).withUnsafeBufferPointer { buffer throws(RecordError) -> Record in
    try Record(line: buffer, fallbackID: "shard-0/1")
  }
}

/// Runs `stage` on a record holding `text`; returns the verdict and the record afterwards.
func run(_ stage: some RecordStage, on text: String) throws -> (verdict: Verdict, record: Record) {
  var record = makeRecord(text)
  let verdict = try stage.process(&record, context: testContext)
  return (verdict, record)
}

/// The UTF-8 bytes of a string. Tests compare bytes, because `String ==` treats composed and
/// decomposed accents as equal and would hide exactly the differences under test.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The record's text bytes.
func textBytes(_ record: Record) -> [UInt8] { record.withTextUTF8 { Array($0) } }

/// The scalars of `text` as `U+XXXX` strings, for readable failure messages.
func scalarCodes(_ text: String) -> [String] {
  text.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }
}

/// An artifact held in memory: written like a scratch file, then read back or mapped, so the
/// steps of global algorithms are tested without disks.
final class MemoryArtifact: ScratchFile, ArtifactInput, MappedArtifact {
  let name: String
  private(set) var data: [UInt8] = []
  private var mapped: UnsafeMutableRawBufferPointer?

  init(name: String, data: [UInt8] = []) {
    self.name = name
    self.data = data
  }

  deinit { mapped?.deallocate() }

  var size: Int { data.count }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    data.append(contentsOf: bytes)
  }

  func append(_ source: any ArtifactInput) throws {
    data += try source.readAll()
  }

  func finishWriting() throws -> any ArtifactInput { self }

  func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
    guard offset + buffer.count <= data.count else {
      throw PipeError(.corruptInput, "artifact ends early", file: name)
    }
    data.withUnsafeBytes {
      buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + buffer.count)]))
    }
  }

  func map(offset: Int, count: Int) throws -> any MappedArtifact {
    let copy = MemoryArtifact(name: name, data: Array(data[offset..<(offset + count)]))
    copy.mapped = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
    copy.data.withUnsafeBytes { copy.mapped?.copyMemory(from: $0) }
    return copy
  }

  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: mapped?.baseAddress, count: data.count) }
}
