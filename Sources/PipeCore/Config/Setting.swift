internal import Synchronization

/// A set of config keys, declared once each as `@Setting` properties:
///
/// ```swift
/// struct Options: ConfigSchema {
///   @Setting(5, in: 1...64, "Words per shingle.") var ngrams: Int
///   @Setting(512, in: 1...1_048_576, "Memory for sorting.", affectsOutput: false) var memoryCapMB: Int
///   @Setting(nil, "Metadata key of the score.") var scoreField: String?
/// }
/// ```
///
/// The property's name is the key, its type the value's type; the attribute gives the default
/// (or `required:`), the range or choices and one line of documentation. Validation, `pipe ops`,
/// fingerprints and reading all come from that one declaration: an op reads `options.ngrams`,
/// typed, so a misspelt key does not compile. A property whose type is itself a schema adds its
/// keys (schemas shared by several ops).
public protocol ConfigSchema: Sendable {
  /// A schema with every value at its default.
  init()
}

extension ConfigSchema {
  /// The keys, in declaration order.
  public static var keys: [ConfigKey] { Self().settings.map(\.key) }

  /// Every setting with its key, nested schemas flattened.
  var settings: [(key: ConfigKey, setting: any SettingStorage)] {
    var found: [(ConfigKey, any SettingStorage)] = []
    for child in Mirror(reflecting: self).children {
      if let setting = child.value as? any SettingStorage, let label = child.label {
        // A property wrapper's storage is the property's name with a leading underscore.
        let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
        found.append((setting.key(named: name), setting))
      } else if let nested = child.value as? any ConfigSchema {
        found += nested.settings
      }
    }
    return found
  }

  /// The schema holding `config`'s values (validated against `keys`, so every value fits).
  public init(resolved config: StageConfig) {
    self.init()
    for (key, setting) in settings {
      if let value = config.values[key.name] { setting.assign(value) }
    }
  }
}

/// What `ConfigSchema` needs of a `Setting` without knowing its value type.
protocol SettingStorage: AnyObject, Sendable {
  /// The erased key, named `name`.
  func key(named name: String) -> ConfigKey
  /// Takes a validated value.
  func assign(_ value: JSONValue)
}

/// A value type a config key can hold.
public protocol SettingValue: Sendable {
  /// The type to validate against when the declaration gives no range or choices.
  static var configType: ConfigType { get }
  /// The value from validated JSON.
  init?(settingJSON json: JSONValue)
  /// The value as JSON (for defaults).
  var settingJSON: JSONValue { get }
}

/// One config key, declared as a property of a `ConfigSchema` (see there).
@propertyWrapper
public final class Setting<Value: SettingValue>: SettingStorage {
  private let type: ConfigType
  private let defaultValue: Value?
  private let isRequired: Bool
  private let doc: String
  private let affectsOutput: Bool
  private let addedToExistingVersion: Bool
  private let check: (@Sendable (Value) -> String?)?
  /// The resolved value; set once, while the schema is made from a validated config and before
  /// it is shared, so reads need no lock beyond this one.
  private let resolved = Mutex<Value?>(nil)

  init(
    type: ConfigType, default defaultValue: Value?, required: Bool, doc: String, affectsOutput: Bool,
    addedToExistingVersion: Bool = false, check: (@Sendable (Value) -> String?)?
  ) {
    self.type = type
    self.defaultValue = defaultValue
    self.isRequired = required
    self.doc = doc
    self.affectsOutput = affectsOutput
    self.addedToExistingVersion = addedToExistingVersion
    self.check = check
  }

  /// A key with a default.
  ///
  /// - Parameters:
  ///   - check: a rule beyond the type: the problem with a value (said after "expected"), or nil.
  ///   - affectsOutput: false for keys that only tune resources (kept out of fingerprints).
  public convenience init(
    _ defaultValue: Value, _ doc: String, affectsOutput: Bool = true, check: (@Sendable (Value) -> String?)? = nil
  ) {
    self.init(
      type: Value.configType, default: defaultValue, required: false, doc: doc, affectsOutput: affectsOutput,
      check: check)
  }

  /// A key added to an op version that already had runs: while it has its default, it stays
  /// out of the stage's fingerprint, so those runs do not redo the stage.
  public convenience init(_ defaultValue: Value, addedToExistingVersion doc: String) {
    self.init(
      type: Value.configType, default: defaultValue, required: false, doc: doc, affectsOutput: true,
      addedToExistingVersion: true, check: nil)
  }

  /// A key without a default: the pipeline file must give it.
  public convenience init(
    required doc: String, type: ConfigType = Value.configType, check: (@Sendable (Value) -> String?)? = nil
  ) {
    self.init(type: type, default: nil, required: true, doc: doc, affectsOutput: true, check: check)
  }

  /// The value (the default until the schema is resolved from a config).
  public var wrappedValue: Value {
    if let value = resolved.withLock({ $0 }) { return value }
    guard let defaultValue else {
      preconditionFailure("a required config key was read before the config was resolved")
    }
    return defaultValue
  }

  func key(named name: String) -> ConfigKey {
    var erasedCheck: (@Sendable (JSONValue) -> String?)? = nil
    if let check = self.check {
      erasedCheck = { json in
        guard let value = Value(settingJSON: json) else { return nil }
        return check(value)
      }
    }
    let defaultJSON: JSONValue? = isRequired ? nil : (defaultValue?.settingJSON ?? .null)
    return ConfigKey(
      name, type, default: defaultJSON, doc, affectsOutput: affectsOutput,
      addedToExistingVersion: addedToExistingVersion, check: erasedCheck)
  }

  func assign(_ value: JSONValue) {
    let typed = Value(settingJSON: value)
    resolved.withLock { $0 = typed }
  }
}

// MARK: - Ranges and choices

extension Setting where Value == Int {
  /// An integer key with a default, in `range`.
  public convenience init(
    _ defaultValue: Int, in range: ClosedRange<Int>, _ doc: String, affectsOutput: Bool = true
  ) {
    self.init(
      type: .int(range), default: defaultValue, required: false, doc: doc, affectsOutput: affectsOutput, check: nil)
  }
}

extension Setting where Value == Int? {
  /// An integer key that is null unless given, in `range`.
  public convenience init(_ defaultValue: Int?, in range: ClosedRange<Int>, _ doc: String, affectsOutput: Bool = true) {
    self.init(
      type: .int(range), default: .some(defaultValue), required: false, doc: doc, affectsOutput: affectsOutput,
      check: nil)
  }
}

extension Setting where Value == Double {
  /// A number key with a default, in `range`.
  public convenience init(
    _ defaultValue: Double, in range: ClosedRange<Double>, _ doc: String, affectsOutput: Bool = true
  ) {
    self.init(
      type: .double(range), default: defaultValue, required: false, doc: doc, affectsOutput: affectsOutput, check: nil
    )
  }
}

extension Setting where Value == Double? {
  /// A number key that is null unless given, in `range`.
  public convenience init(
    _ defaultValue: Double?, in range: ClosedRange<Double>, _ doc: String, affectsOutput: Bool = true
  ) {
    self.init(
      type: .double(range), default: .some(defaultValue), required: false, doc: doc, affectsOutput: affectsOutput,
      check: nil)
  }
}

extension Setting where Value == String {
  /// A string key with a default, one of `choices`.
  public convenience init(_ defaultValue: String, oneOf choices: [String], _ doc: String) {
    self.init(type: .choice(choices), default: defaultValue, required: false, doc: doc, affectsOutput: true, check: nil)
  }
}

extension Setting where Value == JSONValue {
  /// A JSON key checked by the op, described as `description` in messages and `pipe ops`.
  public convenience init(_ defaultValue: JSONValue, described description: String, _ doc: String) {
    self.init(
      type: .json(description), default: defaultValue, required: false, doc: doc, affectsOutput: true, check: nil)
  }

  /// A required JSON key checked by the op.
  public convenience init(required doc: String, described description: String) {
    self.init(type: .json(description), default: nil, required: true, doc: doc, affectsOutput: true, check: nil)
  }
}

// MARK: - Value types

extension Int: SettingValue {
  /// Any integer.
  public static var configType: ConfigType { .int(Int.min...Int.max) }
  /// From a validated integer.
  public init?(settingJSON json: JSONValue) {
    guard let value = json.intValue else { return nil }
    self = value
  }
  /// `.int`.
  public var settingJSON: JSONValue { .int(Int64(self)) }
}

extension Double: SettingValue {
  /// Any number.
  public static var configType: ConfigType { .double(-.infinity...(.infinity)) }
  /// From a validated number.
  public init?(settingJSON json: JSONValue) {
    guard let value = json.doubleValue else { return nil }
    self = value
  }
  /// `.double`.
  public var settingJSON: JSONValue { .double(self) }
}

extension Bool: SettingValue {
  /// A boolean.
  public static var configType: ConfigType { .bool }
  /// From a validated boolean.
  public init?(settingJSON json: JSONValue) {
    guard let value = json.boolValue else { return nil }
    self = value
  }
  /// `.bool`.
  public var settingJSON: JSONValue { .bool(self) }
}

extension String: SettingValue {
  /// Any string.
  public static var configType: ConfigType { .string }
  /// From a validated string.
  public init?(settingJSON json: JSONValue) {
    guard let value = json.stringValue else { return nil }
    self = value
  }
  /// `.string`.
  public var settingJSON: JSONValue { .string(self) }
}

extension Array: SettingValue where Element == String {
  /// An array of strings.
  public static var configType: ConfigType { .strings }
  /// From a validated array of strings.
  public init?(settingJSON json: JSONValue) {
    guard let values = json.arrayValue else { return nil }
    self = values.compactMap(\.stringValue)
  }
  /// `.array` of `.string`.
  public var settingJSON: JSONValue { .array(map { .string($0) }) }
}

extension JSONObject: SettingValue {
  /// A JSON object.
  public static var configType: ConfigType { .object }
  /// From a validated object (`null` reads as empty).
  public init?(settingJSON json: JSONValue) {
    if json == .null {
      self.init()
      return
    }
    guard let object = json.objectValue else { return nil }
    self = object
  }
  /// `.object`.
  public var settingJSON: JSONValue { .object(self) }
}

extension JSONValue: SettingValue {
  /// Any JSON value.
  public static var configType: ConfigType { .json("any JSON value") }
  /// The value itself.
  public init?(settingJSON json: JSONValue) { self = json }
  /// The value itself.
  public var settingJSON: JSONValue { self }
}

extension Optional: SettingValue where Wrapped: SettingValue {
  /// The wrapped type (null is allowed because the default is null).
  public static var configType: ConfigType { Wrapped.configType }
  /// `nil` for null, else the wrapped value.
  public init?(settingJSON json: JSONValue) {
    if json == .null {
      self = .none
      return
    }
    guard let value = Wrapped(settingJSON: json) else { return nil }
    self = .some(value)
  }
  /// `.null` for nil.
  public var settingJSON: JSONValue { map(\.settingJSON) ?? .null }
}

/// The files of a `.files` key: each `PATH` or `NAME=PATH`, resolved against the pipeline
/// file's folder.
public struct FileList: SettingValue, Equatable {
  /// The files, in the order given.
  public var files: [FileReference]

  /// Creates a list.
  public init(_ files: [FileReference] = []) { self.files = files }

  /// An array of file paths.
  public static var configType: ConfigType { .files }
  /// From a validated array of `NAME=PATH` strings.
  public init?(settingJSON json: JSONValue) {
    guard let values = json.arrayValue else { return nil }
    files = values.compactMap(\.stringValue).map { FileReference($0) }
  }
  /// `.array` of `.string`.
  public var settingJSON: JSONValue { .array(files.map { .string($0.text) }) }
}

/// The path of a `.file` key, resolved against the pipeline file's folder.
public struct FilePath: SettingValue, Equatable {
  /// The path (absolute once validated).
  public var path: String

  /// Creates a path.
  public init(_ path: String) { self.path = path }

  /// A file path.
  public static var configType: ConfigType { .file }
  /// From a validated string.
  public init?(settingJSON json: JSONValue) {
    guard let path = json.stringValue else { return nil }
    self.path = path
  }
  /// `.string`.
  public var settingJSON: JSONValue { .string(path) }
}

/// The id of another stage whose artifact a stage uses (a `.stage` key).
public struct StageID: SettingValue, Equatable {
  /// The stage id.
  public var id: String

  /// Creates a reference.
  public init(_ id: String) { self.id = id }

  /// A stage id.
  public static var configType: ConfigType { .stage }
  /// From a validated string.
  public init?(settingJSON json: JSONValue) {
    guard let id = json.stringValue else { return nil }
    self.id = id
  }
  /// `.string`.
  public var settingJSON: JSONValue { .string(id) }
}
