import Foundation

/// The type of a config value, with its allowed range.
public enum ConfigType: Sendable {
  /// An integer in `range`.
  case int(ClosedRange<Int>)
  /// A number in `range`.
  case double(ClosedRange<Double>)
  /// `true` or `false`.
  case bool
  /// Any string.
  case string
  /// One of these strings.
  case choice([String])
  /// An array of strings.
  case strings
  /// An array of file paths, each `PATH` or `NAME=PATH`. Relative paths resolve against the
  /// pipeline file's folder, a missing file is a validation error, and each file's size and
  /// modification time enter the stage's fingerprint, so editing a file reruns the stage.
  case files
  /// A JSON object; the op checks its members when it builds the stage and reports problems
  /// with `ConfigValueError`, so they still carry a JSON path.
  case object
  /// Any JSON value (an array of objects, say); the op checks it when it builds the stage.
  case json(String)
  /// The id of another stage of the pipeline whose artifact this stage uses (a trained
  /// model); it runs first, and retraining it reruns this stage.
  case stage

  /// How the type reads in error messages and `pipe ops`.
  public var description: String {
    switch self {
    case .int(let range):
      return "an integer in \(Self.format(range.lowerBound))...\(Self.format(range.upperBound))"
    case .double(let range):
      return "a number in \(Self.format(range.lowerBound))...\(Self.format(range.upperBound))"
    case .bool: return "a boolean"
    case .string: return "a string"
    case .choice(let options): return "one of " + options.map { "\"\($0)\"" }.joined(separator: ", ")
    case .strings: return "an array of strings"
    case .files: return "an array of file paths (PATH or NAME=PATH, relative to the pipeline file)"
    case .object: return "an object"
    case .stage: return "a stage id"
    case .json(let description): return description
    }
  }

  private static func format(_ value: Int) -> String {
    if value == Int.max { return "max" }
    return String(value)
  }

  private static func format(_ value: Double) -> String {
    if value == .infinity { return "inf" }
    if value == -.infinity { return "-inf" }
    return JSONValue.formatDouble(value)
  }
}

/// A problem inside a config value that the schema alone cannot see (a share that is not a
/// number, a curve with one point), thrown by an op's `make`; the pipeline loader reports it at
/// `stages[i].config.` + `keyPath`.
public struct ConfigValueError: Error, Sendable, CustomStringConvertible {
  /// Where inside the config: `caps.php`, `curves.go[2]`.
  public var keyPath: String
  /// What is wrong and what is expected.
  public var message: String

  /// Creates an error.
  public init(_ keyPath: String, _ message: String) {
    self.keyPath = keyPath
    self.message = message
  }

  /// `keyPath: message`.
  public var description: String { "\(keyPath): \(message)" }
}

/// One key of an op's config: its type, default and one-line documentation.
public struct ConfigKey: Sendable {
  /// The key as written in the pipeline file (camelCase).
  public let name: String
  /// Its type and range.
  public let type: ConfigType
  /// The value used when the key is absent; `nil` makes the key required.
  public let defaultValue: JSONValue?
  /// One line of documentation.
  public let doc: String

  /// Creates a key.
  public init(_ name: String, _ type: ConfigType, default defaultValue: JSONValue?, _ doc: String) {
    self.name = name
    self.type = type
    self.defaultValue = defaultValue
    self.doc = doc
  }
}

/// A problem in a pipeline file, located by JSON path (`stages[2].config.minWords`).
public struct ValidationIssue: Sendable, Equatable, CustomStringConvertible {
  /// Where: a JSON path from the document root.
  public var path: String
  /// What is wrong, and what is expected.
  public var message: String

  /// Creates an issue.
  public init(path: String, _ message: String) {
    self.path = path
    self.message = message
  }

  /// `path: message`.
  public var description: String { "\(path): \(message)" }
}

/// One entry of a `.files` config value: `PATH` or `NAME=PATH`.
public struct FileReference: Sendable, Equatable {
  /// The name given before `=`, if any.
  public let name: String?
  /// The path (absolute once resolved against a base directory).
  public let path: String

  /// Parses `text`, making a relative path absolute against `baseDirectory` when given.
  public init(_ text: String, baseDirectory: String? = nil) {
    var name: String? = nil
    var path = text
    // NAME=PATH, where NAME is an identifier (so a path containing '=' still parses).
    if let equals = text.firstIndex(of: "="), !text[..<equals].isEmpty,
      text[..<equals].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) })
    {
      name = String(text[..<equals])
      path = String(text[text.index(after: equals)...])
    }
    if let baseDirectory, !path.hasPrefix("/") {
      path = (baseDirectory as NSString).appendingPathComponent(path)
      path = (path as NSString).standardizingPath
    }
    self.name = name
    self.path = path
  }

  /// `NAME=PATH` or `PATH`, as the op reads it.
  public var text: String { name.map { "\($0)=\(path)" } ?? path }
}

/// A validated config: every key of the op's schema present, defaults filled in.
public struct StageConfig: Sendable {
  /// The resolved values, keys in schema order.
  public let values: JSONObject

  /// Creates a config from resolved values.
  public init(values: JSONObject) { self.values = values }

  /// The canonical text of the resolved config, hashed into the stage fingerprint. Defaults
  /// are included, so spelling a default out does not change the fingerprint.
  public var canonicalText: String { JSONValue.object(values).canonicalText }

  /// An integer value (validated, so present).
  public func int(_ key: String) -> Int { values[key]?.intValue ?? 0 }
  /// A number value.
  public func double(_ key: String) -> Double { values[key]?.doubleValue ?? 0 }
  /// A boolean value.
  public func bool(_ key: String) -> Bool { values[key]?.boolValue ?? false }
  /// A string value.
  public func string(_ key: String) -> String { values[key]?.stringValue ?? "" }
  /// An optional value (`null` when the schema default is `null`).
  public func optional(_ key: String) -> JSONValue? {
    guard let value = values[key], value != .null else { return nil }
    return value
  }
  /// The files of a `.files` key, resolved.
  public func files(_ key: String) -> [FileReference] {
    strings(key).map { FileReference($0) }
  }

  /// The stage ids of the `.stage` keys of `op` in this config, by key.
  public func stageReferences(of op: OpDescriptor) -> [(key: String, stage: String)] {
    op.keys.compactMap { key in
      guard case .stage = key.type, let id = optional(key.name)?.stringValue else { return nil }
      return (key.name, id)
    }
  }

  /// An object value (empty when the schema default is `null` or `{}`).
  public func object(_ key: String) -> JSONObject {
    values[key]?.objectValue ?? JSONObject()
  }

  /// An array of strings.
  public func strings(_ key: String) -> [String] {
    values[key]?.arrayValue?.compactMap(\.stringValue) ?? []
  }
}

/// An op: a name, a version, a config schema and a way to build the stage.
public struct OpDescriptor: Sendable {
  /// The op name, e.g. `dedup.exact`.
  public let name: String
  /// The version; changing an op's semantics bumps it, so resume never mixes outputs.
  public let version: Int
  /// One line saying what the op does.
  public let summary: String
  /// The config keys.
  public let keys: [ConfigKey]
  /// Builds the stage from a validated config; throws `PipeError(.config)` for problems that
  /// need more than the schema (paths that do not exist, inconsistent values).
  public let make: @Sendable (StageConfig) throws -> StageImplementation

  /// Creates a descriptor.
  public init(
    name: String, version: Int, summary: String, keys: [ConfigKey],
    make: @escaping @Sendable (StageConfig) throws -> StageImplementation
  ) {
    self.name = name
    self.version = version
    self.summary = summary
    self.keys = keys
    self.make = make
  }

  /// `name@version`.
  public var qualifiedName: String { "\(name)@\(version)" }

  /// Checks `config` against the schema, reporting every problem under `path`, and returns
  /// the resolved config when there is none.
  ///
  /// - Parameter baseDirectory: the folder relative file paths (`.files` keys) resolve against;
  ///   `nil` leaves them as given.
  public func resolve(
    _ config: JSONObject, path: String, baseDirectory: String? = nil
  ) -> (StageConfig?, [ValidationIssue]) {
    var issues: [ValidationIssue] = []
    var resolved = JSONObject()
    let known = Set(keys.map(\.name))
    for key in config.keys where !known.contains(key) {
      let hint = keys.map(\.name).sorted().joined(separator: ", ")
      issues.append(
        ValidationIssue(
          path: "\(path).\(key)", "unknown config key for \(qualifiedName)" + (hint.isEmpty ? "" : " (known: \(hint))"))
      )
    }
    for key in keys {
      let keyPath = "\(path).\(key.name)"
      guard let value = config[key.name] else {
        if let defaultValue = key.defaultValue {
          // Normalized like a given value, so spelling the default out fingerprints alike.
          resolved[key.name] = Self.normalized(defaultValue, for: key.type)
        } else {
          issues.append(ValidationIssue(path: keyPath, "required key is missing: expected \(key.type.description)"))
        }
        continue
      }
      if value == .null, key.defaultValue == .null {
        resolved[key.name] = .null
        continue
      }
      if let problem = Self.check(value, against: key.type) {
        issues.append(ValidationIssue(path: keyPath, problem))
      } else if case .files = key.type, let entries = value.arrayValue {
        var files: [JSONValue] = []
        for (index, entry) in entries.enumerated() {
          let file = FileReference(entry.stringValue ?? "", baseDirectory: baseDirectory)
          if baseDirectory != nil, !FileManager.default.fileExists(atPath: file.path) {
            issues.append(ValidationIssue(path: "\(keyPath)[\(index)]", "no such file: \(file.path)"))
          }
          files.append(.string(file.text))
        }
        resolved[key.name] = .array(files)
      } else {
        resolved[key.name] = Self.normalized(value, for: key.type)
      }
    }
    return (issues.isEmpty ? StageConfig(values: resolved) : nil, issues)
  }

  private static func check(_ value: JSONValue, against type: ConfigType) -> String? {
    let got = "got \(value.jsonText.prefix(60))"
    switch type {
    case .int(let range):
      guard let number = value.intValue else { return "expected \(type.description), \(got)" }
      return range.contains(number) ? nil : "expected \(type.description), \(got)"
    case .double(let range):
      guard let number = value.doubleValue else { return "expected \(type.description), \(got)" }
      return range.contains(number) ? nil : "expected \(type.description), \(got)"
    case .bool:
      return value.boolValue == nil ? "expected \(type.description), \(got)" : nil
    case .string:
      return value.stringValue == nil ? "expected \(type.description), \(got)" : nil
    case .choice(let options):
      guard let string = value.stringValue, options.contains(string) else {
        return "expected \(type.description), \(got)"
      }
      return nil
    case .json:
      return nil
    case .stage:
      return value.stringValue.map { $0.isEmpty ? "expected a stage id, got \"\"" : nil }
        ?? "expected a stage id, \(got)"
    case .object:
      return value.objectValue == nil ? "expected \(type.description), \(got)" : nil
    case .strings, .files:
      guard let array = value.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
        return "expected \(type.description), \(got)"
      }
      return nil
    }
  }

  /// Integral numbers given for a double key and vice versa get one spelling, so `1` and `1.0`
  /// fingerprint alike.
  private static func normalized(_ value: JSONValue, for type: ConfigType) -> JSONValue {
    switch type {
    case .int: return value.intValue.map { .int(Int64($0)) } ?? value
    case .double: return value.doubleValue.map { .double($0) } ?? value
    default: return value
    }
  }
}

/// The ops a build of `pipe` knows, by name and version.
public struct OpRegistry: Sendable {
  /// Every op, sorted by name then version.
  public let ops: [OpDescriptor]

  /// Creates a registry; names and versions must be unique.
  public init(_ ops: [OpDescriptor]) {
    self.ops = ops.sorted { ($0.name, $0.version) < ($1.name, $1.version) }
  }

  /// The op named `name@version`, or `name` alone for the newest version.
  public func op(_ reference: String) -> OpDescriptor? {
    let parts = reference.split(separator: "@", maxSplits: 1).map(String.init)
    if parts.count == 2 {
      guard let version = Int(parts[1]) else { return nil }
      return ops.first { $0.name == parts[0] && $0.version == version }
    }
    return ops.last { $0.name == reference }
  }
}
