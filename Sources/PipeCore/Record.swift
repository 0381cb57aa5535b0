/// Why a line could not become a record; each case is a reject reason in the manifest.
public struct RecordError: Error, Sendable, CustomStringConvertible {
  /// The reject reason: `malformed_json`, `invalid_utf8`, `missing_text`, `text_not_string`,
  /// `id_not_scalar`, `line_too_long`.
  public var reason: String
  /// Details for the reject record and error messages.
  public var message: String
  /// The record's own id, when the line is valid JSON with a usable id (so the reject and
  /// `pipe why` can name it).
  public var recordID: String?

  /// Creates an error.
  public init(reason: String, message: String, recordID: String? = nil) {
    self.reason = reason
    self.message = message
    self.recordID = recordID
  }

  /// `reason: message`.
  public var description: String { "\(reason): \(message)" }
}

/// One document: `id`, `text`, `metadata` and any other fields, as one JSON object.
///
/// A record read from a shard keeps its original bytes and the positions of its top-level
/// members. `text` and metadata values are decoded only when a stage asks for them, and
/// fields nobody changed are written back byte for byte, which keeps the common path close
/// to the speed of copying bytes.
public struct Record: Sendable {
  /// The record's id: the `id` field, or a stable one made from the shard and line.
  public private(set) var id: String
  /// The original line, when the record was read from a shard.
  private var raw: [UInt8]

  /// The size of the line the record was read from (or made into, for records made in memory).
  public var rawByteCount: Int { raw.count }
  /// Top-level members of `raw`.
  private var members: [JSONMember]
  /// Whether `raw` lacks an `id` field, so one must be written.
  private var idIsGenerated: Bool
  /// A replacement text set by a stage.
  private var newText: String?
  /// Metadata keys set (or removed, with `nil`) by stages, in the order they were set, each with
  /// the generation (stage of a fused chain) that set it.
  private var metadataChanges: [(key: String, value: JSONValue?, generation: Int)] = []
  /// The stage of a fused chain now deciding (see `beginStage`).
  private var generation = 0
  /// Whether the stage now deciding changed the record: since it was read, or since the last
  /// `beginStage()` in a fused chain.
  public private(set) var isModifiedInStage = false
  /// Other top-level fields set by stages.
  private var fieldChanges: [(key: String, value: JSONValue?)] = []

  /// Creates a record in memory (tests, generating stages).
  public init(id: String, text: String, metadata: JSONObject = [:]) {
    self.id = id
    var line: [UInt8] = []
    JSONValue.object(["id": .string(id), "text": .string(text), "metadata": .object(metadata)]).write(to: &line)
    self.raw = line
    // The text we just wrote is valid by construction.
    self.members = line.withUnsafeBufferPointer { (try? JSONScanner.scanObject($0)) ?? [] }
    self.idIsGenerated = false
  }

  /// Parses one line of a shard.
  ///
  /// - Parameters:
  ///   - line: the line's bytes, without its newline.
  ///   - fallbackID: the id to use when the record has none (the reader passes `shard/line`).
  /// - Throws: `RecordError` with the reject reason.
  public init(line: UnsafeBufferPointer<UInt8>, fallbackID: @autoclosure () -> String) throws(RecordError) {
    let members: [JSONMember]
    do {
      members = try JSONScanner.scanObject(line)
    } catch {
      throw RecordError(reason: error.kind.rawValue, message: error.description)
    }
    var id: String? = nil
    var idSeen = false  // the last `id` decides, even when it is null
    var textKind: JSONKind? = nil
    for member in members.reversed() {
      if member.key == "id", !idSeen {
        idSeen = true
        switch member.kind {
        case .string:
          id = JSONString.decode(line, range: member.value)
        case .number:
          id = String(decoding: UnsafeBufferPointer(rebasing: line[member.value]), as: UTF8.self)
        case .null:
          id = nil
        default:
          throw RecordError(reason: "id_not_scalar", message: "the id field is \(member.kind), expected a string")
        }
      } else if member.key == "text", textKind == nil {
        textKind = member.kind
      }
    }
    guard let textKind else {
      throw RecordError(reason: "missing_text", message: "the record has no text field", recordID: id)
    }
    guard textKind == .string else {
      throw RecordError(
        reason: "text_not_string", message: "the text field is \(textKind), expected a string", recordID: id)
    }
    self.raw = Array(line)
    self.members = members
    if let id, !id.isEmpty {
      self.id = id
      self.idIsGenerated = false
    } else {
      self.id = fallbackID()
      self.idIsGenerated = true
    }
  }

  // MARK: Fields

  /// The document text. Reading decodes it from the original bytes unless a stage replaced it;
  /// read it once per stage.
  public var text: String {
    get {
      if let newText { return newText }
      guard let member = lastMember("text") else { return "" }
      return raw.withUnsafeBufferPointer { JSONString.decode($0, range: member.value) }
    }
    // Bytes, not `==`: Swift's string equality is canonical equivalence, so an NFC rewrite
    // of NFD text would otherwise be dropped as "unchanged".
    set {
      var candidate = newValue
      let unchanged = withTextUTF8 { old in candidate.withUTF8 { $0.count == old.count && $0.elementsEqual(old) } }
      guard !unchanged else { return }
      newText = newValue
      isModifiedInStage = true
    }
  }

  /// Calls `body` with the text's UTF-8 bytes without making a `String`: the original bytes
  /// when the text has no escapes (the common case), else a temporary decoded copy.
  public func withTextUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
    if var newText { return try newText.withUTF8(body) }
    guard let member = lastMember("text") else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
    return try raw.withUnsafeBufferPointer { try JSONString.withDecodedBytes($0, range: member.value, body) }
  }

  /// Whether a stage changed this record since it was read.
  public var isModified: Bool {
    newText != nil || !metadataChanges.isEmpty || !fieldChanges.isEmpty
  }

  /// The value of a metadata key, decoded from the original bytes or a stage's change.
  public func metadata(_ key: String) -> JSONValue? {
    if let change = metadataChanges.last(where: { $0.key == key }) { return change.value }
    guard let member = lastMember("metadata"), member.kind == .object else { return nil }
    return raw.withUnsafeBufferPointer { buffer -> JSONValue? in
      guard let inner = try? JSONScanner.members(ofObjectIn: buffer, range: member.value) else { return nil }
      guard let found = inner.last(where: { $0.key == key }) else { return nil }
      return JSONValue.parse(validated: buffer, range: found.value)
    }
  }

  /// The value of metadata `key` as the name of a group (a language, a source): strings as
  /// they are, numbers and booleans as JSON text, absent, null or empty as `unknown`.
  public func groupName(metadataKey key: String) -> String {
    switch metadata(key) {
    case .string(let value)?: return value.isEmpty ? Self.unknownGroup : value
    case nil, .null?: return Self.unknownGroup
    case let other?: return other.jsonText
    }
  }

  /// The group of records without a value for the grouping key.
  public static let unknownGroup = "unknown"

  /// Sets (or with `nil` removes) a metadata key.
  public mutating func setMetadata(_ key: String, _ value: JSONValue?) {
    let current = generation
    metadataChanges.removeAll { $0.key == key && $0.generation == current }
    metadataChanges.append((key, value, current))
    isModifiedInStage = true
  }

  /// Starts the next stage's changes, in a fused chain where one record goes through several
  /// stages without being written in between. The record then writes exactly the bytes it
  /// would have had if each stage had read the one before's output from disk: a metadata key
  /// that an earlier stage added keeps its place when a later stage sets it again, as a key
  /// read from the line does.
  public mutating func beginStage() {
    if !metadataChanges.isEmpty { generation += 1 }
    isModifiedInStage = false
  }

  /// The whole metadata object, with stages' changes applied.
  public var metadataObject: JSONObject {
    raw.withUnsafeBufferPointer { buffer in
      var object = JSONObject()
      for (key, source) in metadataLayout(original: lastMember("metadata"), buffer: buffer) {
        switch source {
        case .raw(let range): object[key] = JSONValue.parse(validated: buffer, range: range)
        case .value(let value): object[key] = value
        }
      }
      return object
    }
  }

  /// The value of any top-level field (`id`, `text` and `metadata` included).
  public func field(_ key: String) -> JSONValue? {
    if key == "text" { return .string(text) }
    if key == "metadata" { return .object(metadataObject) }
    if key == "id", idIsGenerated { return .string(id) }
    if let change = fieldChanges.last(where: { $0.key == key }) { return change.value }
    guard let member = lastMember(key) else { return key == "id" ? .string(id) : nil }
    return raw.withUnsafeBufferPointer { JSONValue.parse(validated: $0, range: member.value) }
  }

  /// Sets (or with `nil` removes) a top-level field other than `id`, `text` and `metadata`.
  public mutating func setField(_ key: String, _ value: JSONValue?) {
    precondition(key != "id" && key != "text" && key != "metadata", "use text and setMetadata")
    fieldChanges.removeAll { $0.key == key }
    fieldChanges.append((key, value))
    isModifiedInStage = true
  }

  private func lastMember(_ key: String) -> JSONMember? {
    members.last { $0.key == key }
  }

  // MARK: Writing

  /// Appends the record as one line of JSON (without the newline) to `out`.
  ///
  /// Members nobody changed are copied from the original bytes; a generated id is written
  /// first; changed metadata keys replace the old ones in place, new ones go at the end.
  public func write(to out: inout [UInt8]) {
    if !idIsGenerated && !isModified {
      out.append(contentsOf: raw)
      return
    }
    raw.withUnsafeBufferPointer { buffer in
      out.append(UInt8(ascii: "{"))
      var first = true
      func separator() {
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
      }
      if idIsGenerated {
        separator()
        JSONString.append("id", to: &out)
        out.append(UInt8(ascii: ":"))
        JSONString.append(id, to: &out)
      }
      var wroteMetadata = false
      for (index, member) in members.enumerated() {
        // A repeated key is written once, with its last value, as JSON readers would see it.
        if members[(index + 1)...].contains(where: { $0.key == member.key }) { continue }
        if member.key == "id" && idIsGenerated { continue }
        if let change = fieldChanges.last(where: { $0.key == member.key }) {
          if let value = change.value {
            separator()
            JSONString.append(member.key, to: &out)
            out.append(UInt8(ascii: ":"))
            value.write(to: &out)
          }
          continue
        }
        separator()
        JSONString.append(member.key, to: &out)
        out.append(UInt8(ascii: ":"))
        if member.key == "text", let newText {
          JSONString.append(newText, to: &out)
        } else if member.key == "metadata", !metadataChanges.isEmpty {
          writeMetadata(original: member, buffer: buffer, to: &out)
          wroteMetadata = true
        } else {
          out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[member.value]))
        }
      }
      if !wroteMetadata && !metadataChanges.isEmpty {
        separator()
        JSONString.append("metadata", to: &out)
        out.append(UInt8(ascii: ":"))
        writeMetadata(original: nil, buffer: buffer, to: &out)
      }
      for change in fieldChanges where !members.contains(where: { $0.key == change.key }) {
        guard let value = change.value else { continue }
        separator()
        JSONString.append(change.key, to: &out)
        out.append(UInt8(ascii: ":"))
        value.write(to: &out)
      }
      out.append(UInt8(ascii: "}"))
    }
  }

  private func writeMetadata(original: JSONMember?, buffer: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "{"))
    var first = true
    func separator() {
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
    }
    guard let last = metadataChanges.last, metadataChanges.first?.generation == last.generation else {
      // Changes from several stages of a fused chain: apply them generation by generation.
      for (key, source) in metadataLayout(original: original, buffer: buffer) {
        separator()
        JSONString.append(key, to: &out)
        out.append(UInt8(ascii: ":"))
        switch source {
        case .raw(let range): out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[range]))
        case .value(let value): value.write(to: &out)
        }
      }
      out.append(UInt8(ascii: "}"))
      return
    }
    // The common case, one stage's changes: the original members in place (changed ones with
    // their new value), then the new keys in the order they were set, without building a layout.
    var written = Set<String>()
    if let original, original.kind == .object,
      let inner = try? JSONScanner.members(ofObjectIn: buffer, range: original.value)
    {
      for (index, member) in inner.enumerated() {
        if inner[(index + 1)...].contains(where: { $0.key == member.key }) { continue }
        if let change = metadataChanges.last(where: { $0.key == member.key }) {
          written.insert(member.key)
          guard let value = change.value else { continue }
          separator()
          JSONString.append(member.key, to: &out)
          out.append(UInt8(ascii: ":"))
          value.write(to: &out)
        } else {
          separator()
          JSONString.append(member.key, to: &out)
          out.append(UInt8(ascii: ":"))
          out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[member.value]))
        }
      }
    }
    for change in metadataChanges where !written.contains(change.key) {
      guard let value = change.value else { continue }
      separator()
      JSONString.append(change.key, to: &out)
      out.append(UInt8(ascii: ":"))
      value.write(to: &out)
    }
    out.append(UInt8(ascii: "}"))
  }

  /// Where a metadata member's value comes from: the original bytes or a stage's change.
  private enum MetadataSource {
    case raw(Range<Int>)
    case value(JSONValue)
  }

  /// The metadata members as written, in order: the original members (a repeated key once,
  /// with its last value), then each generation's changes applied as if the generation had
  /// read the previous one's output from disk: a key already there changes in place (or goes,
  /// for `nil`), a new key goes at the end, in the order the generation last set them.
  private func metadataLayout(
    original: JSONMember?, buffer: UnsafeBufferPointer<UInt8>
  ) -> [(key: String, source: MetadataSource)] {
    var layout: [(key: String, source: MetadataSource)] = []
    if let original, original.kind == .object,
      let inner = try? JSONScanner.members(ofObjectIn: buffer, range: original.value)
    {
      for (index, member) in inner.enumerated() where !inner[(index + 1)...].contains(where: { $0.key == member.key }) {
        layout.append((member.key, .raw(member.value)))
      }
    }
    var start = 0
    while start < metadataChanges.count {
      let current = metadataChanges[start].generation
      var end = start
      while end < metadataChanges.count && metadataChanges[end].generation == current { end += 1 }
      let present = Set(layout.map(\.key))
      for change in metadataChanges[start..<end] where present.contains(change.key) {
        guard let index = layout.firstIndex(where: { $0.key == change.key }) else { continue }
        if let value = change.value {
          layout[index].source = .value(value)
        } else {
          layout.remove(at: index)
        }
      }
      for change in metadataChanges[start..<end] where !present.contains(change.key) {
        if let value = change.value { layout.append((change.key, .value(value))) }
      }
      start = end
    }
    return layout
  }

  /// The record as one line of JSON text (without the newline).
  public var jsonLine: String {
    var out: [UInt8] = []
    write(to: &out)
    return String(decoding: out, as: UTF8.self)
  }
}
