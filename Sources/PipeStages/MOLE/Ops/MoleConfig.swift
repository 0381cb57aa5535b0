import PipeCore

/// Config keys the MOLE ops share: which scenario and facets.
struct ScenarioOptions: ConfigSchema {
  @Setting(
    "web_article", "Built-in scenario (web_article, code), or the name of the custom scenario given in \"facets\".")
  var scenario: String
  @Setting(
    JSONObject(),
    "A custom scenario: FACET -> one-line definition (degraded by an LLM only). Empty for the built-in facets.")
  var facets: JSONObject
}

/// Readers the MOLE ops share.
enum MoleConfig {
  /// The scenario the options name.
  ///
  /// - Throws: `ConfigValueError` for an unknown built-in name or a bad custom definition.
  static func scenario(_ options: ScenarioOptions) throws -> Scenario {
    let name = options.scenario
    let custom = options.facets
    if custom.isEmpty {
      guard let scenario = Scenario.builtIn[name] else {
        throw ConfigValueError(
          "scenario",
          "no built-in scenario \"\(name)\" (built in: \(Scenario.builtIn.keys.sorted().joined(separator: ", "))); "
            + "define its facets in \"facets\"")
      }
      return scenario
    }
    var definitions: [(name: String, definition: String)] = []
    for (facet, value) in custom.members {
      guard let definition = value.stringValue, !definition.isEmpty else {
        throw ConfigValueError("facets.\(facet)", "expected a one-line definition")
      }
      definitions.append((facet, definition))
    }
    do {
      return try Scenario.custom(name: name, definitions: definitions)
    } catch let error as PipeError {
      throw ConfigValueError("facets", error.message)
    }
  }
}
