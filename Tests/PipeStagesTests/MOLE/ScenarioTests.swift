import PipeCore
import Testing

@testable import PipeStages

/// Built-in and custom scenarios.
struct ScenarioTests {
  @Test func builtInScenariosHaveTheirFacetsAndRules() {
    #expect(
      Scenario.webArticle.facets.map(\.name) == ["coherence", "informativeness", "fluency", "redundancy", "noise"])
    #expect(Scenario.code.facets.map(\.name) == ["readability", "documentation", "correctness_markers"])
    #expect((Scenario.webArticle.facets + Scenario.code.facets).allSatisfy { $0.rule != nil && !$0.definition.isEmpty })
    #expect(Scenario.builtIn["code"] == Scenario.code)
    #expect(Scenario.webArticle.index(ofFacet: "noise") == 4)
  }

  @Test func invalidScenariosAreConfigErrors() {
    #expect(throws: PipeError.self) { try Scenario(name: "empty", facets: []) }
    let error = #expect(throws: PipeError.self) {
      try Scenario.custom(name: "twice", definitions: [("clarity", "a"), ("clarity", "b")])
    }
    #expect(error?.code == .config)
    #expect(error?.message.contains("clarity") == true)
  }
}
