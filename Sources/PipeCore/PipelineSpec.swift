/// A validated pipeline: inputs, stages in a runnable order, and the output.
public struct PipelineSpec: Sendable {
  /// The pipeline's name (also the default run directory name).
  public let name: String
  /// Free text describing the pipeline.
  public let description: String
  /// The run seed: every stage's randomness derives from it.
  public let seed: UInt64
  /// The inputs, in file order.
  public let inputs: [InputSpec]
  /// The stages, in a topological order (file order where the graph allows).
  public let stages: [StageSpec]
  /// The final export.
  public let output: OutputSpec?
  /// The folder relative paths were resolved against.
  public let baseDirectory: String
  /// zstd level of the run's own shards (`data/` and `rejects/`; the export has its own).
  public let shardCompressionLevel: Int
  /// Whether intermediate record shards and artifacts stay after the steps that read them are
  /// done (`false` deletes each as soon as nothing left in the run needs it).
  public let keepIntermediates: Bool

  /// The default `shardCompressionLevel`: run-internal shards are read once or twice and then
  /// exported, so the fastest level saves CPU (about 8% of a quality pipeline's) for files
  /// about 10% larger than at level 3.
  public static let defaultShardCompressionLevel = 1

  /// The stage with id `id`.
  public func stage(_ id: String) -> StageSpec? { stages.first { $0.id == id } }
  /// The input with id `id`.
  public func input(_ id: String) -> InputSpec? { inputs.first { $0.id == id } }
}

/// A named set of input shards.
public struct InputSpec: Sendable {
  /// The id stages refer to.
  public let id: String
  /// The glob patterns as written.
  public let patterns: [String]
  /// The matching files: absolute paths, each pattern's matches sorted, patterns in order,
  /// each file once.
  public let files: [String]
  /// For Parquet files: the column holding the text (`textColumn`, default `text`).
  public var textColumn: String = "text"
  /// For Parquet files: the column holding the id (`idColumn`, default `id`).
  public var idColumn: String = "id"
}

/// One node of the graph.
public struct StageSpec: Sendable {
  /// The stage id.
  public let id: String
  /// The op.
  public let op: OpDescriptor
  /// Ids of inputs or stages feeding this stage, in order; the stage's shards are their
  /// shards concatenated in this order.
  public let inputs: [String]
  /// The resolved config.
  public let config: StageConfig
  /// Position in the pipeline file's `stages` array (for JSON paths in messages).
  public let index: Int
  /// The stage, built once from the config during validation (so `pipe validate` reports what
  /// only the op can check, and costly set-up such as loading an index happens once).
  public let implementation: StageImplementation
  /// Whether the stage's kept records are written to disk even when the next stage reads them
  /// in the same pass (`"materialize": true`).
  public let materialize: Bool
}

/// The final export: the output of one stage, resharded by size.
public struct OutputSpec: Sendable {
  /// The stage whose output is exported.
  public let from: String
  /// The output folder, relative to the run directory unless absolute.
  public let path: String
  /// Target uncompressed bytes per output shard.
  public let targetShardBytes: Int
  /// zstd level of output shards.
  public let compressionLevel: Int
  /// The chat-format copy written beside the records, if asked for.
  public let chat: ChatExport?
}

/// The export's copy of instruction data in the chat convention that fine-tuning tools read:
/// one `{"id", "messages": [{"role": "user", ...}, {"role": "assistant", ...}], "metadata"}`
/// per line, in `chat-NNNNN.jsonl` files beside the record shards (uncompressed, as those tools
/// expect). The metadata keeps the record's provenance, minus the fields that became turns.
public struct ChatExport: Sendable, Equatable {
  /// Where a turn's text comes from: `text`, or `metadata.KEY`.
  public let user: String
  /// Where the answer comes from.
  public let assistant: String
  /// A fixed system message put first, if any.
  public let system: String?

  /// The fields a chat export may read.
  static func problem(field: String) -> String? {
    field == "text" || (field.hasPrefix("metadata.") && field.count > 9)
      ? nil : "expected \"text\" or \"metadata.KEY\", got \"\(field)\""
  }
}

/// A pipeline file with problems; `issues` lists every one, by JSON path.
public struct PipelineValidationError: Error, Sendable, CustomStringConvertible {
  /// The pipeline file.
  public let file: String
  /// Every problem found.
  public let issues: [ValidationIssue]

  /// One problem per line, each prefixed with the file.
  public var description: String {
    issues.map { "\(file): \($0)" }.joined(separator: "\n")
  }
}

/// Reads and validates pipeline files.
public enum PipelineLoader {
  /// Identifiers for pipelines, inputs and stages: they become folder names and SQL values.
  static func isValidIdentifier(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, text.utf8.count <= 64 else { return false }
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.".unicodeScalars)
    return text.unicodeScalars.allSatisfy { allowed.contains($0) } && first != "." && first != "-"
  }

  /// Why `text` is not a valid identifier, for a `what` ("name", "id").
  static func badIdentifier(_ text: String, _ what: String) -> String {
    "\"\(text)\" is not a valid \(what): use letters, digits, '_', '-' and '.' (at most 64)"
  }

  /// Validates a parsed pipeline document.
  ///
  /// - Parameters:
  ///   - document: the parsed JSON.
  ///   - file: the pipeline file's path, for messages.
  ///   - baseDirectory: the folder relative paths resolve against (the pipeline file's folder).
  ///   - registry: the known ops.
  ///   - expandGlob: expands a pattern relative to a folder into sorted absolute paths.
  /// - Throws: `PipelineValidationError` listing every problem.
  public static func validate(
    _ document: JSONValue, file: String, baseDirectory: String, registry: OpRegistry,
    expandGlob: (String, String) throws -> [String]
  ) throws(PipelineValidationError) -> PipelineSpec {
    var issues: [ValidationIssue] = []
    func issue(_ path: String, _ message: String) { issues.append(ValidationIssue(path: path, message)) }

    guard let root = document.objectValue else {
      throw PipelineValidationError(
        file: file, issues: [ValidationIssue(path: "$", "expected an object, got \(document.typeDescription)")])
    }
    let top = resolve(
      PipelineOptions.self, root, path: "", structural: ["inputs", "stages", "output"], into: &issues)
    // Inputs
    var inputs: [InputSpec] = []
    var ids: [String: String] = [:]  // id -> path where defined
    if let value = root["inputs"] {
      if let array = value.arrayValue {
        if array.isEmpty { issue("inputs", "expected at least one input") }
        for (index, element) in array.enumerated() {
          let path = "inputs[\(index)]"
          guard let object = element.objectValue else {
            issue(path, "expected an object with \"id\" and \"paths\", got \(element.typeDescription)")
            continue
          }
          checkKeys(object, allowed: ["id", "paths", "textColumn", "idColumn"], path: path, into: &issues)
          var columns: [String: String] = [:]
          for key in ["textColumn", "idColumn"] {
            guard let value = object[key] else { continue }
            if let name = value.stringValue, !name.isEmpty {
              columns[key] = name
            } else {
              issue("\(path).\(key)", "expected a column name (a non-empty string), got \(value.typeDescription)")
            }
          }
          let id = identifier(object["id"], path: "\(path).id", into: &issues)
          if let id {
            if let earlier = ids[id] { issue("\(path).id", "duplicate id \"\(id)\" (also at \(earlier))") }
            ids[id] = "\(path).id"
          }
          var patterns: [String] = []
          var patternPaths: [String] = []  // JSON path of each pattern: bad elements are skipped
          switch object["paths"] {
          case .array(let elements)?:
            if elements.isEmpty { issue("\(path).paths", "expected at least one path or glob") }
            for (patternIndex, pattern) in elements.enumerated() {
              if let text = pattern.stringValue, !text.isEmpty {
                patterns.append(text)
                patternPaths.append("\(path).paths[\(patternIndex)]")
              } else {
                issue("\(path).paths[\(patternIndex)]", "expected a non-empty string, got \(pattern.typeDescription)")
              }
            }
          case .string(let text)?:
            patterns = [text]
            patternPaths = ["\(path).paths"]
          case nil: issue("\(path).paths", "required key is missing: expected an array of globs")
          case let other?: issue("\(path).paths", "expected an array of globs, got \(other.typeDescription)")
          }
          var files: [String] = []
          var seen = Set<String>()
          for (pattern, patternPath) in zip(patterns, patternPaths) {
            do {
              let matches = try expandGlob(pattern, baseDirectory)
              if matches.isEmpty {
                issue(
                  patternPath,
                  "\"\(pattern)\" matches no file (relative paths resolve against \(baseDirectory))")
              }
              for match in matches where seen.insert(match).inserted { files.append(match) }
            } catch {
              issue(patternPath, "cannot expand \"\(pattern)\": \(error)")
            }
          }
          if let id {
            var input = InputSpec(id: id, patterns: patterns, files: files)
            input.textColumn = columns["textColumn"] ?? input.textColumn
            input.idColumn = columns["idColumn"] ?? input.idColumn
            inputs.append(input)
          }
        }
      } else {
        issue("inputs", "expected an array of inputs, got \(value.typeDescription)")
      }
    } else {
      issue("inputs", "required key is missing: expected an array of inputs")
    }

    // Stages
    struct Draft {
      let id: String
      let op: OpDescriptor
      let inputs: [String]
      let config: StageConfig
      let index: Int
      let implementation: StageImplementation
      let materialize: Bool
    }
    var drafts: [Draft] = []
    // `positions`: each input id's index in the file's array (elements that are not strings are skipped).
    var stageInputs: [(index: Int, id: String?, inputs: [String], positions: [Int])] = []
    if let value = root["stages"] {
      if let array = value.arrayValue {
        if array.isEmpty { issue("stages", "expected at least one stage") }
        for (index, element) in array.enumerated() {
          let path = "stages[\(index)]"
          guard let object = element.objectValue else {
            issue(path, "expected an object with \"id\", \"op\", \"inputs\", got \(element.typeDescription)")
            continue
          }
          let options = resolve(
            StageOptions.self, object, path: path, structural: ["id", "op", "inputs", "config"], into: &issues)
          let id = identifier(object["id"], path: "\(path).id", into: &issues)
          if let id {
            if let earlier = ids[id] { issue("\(path).id", "duplicate id \"\(id)\" (also at \(earlier))") }
            ids[id] = "\(path).id"
          }
          var op: OpDescriptor? = nil
          switch object["op"] {
          case .string(let reference)?:
            if !reference.contains("@") {
              let newest = registry.op(reference).map { " (newest: \($0.qualifiedName))" } ?? ""
              issue("\(path).op", "\"\(reference)\" needs a version, as in \"\(reference)@1\"\(newest)")
            } else if let found = registry.op(reference) {
              op = found
            } else {
              // Not `split(...)[0]`: "@" splits into no parts at all.
              let name = String(reference.prefix { $0 != "@" })
              let versions = registry.ops.filter { $0.name == name }.map(\.qualifiedName)
              let hint =
                versions.isEmpty
                ? "run `pipe ops` for the list" : "known versions: \(versions.joined(separator: ", "))"
              issue("\(path).op", "unknown op \"\(reference)\": \(hint)")
            }
          case nil: issue("\(path).op", "required key is missing: expected \"name@version\"")
          case let other?: issue("\(path).op", "expected a string \"name@version\", got \(other.typeDescription)")
          }
          var inputIDs: [String] = []
          var inputPositions: [Int] = []
          switch object["inputs"] {
          case .array(let elements)?:
            if elements.isEmpty { issue("\(path).inputs", "expected at least one input id") }
            for (inputIndex, element) in elements.enumerated() {
              if let text = element.stringValue {
                inputIDs.append(text)
                inputPositions.append(inputIndex)
              } else {
                issue("\(path).inputs[\(inputIndex)]", "expected a string id, got \(element.typeDescription)")
              }
            }
            if Set(inputIDs).count != inputIDs.count { issue("\(path).inputs", "an input id is listed twice") }
          case nil: issue("\(path).inputs", "required key is missing: expected an array of input or stage ids")
          case let other?: issue("\(path).inputs", "expected an array of ids, got \(other.typeDescription)")
          }
          var config = JSONObject()
          if let value = object["config"] {
            if let configObject = value.objectValue {
              config = configObject
            } else {
              issue("\(path).config", "expected an object, got \(value.typeDescription)")
            }
          }
          stageInputs.append((index, id, inputIDs, inputPositions))
          if let op {
            let (resolved, configIssues) = op.resolve(
              config, path: "\(path).config", baseDirectory: baseDirectory)
            issues += configIssues
            if let resolved, let id {
              do {
                let implementation = try op.make(resolved)
                drafts.append(
                  Draft(
                    id: id, op: op, inputs: inputIDs, config: resolved, index: index, implementation: implementation,
                    materialize: options?.materialize ?? false))
              } catch let error as ConfigValueError {
                issue("\(path).config.\(error.keyPath)", error.message)
              } catch let error as PipeError {
                var message = error.message
                if let file = error.file { message += " (\(file)\(error.line.map { ":\($0)" } ?? ""))" }
                issue("\(path).config", message)
              } catch {
                issue("\(path).config", "\(error)")
              }
            }
          }
        }
      } else {
        issue("stages", "expected an array of stages, got \(value.typeDescription)")
      }
    } else {
      issue("stages", "required key is missing: expected an array of stages")
    }

    // References and cycles
    for entry in stageInputs {
      for (reference, position) in zip(entry.inputs, entry.positions) where ids[reference] == nil {
        issue(
          "stages[\(entry.index)].inputs[\(position)]",
          "\"\(reference)\" is neither an input nor a stage id")
      }
      if let id = entry.id, entry.inputs.contains(id) {
        issue("stages[\(entry.index)].inputs", "stage \"\(id)\" lists itself as an input")
      }
    }
    // Artifacts of other stages: the stage that makes each must exist, make it, and come first.
    var references: [String: [String]] = [:]
    for draft in drafts {
      guard case .steps(let plan) = draft.implementation else { continue }
      for use in plan.uses {
        let maker: Draft?
        let path: String
        switch use.source {
        case .input:
          path = "stages[\(draft.index)].inputs"
          maker = draft.inputs.count == 1 ? drafts.first { $0.id == draft.inputs[0] } : nil
          guard let maker, maker.implementation.makes(use.artifact) else {
            issue(
              path, "\(draft.op.qualifiedName) reads exactly one stage, \(use.maker), whose \(use.artifact) it uses")
            continue
          }
        case .configKey(let key, let id):
          path = "stages[\(draft.index)].config.\(key)"
          maker = drafts.first { $0.id == id }
          guard let maker else {
            issue(path, "\"\(id)\" is not a stage id")
            continue
          }
          guard maker.implementation.makes(use.artifact) else {
            issue(
              path, "stage \"\(id)\" (\(maker.op.qualifiedName)) makes no \(use.artifact); name \(use.maker)")
            continue
          }
          if id == draft.id {
            issue(path, "a stage cannot use its own artifact")
            continue
          }
        }
        if let maker {
          references[draft.id, default: []].append(maker.id)
          for key in use.sharedKeys {
            guard let value = draft.config.values[key], value != .null else { continue }
            let made = maker.config.values[key] ?? .null
            if made != value {
              issue(
                "stages[\(draft.index)].config.\(key)",
                "is \(value.jsonText) but stage \"\(maker.id)\" made its \(use.artifact) with \(key) "
                  + "\(made == .null ? "unset" : made.jsonText); set the same \(key) in both")
            }
          }
        }
      }
    }
    let order = topologicalOrder(
      stageInputs.compactMap { entry in
        entry.id.map { ($0, entry.inputs + (references[$0] ?? []), entry.index) }
      })
    if let cycle = order.cycle {
      issue("stages[\(cycle.index)].inputs", "cycle: \(cycle.path.joined(separator: " -> "))")
    }

    // Output
    var output: OutputSpec? = nil
    if let value = root["output"] {
      if let object = value.objectValue {
        let options = resolve(OutputOptions.self, object, path: "output", structural: [], into: &issues)
        // `from` is checked even when another output key is wrong, so every problem shows.
        if let from = object["from"]?.stringValue,
          !(drafts.contains(where: { $0.id == from }) || stageInputs.contains(where: { $0.id == from }))
        {
          issue("output.from", "\"\(from)\" is not a stage id")
        } else if let options {
          var chat: ChatExport? = nil
          if let chatOptions = options.chat {
            let known = ["user", "assistant", "system"]
            for key in chatOptions.keys where !known.contains(key) {
              issue("output.chat.\(key)", "unknown key (known: \(known.joined(separator: ", ")))")
            }
            func field(_ key: String, _ fallback: String) -> String {
              guard let value = chatOptions[key] else { return fallback }
              guard let text = value.stringValue else {
                issue("output.chat.\(key)", "expected \"text\" or \"metadata.KEY\", got \(value.typeDescription)")
                return fallback
              }
              if let problem = ChatExport.problem(field: text) { issue("output.chat.\(key)", problem) }
              return text
            }
            let system = chatOptions["system"]
            if let system, system.stringValue == nil, system != .null {
              issue("output.chat.system", "expected a string (the system message), got \(system.typeDescription)")
            }
            chat = ChatExport(
              user: field("user", "metadata.instruction"), assistant: field("assistant", "metadata.response"),
              system: system?.stringValue)
          }
          output = OutputSpec(
            from: options.from, path: options.path, targetShardBytes: options.targetShardBytes,
            compressionLevel: options.compressionLevel, chat: chat)
        }
      } else {
        issue("output", "expected an object, got \(value.typeDescription)")
      }
    }

    guard issues.isEmpty else { throw PipelineValidationError(file: file, issues: issues) }
    let byID = Dictionary(drafts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    let stages = order.ids.compactMap { byID[$0] }.map {
      StageSpec(
        id: $0.id, op: $0.op, inputs: $0.inputs, config: $0.config, index: $0.index,
        implementation: $0.implementation, materialize: $0.materialize)
    }
    guard let top else { throw PipelineValidationError(file: file, issues: issues) }
    return PipelineSpec(
      name: top.name, description: top.description, seed: UInt64(top.seed), inputs: inputs, stages: stages,
      output: output, baseDirectory: baseDirectory, shardCompressionLevel: top.shardCompressionLevel,
      keepIntermediates: top.keepIntermediates)
  }

  /// Resolves the keys of `Options` in `object` (at `path`), adding every problem to `issues`;
  /// `structural` keys are allowed and read by the caller.
  private static func resolve<Options: ConfigSchema>(
    _ options: Options.Type, _ object: JSONObject, path: String, structural: [String],
    into issues: inout [ValidationIssue]
  ) -> Options? {
    let keys = Options.keys
    let allowed = (keys.map(\.name) + structural).joined(separator: ", ")
    let (values, found) = ConfigKey.resolve(
      object, keys: keys, path: path, allowing: structural,
      unknownKey: { _ in "unknown key (expected one of: \(allowed))" },
      baseDirectory: nil)
    issues += found
    return values.map { Options(resolved: StageConfig(values: $0, keys: keys)) }
  }

  private static func checkKeys(
    _ object: JSONObject, allowed: [String], path: String, into issues: inout [ValidationIssue]
  ) {
    for key in object.keys where !allowed.contains(key) {
      let location = path.isEmpty ? key : "\(path).\(key)"
      issues.append(
        ValidationIssue(path: location, "unknown key (expected one of: \(allowed.joined(separator: ", ")))"))
    }
  }

  private static func identifier(_ value: JSONValue?, path: String, into issues: inout [ValidationIssue]) -> String? {
    switch value {
    case .string(let text)? where isValidIdentifier(text): return text
    case .string(let text)?:
      issues.append(ValidationIssue(path: path, badIdentifier(text, "id")))
    case nil: issues.append(ValidationIssue(path: path, "required key is missing: expected a string id"))
    case let other?: issues.append(ValidationIssue(path: path, "expected a string id, got \(other.typeDescription)"))
    }
    return nil
  }

  /// Kahn's algorithm, taking stages in file order whenever several are ready, so the order
  /// is stable; reports one cycle if there is any.
  static func topologicalOrder(
    _ nodes: [(id: String, inputs: [String], index: Int)]
  ) -> (ids: [String], cycle: (index: Int, path: [String])?) {
    let known = Set(nodes.map(\.id))
    var remaining = nodes
    var done = Set<String>()
    var order: [String] = []
    while !remaining.isEmpty {
      guard
        let next = remaining.firstIndex(where: { node in
          // A stage listing itself is reported on its own, not as a cycle.
          node.inputs.allSatisfy { $0 == node.id || !known.contains($0) || done.contains($0) }
        })
      else {
        // Everything left waits on something left: walk the first node's inputs to a repeat.
        let byID = Dictionary(remaining.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var path = [remaining[0].id]
        var current = remaining[0]
        while let nextID = current.inputs.first(where: { $0 != current.id && byID[$0] != nil }),
          let node = byID[nextID]
        {
          if let start = path.firstIndex(of: nextID) {
            let cycle = Array(path[start...]) + [nextID]
            let first = byID[cycle[0]]?.index ?? remaining[0].index
            return (order, (first, cycle))
          }
          path.append(nextID)
          current = node
        }
        return (order, (remaining[0].index, path))
      }
      let node = remaining.remove(at: next)
      done.insert(node.id)
      order.append(node.id)
    }
    return (order, nil)
  }
}

/// The pipeline file's own keys (besides `inputs`, `stages` and `output`).
struct PipelineOptions: ConfigSchema {
  @Setting(
    required: "The pipeline's name (also the default run directory name).",
    check: { PipelineLoader.isValidIdentifier($0) ? nil : PipelineLoader.badIdentifier($0, "name") })
  var name: String
  @Setting("", "Free text describing the pipeline.") var description: String
  @Setting(0, in: 0...Int.max, "The run seed: every stage's randomness derives from it.") var seed: Int
  @Setting(
    PipelineSpec.defaultShardCompressionLevel, in: 1...19,
    "zstd level of the run's own shards (data/ and rejects/); the export has its own.")
  var shardCompressionLevel: Int
  @Setting(
    true,
    "Keep intermediate shards and artifacts after use; false deletes each once nothing left in the run reads it.",
    affectsOutput: false)
  var keepIntermediates: Bool
}

/// A stage's own keys (besides `id`, `op`, `inputs` and `config`).
struct StageOptions: ConfigSchema {
  @Setting("", "Free text describing the stage.") var description: String
  @Setting(
    false, "Write the stage's kept records to disk even when the next stage reads them in the same pass.",
    affectsOutput: false)
  var materialize: Bool
}

/// The keys of the pipeline's `output`.
struct OutputOptions: ConfigSchema {
  @Setting(required: "The stage whose output is exported.") var from: String
  @Setting(
    "output", "The output folder, relative to the run directory unless absolute.",
    check: { $0.isEmpty ? "expected a non-empty string, got \"\"" : nil })
  var path: String
  @Setting(128 << 20, in: 1024...Int.max, "Target uncompressed bytes per output shard.") var targetShardBytes: Int
  @Setting(3, in: 1...19, "zstd level of output shards.") var compressionLevel: Int
  @Setting(
    nil,
    "Also write the records as chat conversations (chat-NNNNN.jsonl): {user, assistant, system}; user and "
      + "assistant are \"text\" or \"metadata.KEY\" (default metadata.instruction and metadata.response).")
  var chat: JSONObject?
}

extension StageImplementation {
  /// Whether the stage's steps write an artifact named `artifact`.
  func makes(_ artifact: String) -> Bool {
    guard case .steps(let plan) = self else { return false }
    return plan.artifacts.contains { $0.name == artifact }
  }
}
