/// An op: a name, a version, a config schema and a way to build the stage.
public struct OpDescriptor: Sendable {
  /// The op name, e.g. `dedup.exact`.
  public let name: String
  /// The version; changing an op's output bumps it, so resume never mixes outputs.
  public let version: Int
  /// One line saying what the op does.
  public let summary: String
  /// The config keys.
  public let keys: [ConfigKey]
  /// Builds the stage from a validated config; throws `PipeError(.config)` or
  /// `ConfigValueError` for problems that need more than the schema (paths that do not exist,
  /// inconsistent values).
  public let make: @Sendable (StageConfig) throws -> StageImplementation

  /// Creates a descriptor whose config is `Options`, read typed by `make`.
  public init<Options: ConfigSchema>(
    name: String, version: Int, summary: String, options: Options.Type,
    make: @escaping @Sendable (Options) throws -> StageImplementation
  ) {
    self.init(name: name, version: version, summary: summary, keys: Options.keys) { config in
      try make(Options(resolved: config))
    }
  }

  /// Creates a descriptor from erased keys (ops without options, and tests).
  public init(
    name: String, version: Int, summary: String, keys: [ConfigKey],
    make: @escaping @Sendable (StageConfig) throws -> StageImplementation
  ) {
    precondition(Set(keys.map(\.name)).count == keys.count, "\(name)@\(version) declares a config key twice")
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
    let hint = keys.map(\.name).sorted().joined(separator: ", ")
    let (values, issues) = ConfigKey.resolve(
      config, keys: keys, path: path,
      unknownKey: { _ in "unknown config key for \(qualifiedName)" + (hint.isEmpty ? "" : " (known: \(hint))") },
      baseDirectory: baseDirectory)
    return (values.map { StageConfig(values: $0, keys: keys) }, issues)
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
