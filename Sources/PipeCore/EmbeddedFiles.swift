import Foundation

/// Files appended to the end of the running executable (`make dist` puts the language model
/// there, so that the binary copied to a cluster is one file). An ELF loader ignores bytes after
/// the sections it maps, so the binary runs unchanged.
///
/// Each file is its bytes, then its name (UTF-8), then a 24-byte trailer: the name's length
/// (UInt32, little-endian), 4 zero bytes, the file's length (UInt64, little-endian) and the magic
/// `PIPEFILE`. Files are read from the end backwards, so more can be appended.
public enum EmbeddedFiles {
  /// The trailer's last eight bytes.
  public static let magic = Array("PIPEFILE".utf8)

  /// The bytes of the embedded file `name`, or nil when the executable has none by that name.
  public static func read(_ name: String, executable: String = "/proc/self/exe") -> [UInt8]? {
    guard let handle = FileHandle(forReadingAtPath: executable) else { return nil }
    defer { try? handle.close() }
    guard var end = try? handle.seekToEnd() else { return nil }
    while end >= 24 {
      guard (try? handle.seek(toOffset: end - 24)) != nil, let trailer = try? handle.read(upToCount: 24),
        trailer.count == 24, Array(trailer.suffix(8)) == magic
      else { return nil }
      let bytes = [UInt8](trailer)
      let nameLength = littleEndian(bytes[0..<4])
      let fileLength = littleEndian(bytes[8..<16])
      // Subtractions, not a sum: a damaged trailer's lengths could overflow it.
      guard nameLength <= end - 24, fileLength <= end - 24 - nameLength else { return nil }
      let nameStart = end - 24 - nameLength
      let fileStart = nameStart - fileLength
      guard (try? handle.seek(toOffset: nameStart)) != nil, let nameData = try? handle.read(upToCount: Int(nameLength))
      else { return nil }
      if String(decoding: nameData, as: UTF8.self) == name {
        guard (try? handle.seek(toOffset: fileStart)) != nil,
          let data = try? handle.read(upToCount: Int(fileLength)), data.count == Int(fileLength)
        else { return nil }
        return [UInt8](data)
      }
      end = fileStart
    }
    return nil
  }

  private static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
    bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
  }

  /// The bytes to append to an executable to embed `contents` as `name`.
  public static func appendix(name: String, contents: [UInt8]) -> [UInt8] {
    let nameBytes = Array(name.utf8)
    var out = contents + nameBytes
    for shift in stride(from: 0, to: 32, by: 8) {
      out.append(UInt8(truncatingIfNeeded: UInt32(nameBytes.count) >> shift))
    }
    out += [0, 0, 0, 0]
    for shift in stride(from: 0, to: 64, by: 8) {
      out.append(UInt8(truncatingIfNeeded: UInt64(contents.count) >> shift))
    }
    return out + magic
  }
}
