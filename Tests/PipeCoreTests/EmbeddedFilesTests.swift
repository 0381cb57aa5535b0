import Foundation
import PipeCore
import Testing

/// Files appended to an executable (`make dist` appends the language model).
struct EmbeddedFilesTests {
  @Test func appendedFilesAreFoundByNameFromTheEnd() throws {
    let path = NSTemporaryDirectory() + "pipe-embedded-\(UUID().uuidString)"
    let model = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let program = Array("\u{7F}ELF not really a program".utf8)
    let bytes =
      program + EmbeddedFiles.appendix(name: "langid.bin", contents: model)
      + EmbeddedFiles.appendix(name: "other.txt", contents: Array("second".utf8))
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    #expect(EmbeddedFiles.read("langid.bin", executable: path) == model)
    #expect(EmbeddedFiles.read("other.txt", executable: path) == Array("second".utf8))
    #expect(EmbeddedFiles.read("missing.bin", executable: path) == nil)
    // A file with nothing appended, and one whose trailer claims more than the file holds.
    try Data(program).write(to: URL(fileURLWithPath: path))
    #expect(EmbeddedFiles.read("langid.bin", executable: path) == nil)
    var lying = EmbeddedFiles.appendix(name: "langid.bin", contents: model)
    lying.removeFirst(100)
    try Data(lying).write(to: URL(fileURLWithPath: path))
    #expect(EmbeddedFiles.read("langid.bin", executable: path) == nil)
    // A damaged trailer whose lengths would overflow a sum is rejected, not a crash.
    let huge = [UInt8](repeating: 0xFF, count: 16) + EmbeddedFiles.magic
    try Data(program + huge).write(to: URL(fileURLWithPath: path))
    #expect(EmbeddedFiles.read("langid.bin", executable: path) == nil)
  }

  /// The layout `make dist` writes with Python's struct.pack('<IIQ', ...) + b'PIPEFILE'.
  @Test func trailerLayoutIsFixed() {
    let appendix = EmbeddedFiles.appendix(name: "ab", contents: [9, 8, 7])
    #expect(appendix == [9, 8, 7, 97, 98, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0] + Array("PIPEFILE".utf8))
  }
}
