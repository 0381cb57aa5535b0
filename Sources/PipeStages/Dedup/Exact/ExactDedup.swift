public import PipeCore

/// `dedup.exact@1`: removes records whose normalized text (or metadata field) was seen before.
///
/// The key is 128 bits: two XXH64 hashes with different seeds over the normalized UTF-8 bytes,
/// so accidental collisions are negligible at any corpus size (about 2^-64 for 10^10 records).
/// The runtime keeps the first record with a key in input order and drops later ones with
/// reason `duplicate` and the kept record's id as detail.
///
/// Normalization, in order: `lowercase` (full Unicode lowercasing), `nfc` (Unicode NFC), then
/// `collapseWhitespace` (runs of Unicode `White_Space` become one space, and the ends are
/// trimmed). The normalized text is streamed into the hashers and never stored; text in the
/// blocks `NormalizationQuickCheck` knows (ASCII, Latin, Cyrillic, CJK, ...) never becomes a `String`.
public struct ExactDedup: Sendable {
  /// Which part of a record is compared.
  public enum Field: Sendable, Equatable {
    /// The record's text.
    case text
    /// A metadata key. A string value is normalized like text; a number, boolean, array or
    /// object is hashed as its canonical JSON text; a missing key or `null` gives no key, so
    /// the record is kept without being compared.
    case metadata(String)

    /// Parses `text` or `metadata.<key>`.
    public init?(_ spelling: String) {
      if spelling == "text" {
        self = .text
      } else if spelling.hasPrefix("metadata."), spelling.count > "metadata.".count {
        self = .metadata(String(spelling.dropFirst("metadata.".count)))
      } else {
        return nil
      }
    }
  }

  /// The reject reason for a duplicate.
  public static let duplicateReason = "duplicate"

  /// Seeds of the two XXH64 halves of the key.
  static let seeds: (UInt64, UInt64) = (0x6465_6475_7065_7831, 0x9E37_79B9_7F4A_7C15)
  /// Seeds for metadata values that are not strings: another hash family, so the number `1`
  /// and the string `"1"` (the same bytes) get different keys.
  static let jsonSeeds: (UInt64, UInt64) = (seeds.0 ^ 0x4A53_4F4E, seeds.1 ^ 0x4A53_4F4E)

  /// The compared field.
  public let field: Field
  /// Whether text is lowercased before hashing.
  public let lowercase: Bool
  /// Whether whitespace runs become one space and the ends are trimmed.
  public let collapseWhitespace: Bool
  /// Whether text is put in Unicode NFC before hashing.
  public let nfc: Bool
  /// Indexes of earlier runs: their records come before this stage's input, so a record equal
  /// to one of theirs is dropped with its id; they are never dropped themselves.
  let references: [DedupIndex]
  /// Whether the stage exports its keys as an index for later runs (`artifacts/STAGE.export`).
  let exportsIndex: Bool

  /// The reject reason for a duplicate: `duplicate`.
  public var dropReason: String { Self.duplicateReason }

  /// Creates the stage; the parameters are the op's config keys, with the same defaults.
  public init(field: Field = .text, lowercase: Bool = false, collapseWhitespace: Bool = true, nfc: Bool = true) {
    self.field = field
    self.lowercase = lowercase
    self.collapseWhitespace = collapseWhitespace
    self.nfc = nfc
    references = []
    exportsIndex = false
  }

  private init(_ stage: ExactDedup, references: [DedupIndex], exportsIndex: Bool) {
    field = stage.field
    lowercase = stage.lowercase
    collapseWhitespace = stage.collapseWhitespace
    nfc = stage.nfc
    self.references = references
    self.exportsIndex = exportsIndex
  }

  /// Creates the stage with references and export.
  ///
  /// - Throws: `PipeError(.config)` when a reference is not an index of this op made with the
  ///   same comparison (field, lowercase, collapseWhitespace, nfc).
  init(
    field: Field, lowercase: Bool, collapseWhitespace: Bool, nfc: Bool, references: [String], exportsIndex: Bool
  ) throws {
    let plain = ExactDedup(field: field, lowercase: lowercase, collapseWhitespace: collapseWhitespace, nfc: nfc)
    let loaded = try DedupIndex.loadAll(
      references, op: Self.descriptor.qualifiedName, config: plain.identity, files: [Self.keysFile])
    self.init(plain, references: loaded, exportsIndex: exportsIndex)
  }

  /// The settings that decide which records are equal, as an exported index records them.
  var identity: JSONObject {
    let spelled: String
    switch field {
    case .text: spelled = "text"
    case .metadata(let key): spelled = "metadata." + key
    }
    return [
      "field": .string(spelled), "lowercase": .bool(lowercase), "collapseWhitespace": .bool(collapseWhitespace),
      "nfc": .bool(nfc),
    ]
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting("text", "What to compare: \"text\" or \"metadata.<key>\"; records without the field are kept.")
    var field: String
    @Setting(false, "Lowercase (full Unicode) before comparing, so case-only differences are duplicates.")
    var lowercase: Bool
    @Setting(true, "Turn every whitespace run into one space and trim both ends before comparing.")
    var collapseWhitespace: Bool
    @Setting(true, "Apply Unicode NFC before comparing, so composed and decomposed accents are duplicates.")
    var nfc: Bool
    @Setting(
      FileList(),
      addedToExistingVersion:
        "Indexes exported by earlier runs (their RUN/artifacts/STAGE.export folders), oldest first: "
        + "records equal to theirs are dropped with their id; theirs are untouched.")
    var reference: FileList
    @Setting(
      false, "Export this stage's keys as an index for later runs' reference (artifacts/STAGE.export).",
      affectsOutput: false)
    var exportIndex: Bool
  }

  /// Creates the stage from its options.
  ///
  /// - Throws: `ConfigValueError` when `field` is neither `text` nor `metadata.<key>`.
  init(options: Options) throws {
    guard let field = Field(options.field) else {
      throw ConfigValueError("field", "\"\(options.field)\" is not supported: use \"text\" or \"metadata.<key>\"")
    }
    try self.init(
      field: field, lowercase: options.lowercase, collapseWhitespace: options.collapseWhitespace, nfc: options.nfc,
      references: options.reference.files.map(\.path), exportsIndex: options.exportIndex)
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "dedup.exact", version: 1,
    summary: "Drop records whose normalized text (or a metadata field) equals an earlier record's.",
    options: Options.self, make: { options in .steps(try ExactDedup(options: options).plan) })

  /// The 128-bit key of `record`'s normalized field, or `nil` when the field is missing.
  public func duplicateKey(of record: Record) -> DuplicateKey? {
    switch field {
    case .text:
      return record.withTextUTF8 { key(ofText: $0) }
    case .metadata(let name):
      switch record.metadata(name) {
      case nil, .null?:
        return nil
      case .string(var value)?:
        return value.withUTF8 { key(ofText: $0) }
      case let other?:
        var json = other.canonicalText
        return json.withUTF8 { Self.key(ofNormalized: $0, collapse: false, lowercase: false, seeds: Self.jsonSeeds) }
      }
    }
  }

  /// The key of `text` after this stage's normalization.
  public func key(of text: String) -> DuplicateKey {
    var text = text
    return text.withUTF8 { key(ofText: $0) }
  }

  /// Hashes text bytes, building a `String` only when NFC has real work to do.
  func key(ofText bytes: UnsafeBufferPointer<UInt8>) -> DuplicateKey {
    if nfc, !Self.isNFCStable(bytes, lowercase: lowercase) {
      // Lowercasing can leave a text outside NFC (U+0130 becomes i + U+0307), so NFC comes second.
      let normalized: [UInt8]
      if lowercase {
        var lowered = String(decoding: bytes, as: UTF8.self).lowercased()
        normalized = lowered.withUTF8 { UnicodeNormalization.normalize($0, compatibility: false) }
      } else {
        normalized = UnicodeNormalization.normalize(bytes, compatibility: false)
      }
      return normalized.withUnsafeBufferPointer {
        Self.key(ofNormalized: $0, collapse: collapseWhitespace, lowercase: false)
      }
    }
    // Lowercasing a scalar of the quick check's blocks other than U+0130 gives one NFC-stable
    // starter (checked in `UnicodeQuickCheckTests`), so the text stays NFC and the bytes can be
    // lowercased as they stream.
    return Self.key(ofNormalized: bytes, collapse: collapseWhitespace, lowercase: lowercase)
  }

  /// Whether the bytes are certainly NFC already, and stay NFC when lowercased per scalar.
  private static func isNFCStable(_ bytes: UnsafeBufferPointer<UInt8>, lowercase: Bool) -> Bool {
    var check = NormalizationQuickCheck(compatibility: false)
    var index = 0
    let count = bytes.count
    while index < count {
      // Eight ASCII bytes at once: starters, always stable.
      if count - index >= 8, let base = bytes.baseAddress,
        UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self) & ASCIIWord.highBits == 0
      {
        check.addASCII()
        index += 8
        continue
      }
      let byte = bytes[index]
      if byte < 0x80 {
        check.addASCII()
        index += 1
        continue
      }
      let (value, length) = UTF8Scanning.decode(bytes, at: index)
      // U+0130 lowercases to i + U+0307, a mark that NFC may have to reorder with the next one.
      if lowercase, value == 0x130 { return false }
      check.add(value)
      if !check.isStable { return false }
      index += length
    }
    return true
  }

  /// Whether a non-ASCII scalar may have a lowercase mapping. Hebrew to Myanmar, CJK and kana,
  /// and Hangul syllables have no case (checked in `ExactDedupTests`), so they skip the lookup.
  @inline(__always)
  static func mayHaveCase(_ value: UInt32) -> Bool {
    !((0x590..<0x10A0).contains(value) || (0x3000..<0xA000).contains(value) || (0xAC00..<0xD7A4).contains(value))
  }

  /// Streams NFC bytes into the two hashers, collapsing whitespace and lowercasing on the way
  /// when asked. Lowercasing is per scalar (`Unicode.Scalar.Properties.lowercaseMapping`), which
  /// is exactly what `String.lowercased()` does.
  static func key(
    ofNormalized bytes: UnsafeBufferPointer<UInt8>, collapse: Bool, lowercase: Bool,
    seeds: (UInt64, UInt64) = seeds
  ) -> DuplicateKey {
    var first = XXH64(seed: seeds.0)
    var second = XXH64(seed: seeds.1)
    guard collapse || lowercase else {
      first.update(UnsafeRawBufferPointer(bytes))
      second.update(UnsafeRawBufferPointer(bytes))
      return DuplicateKey(high: first.finalize(), low: second.finalize())
    }
    // Normalized bytes go through a small stack buffer, so hashing costs no allocation and the
    // hashers see long updates.
    let capacity = 4096
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
      var filled = 0
      func flush() {
        let chunk = UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[0..<filled])
        first.update(chunk)
        second.update(chunk)
        filled = 0
      }
      var pendingSpace = false
      var wroteAny = false
      var index = 0
      let count = bytes.count
      while index < count {
        // Room for the longest lowercase mapping (3 scalars of 4 bytes) plus a space.
        if filled > capacity - 16 { flush() }
        // Eight ASCII bytes that collapsing leaves as they are (no control characters; spaces
        // only single and inside) go through at once, lowercased as a word: most of most
        // texts, which byte by byte made this the slower half of the key.
        if count - index >= 8, let base = bytes.baseAddress, let out = buffer.baseAddress {
          let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
          if ASCIIWord.isASCII(word), !collapse || ASCIIWord.collapsesToItself(word) {
            if pendingSpace {
              buffer[filled] = 0x20
              filled += 1
              pendingSpace = false
            }
            let written = lowercase ? ASCIIWord.lowercased(word) : word
            UnsafeMutableRawPointer(out + filled).storeBytes(of: written.littleEndian, as: UInt64.self)
            filled += 8
            index += 8
            wroteAny = true
            continue
          }
        }
        let byte = bytes[index]
        if byte < 0x80 {
          if collapse, byte == 0x20 || (0x09...0x0D).contains(byte) {
            pendingSpace = wroteAny
            index += 1
            continue
          }
          if pendingSpace {
            buffer[filled] = 0x20
            filled += 1
            pendingSpace = false
          }
          buffer[filled] = lowercase && byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
          filled += 1
          wroteAny = true
          index += 1
          continue
        }
        let (value, length) = UTF8Scanning.decode(bytes, at: index)
        if collapse, UTF8Scanning.isWhitespace(value) {
          pendingSpace = wroteAny
          index += length
          continue
        }
        if pendingSpace {
          buffer[filled] = 0x20
          filled += 1
          pendingSpace = false
        }
        if lowercase, Self.mayHaveCase(value), let scalar = Unicode.Scalar(value),
          scalar.properties.changesWhenLowercased
        {
          for unit in scalar.properties.lowercaseMapping.utf8 {
            buffer[filled] = unit
            filled += 1
          }
        } else {
          for offset in 0..<length {
            buffer[filled] = bytes[index + offset]
            filled += 1
          }
        }
        wroteAny = true
        index += length
      }
      flush()
    }
    return DuplicateKey(high: first.finalize(), low: second.finalize())
  }
}
