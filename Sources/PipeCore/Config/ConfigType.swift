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
  /// One file path, resolved and checked as the entries of `.files` are (`~/` is the home
  /// folder); its size and modification time enter the fingerprint.
  case file
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
    case .file: return "a file path (relative to the pipeline file)"
    case .object: return "an object"
    case .stage: return "a stage id"
    case .json(let description): return description
    }
  }

  /// Why `value` does not fit this type, or nil when it does.
  func problem(with value: JSONValue) -> String? {
    let got = "got \(value.jsonText.prefix(60))"
    switch self {
    case .int(let range):
      guard let number = value.intValue, range.contains(number) else { return "expected \(description), \(got)" }
      return nil
    case .double(let range):
      guard let number = value.doubleValue, range.contains(number) else { return "expected \(description), \(got)" }
      return nil
    case .bool:
      return value.boolValue == nil ? "expected \(description), \(got)" : nil
    case .string:
      return value.stringValue == nil ? "expected \(description), \(got)" : nil
    case .file:
      guard let path = value.stringValue, !path.isEmpty else { return "expected \(description), \(got)" }
      return nil
    case .choice(let options):
      guard let string = value.stringValue, options.contains(string) else { return "expected \(description), \(got)" }
      return nil
    case .json:
      return nil
    case .stage:
      return value.stringValue.map { $0.isEmpty ? "expected a stage id, got \"\"" : nil }
        ?? "expected a stage id, \(got)"
    case .object:
      return value.objectValue == nil ? "expected \(description), \(got)" : nil
    case .strings, .files:
      guard let array = value.arrayValue, array.allSatisfy({ $0.stringValue != nil }) else {
        return "expected \(description), \(got)"
      }
      return nil
    }
  }

  /// `value` with one spelling per number: integral numbers given for a double key and vice
  /// versa become the key's kind, so `1` and `1.0` fingerprint alike.
  func normalized(_ value: JSONValue) -> JSONValue {
    switch self {
    case .int: return value.intValue.map { .int(Int64($0)) } ?? value
    case .double: return value.doubleValue.map { .double($0) } ?? value
    default: return value
    }
  }

  private static func format(_ value: Int) -> String {
    if value == Int.max { return "max" }
    if value == Int.min { return "min" }
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

/// One key of a config as validation, `pipe ops` and fingerprints see it: its name, type,
/// default and one line of documentation. Ops declare keys with `@Setting` properties of a
/// `ConfigSchema`; this is the erased description the schema yields.
public struct ConfigKey: Sendable {
  /// The key as written in the pipeline file (camelCase).
  public let name: String
  /// Its type and range.
  public let type: ConfigType
  /// The value used when the key is absent; `nil` makes the key required.
  public let defaultValue: JSONValue?
  /// One line of documentation.
  public let doc: String
  /// Whether the value can change what the stage writes. Keys that only tune resources
  /// (memory caps, batch sizes, concurrency) are false: they stay out of the fingerprint, so
  /// changing them reruns nothing.
  public let affectsOutput: Bool
  /// Whether the value stays out of the fingerprint while it equals the default: true for a
  /// key added to an op version that already had runs, so those runs do not redo the stage
  /// (their output is what the default gives).
  public let addedToExistingVersion: Bool
  /// A check beyond the type (a name's spelling, say): the problem with a value, or nil.
  let check: (@Sendable (JSONValue) -> String?)?

  /// Creates a key.
  public init(
    _ name: String, _ type: ConfigType, default defaultValue: JSONValue?, _ doc: String, affectsOutput: Bool = true
  ) {
    self.init(name, type, default: defaultValue, doc, affectsOutput: affectsOutput, check: nil)
  }

  init(
    _ name: String, _ type: ConfigType, default defaultValue: JSONValue?, _ doc: String, affectsOutput: Bool,
    addedToExistingVersion: Bool = false, check: (@Sendable (JSONValue) -> String?)?
  ) {
    self.name = name
    self.type = type
    self.defaultValue = defaultValue
    self.doc = doc
    self.affectsOutput = affectsOutput
    self.addedToExistingVersion = addedToExistingVersion
    self.check = check
  }

  /// Checks `object` against `keys`, reporting every problem under `path`, and returns the
  /// resolved values (every key, defaults filled in, in key order) when there is none.
  ///
  /// - Parameters:
  ///   - allowing: other keys the object may hold, handled by the caller (the pipeline file's
  ///     `inputs` and `stages`).
  ///   - unknownKey: the message for a key that is neither a config key nor allowed.
  ///   - baseDirectory: the folder relative file paths (`.files` keys) resolve against; `nil`
  ///     leaves them as given.
  static func resolve(
    _ object: JSONObject, keys: [ConfigKey], path: String, allowing extra: [String] = [],
    unknownKey: (String) -> String, baseDirectory: String?
  ) -> (JSONObject?, [ValidationIssue]) {
    var issues: [ValidationIssue] = []
    var resolved = JSONObject()
    let known = Set(keys.map(\.name) + extra)
    func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    for key in object.keys where !known.contains(key) {
      issues.append(ValidationIssue(path: at(key), unknownKey(key)))
    }
    for key in keys {
      let keyPath = at(key.name)
      guard let value = object[key.name] else {
        if let defaultValue = key.defaultValue {
          // Normalized like a given value, so spelling the default out fingerprints alike.
          resolved[key.name] = key.type.normalized(defaultValue)
        } else {
          issues.append(ValidationIssue(path: keyPath, "required key is missing: expected \(key.type.description)"))
        }
        continue
      }
      if value == .null, key.defaultValue == .null {
        resolved[key.name] = .null
        continue
      }
      if let problem = key.type.problem(with: value) ?? key.check?(value) {
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
      } else if case .file = key.type, let text = value.stringValue {
        let file = FileReference(path: text, baseDirectory: baseDirectory)
        if baseDirectory != nil, !FileManager.default.fileExists(atPath: file.path) {
          issues.append(ValidationIssue(path: keyPath, "no such file: \(file.path)"))
        }
        resolved[key.name] = .string(file.path)
      } else {
        resolved[key.name] = key.type.normalized(value)
      }
    }
    return (issues.isEmpty ? resolved : nil, issues)
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
    self.init(name: name, path: path, baseDirectory: baseDirectory)
  }

  /// A path without a name (a `.file` key's value, where `=` is part of the path).
  public init(path: String, baseDirectory: String? = nil) {
    self.init(name: nil, path: path, baseDirectory: baseDirectory)
  }

  private init(name: String?, path text: String, baseDirectory: String?) {
    var path = text
    // `~/`: the home folder, as a shell would expand it (model caches live there).
    if path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"], !home.isEmpty {
      path = home + path.dropFirst()
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
  /// The keys the values follow.
  public let keys: [ConfigKey]

  /// Creates a config from resolved values of `keys`.
  public init(values: JSONObject, keys: [ConfigKey]) {
    self.values = values
    self.keys = keys
  }

  /// The canonical text of the values that can change the stage's output, hashed into its
  /// fingerprint. Defaults are included, so spelling a default out does not change it; keys
  /// that only tune resources are left out, so changing them reruns nothing.
  public var canonicalText: String {
    var object = JSONObject()
    for key in keys where key.affectsOutput {
      if key.addedToExistingVersion, let value = values[key.name], value == key.defaultValue { continue }
      object[key.name] = values[key.name]
    }
    return JSONValue.object(object).canonicalText
  }

  /// The canonical text of every value, resource keys included (what the manifest shows).
  public var fullText: String { JSONValue.object(values).canonicalText }

  /// The files of every `.files` key, resolved.
  public var referencedFiles: [FileReference] {
    keys.flatMap { key -> [FileReference] in
      switch key.type {
      case .files: return values[key.name]?.arrayValue?.compactMap(\.stringValue).map { FileReference($0) } ?? []
      case .file: return values[key.name]?.stringValue.map { [FileReference(path: $0)] } ?? []
      default: return []
      }
    }
  }

  /// The stage ids of the `.stage` keys in this config, by key.
  public var stageReferences: [(key: String, stage: String)] {
    keys.compactMap { key in
      guard case .stage = key.type, let id = values[key.name]?.stringValue else { return nil }
      return (key.name, id)
    }
  }
}
