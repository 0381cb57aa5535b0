public import PipeCore

/// Parquet's physical types.
enum ParquetType: Int64 {
  case boolean = 0, int32, int64, int96, float, double, byteArray, fixedLengthByteArray
}

/// One leaf column, with what row assembly needs: its levels and how to write its values.
struct ParquetLeaf {
  /// Dotted path in the schema (for messages).
  let path: String
  let type: ParquetType
  let typeLength: Int
  /// Whether BYTE_ARRAY values are text (UTF8 / STRING / JSON / ENUM annotations).
  let isText: Bool
  let maxDefinition: Int
  let maxRepetition: Int
}

/// A top-level field of the file's schema as a record column.
struct ParquetField {
  enum Shape {
    /// A primitive value; null when its definition level is below `valueDefinition`.
    case scalar
    /// A list of primitives: null below `listDefinition` (the list group's own level), empty
    /// at it, else elements (each null below the leaf's maximum definition level).
    case list(listDefinition: Int)
  }
  let name: String
  let shape: Shape
  /// Index into the row group's column chunks.
  let leaf: Int
}

/// A column chunk: where its pages are and how they are compressed.
struct ParquetChunk {
  let leaf: Int
  let codec: Int64
  let start: Int64
  let length: Int64
  let values: Int64
}

/// Builds the errors about one Parquet file: damage (`corruptInput`) or a feature pipe does
/// not read (`input`), both naming the file and, with `within`, the row group and column.
struct ParquetErrors {
  let path: String
  var context = ""

  func damaged(_ message: String) -> PipeError {
    PipeError(.corruptInput, "Parquet: " + context + message, file: path)
  }

  func unsupported(_ message: String) -> PipeError {
    PipeError(.input, "Parquet: " + context + message, file: path)
  }

  func within(_ more: String) -> ParquetErrors { ParquetErrors(path: path, context: context + more + ": ") }
}

/// The footer of a Parquet file: schema, row groups and their column chunks.
struct ParquetMetadata {
  let rows: Int64
  let leaves: [ParquetLeaf]
  let fields: [ParquetField]
  /// Per row group: its rows and its chunks by leaf.
  let rowGroups: [(rows: Int64, chunks: [ParquetChunk])]
  let createdBy: String?

  /// Decodes FileMetaData from `bytes`.
  init(_ bytes: [UInt8], errors: ParquetErrors) throws {
    var reader = ThriftCompactReader(bytes)
    let root: [Int16: ThriftValue]
    do {
      root = try reader.readStruct().fields ?? [:]
    } catch {
      throw errors.damaged("the footer's metadata is not valid Thrift (\(error.message)): the file is damaged")
    }
    guard let schema = root[2]?.list, !schema.isEmpty, let rows = root[3]?.int else {
      throw errors.damaged("the footer's metadata has no schema or row count: the file is damaged")
    }
    self.rows = rows
    createdBy = root[6]?.string

    // The schema is a tree written depth-first; the first element is the root.
    struct Node {
      let name: String
      let type: Int64?
      let typeLength: Int
      let repetition: Int64
      let children: Int
      let converted: Int64?
      let logical: [Int16: ThriftValue]?
    }
    var nodes: [Node] = []
    for element in schema {
      let fields = element.fields ?? [:]
      nodes.append(
        Node(
          name: fields[4]?.string ?? "", type: fields[1]?.int, typeLength: Int(fields[2]?.int ?? 0),
          repetition: fields[3]?.int ?? 0, children: Int(fields[5]?.int ?? 0), converted: fields[6]?.int,
          logical: fields[10]?.fields))
    }
    var leaves: [ParquetLeaf] = []
    var fieldList: [ParquetField] = []
    var index = 1
    // Walks the subtree at `index`, appending its leaves.
    func walk(path: [String], definition: Int, repetition: Int) throws {
      let node = nodes[index]
      index += 1
      let definition = definition + (node.repetition == 0 ? 0 : 1)
      let repetition = repetition + (node.repetition == 2 ? 1 : 0)
      let path = path + [node.name]
      if node.children == 0 {
        guard let raw = node.type, let type = ParquetType(rawValue: raw) else {
          throw errors.damaged("column \(path.joined(separator: ".")): unknown physical type \(node.type ?? -1)")
        }
        // UTF8 (0), ENUM (4), JSON (19); logical STRING (1), ENUM (4), JSON (12).
        let textConverted: Set<Int64> = [0, 4, 19]
        let textLogical: Set<Int16> = [1, 4, 12]
        let isText =
          node.converted.map(textConverted.contains) ?? false
          || (node.logical?.keys.contains(where: textLogical.contains) ?? false)
        leaves.append(
          ParquetLeaf(
            path: path.joined(separator: "."), type: type, typeLength: node.typeLength, isText: isText,
            maxDefinition: definition, maxRepetition: repetition))
        return
      }
      for _ in 0..<node.children {
        guard index < nodes.count else {
          throw errors.damaged("the schema ends inside group \(node.name): the file is damaged")
        }
        try walk(path: path, definition: definition, repetition: repetition)
      }
    }
    let topLevel = nodes[0].children
    for _ in 0..<topLevel {
      guard index < nodes.count else {
        throw errors.damaged("the schema is shorter than its root says: the file is damaged")
      }
      let node = nodes[index]
      let firstLeaf = leaves.count
      try walk(path: [], definition: 0, repetition: 0)
      let added = leaves[firstLeaf...]
      let topDefinition = node.repetition == 1 ? 1 : 0
      if node.children == 0 {
        guard node.repetition != 2 else {
          throw errors.unsupported(
            "column \(node.name): a repeated primitive (a list written without a LIST group) is not supported")
        }
        fieldList.append(ParquetField(name: node.name, shape: .scalar, leaf: firstLeaf))
        continue
      }
      // A list: a group with one repeated child holding one primitive (three levels), or a
      // repeated primitive directly (two levels).
      let isList = node.converted == 3 || node.logical?[3] != nil
      guard isList, added.count == 1, let leaf = added.first, leaf.maxRepetition == 1 else {
        let kind = node.converted == 1 || node.logical?[2] != nil ? "a map" : isList ? "a list of groups" : "a struct"
        throw errors.unsupported(
          "column \(node.name): \(kind) (nested groups) is not supported; pipe reads primitive columns and "
            + "lists of primitives")
      }
      fieldList.append(ParquetField(name: node.name, shape: .list(listDefinition: topDefinition), leaf: firstLeaf))
    }
    self.leaves = leaves
    self.fields = fieldList

    var groups: [(rows: Int64, chunks: [ParquetChunk])] = []
    for (groupIndex, group) in (root[4]?.list ?? []).enumerated() {
      guard let fields = group.fields, let columns = fields[1]?.list, let groupRows = fields[3]?.int else {
        throw errors.damaged("row group \(groupIndex) has no columns or row count: the file is damaged")
      }
      guard columns.count == leaves.count else {
        throw errors.damaged("row group \(groupIndex) has \(columns.count) column chunks for \(leaves.count) columns")
      }
      var chunks: [ParquetChunk] = []
      for (leaf, column) in columns.enumerated() {
        let chunkFields = column.fields ?? [:]
        if let external = chunkFields[1]?.string, !external.isEmpty {
          throw errors.unsupported(
            "column \(leaves[leaf].path) is stored in another file (\(external)), which is not supported")
        }
        guard let meta = chunkFields[3]?.fields, let codec = meta[4]?.int, let values = meta[5]?.int,
          let compressed = meta[7]?.int, let dataOffset = meta[9]?.int
        else { throw errors.damaged("row group \(groupIndex), column \(leaves[leaf].path): no chunk metadata") }
        var start = dataOffset
        if let dictionary = meta[11]?.int, dictionary > 0, dictionary < dataOffset { start = dictionary }
        chunks.append(ParquetChunk(leaf: leaf, codec: codec, start: start, length: compressed, values: values))
      }
      groups.append((groupRows, chunks))
    }
    rowGroups = groups
  }
}
