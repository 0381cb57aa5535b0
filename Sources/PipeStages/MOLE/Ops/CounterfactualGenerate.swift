import Foundation
public import PipeCore
public import PipeLLM

/// `counterfactual.generate@1`: for each document and facet of a scenario, a variant that is
/// worse in that facet only, by rule-based perturbation (offline, seeded per record and facet)
/// or by an LLM rewrite checked against length-ratio and similarity bands.
///
/// Output, per input: the original (`metadata.counterfactual = {"original": ID, "facet": null}`)
/// and one record per facet (`ID~FACET`, `metadata.counterfactual = {"original", "facet",
/// "method"}`), ready for `evaluator.train`. A facet a rule cannot apply to (one sentence to
/// shuffle) is skipped and counted (`not_applicable.FACET`); an invalid LLM rewrite goes to the
/// rejects with reason `counterfactual_REASON`.
public struct CounterfactualGenerate: BatchRecordStage {
  /// The scenario.
  public let scenario: Scenario
  /// The facets degraded (all of the scenario's by default).
  public let facets: [Facet]
  /// `rules` or `llm`.
  public let method: String
  /// The LLM endpoint, for `llm`.
  public let endpoint: Endpoint?
  /// The rewrite prompt: `{facet}`, `{definition}`, `{text}`, `{id}` and `{metadata.KEY}` are
  /// replaced.
  public let prompt: PromptTemplate
  /// Sampling for rewrites.
  public let temperature: Double
  /// The most tokens of a rewrite.
  public let maxTokens: Int
  /// Checks LLM rewrites.
  public let validator: CounterfactualValidator
  /// Records per batch.
  public let batchSize: Int

  static let defaultPrompt =
    "Rewrite the document below so that it is clearly worse in {facet}: {definition} Keep the topic, the facts, "
    + "every other quality, the style and the length (within 15%) unchanged. Output only the rewritten document."
    + "\n\n{text}"

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "counterfactual.generate", version: 1,
    summary: "Make, per document and facet, a variant worse in that facet only (rules or LLM), for evaluator.train.",
    keys: MoleConfig.scenarioKeys + [
      ConfigKey("only", .strings, default: .array([]), "Facets to degrade; empty for all of the scenario's."),
      ConfigKey(
        "method", .choice(["rules", "llm"]), default: .string("rules"), "Rule-based perturbations or LLM rewrites."),
      ConfigKey("endpoint", .object, default: .null, "llm: {baseURL, model, apiKeyEnv, maxConcurrentRequests, ...}."),
      ConfigKey("name", .string, default: .string("counterfactual"), "llm: the endpoint's name in counters."),
      ConfigKey(
        "prompt", .string, default: .string(defaultPrompt),
        "llm: the rewrite prompt ({facet}, {definition}, {text}, {id}, {metadata.KEY})."),
      ConfigKey("temperature", .double(0...2), default: .double(0.7), "llm: sampling temperature."),
      ConfigKey("maxTokens", .int(16...32768), default: .int(1024), "llm: the most tokens of a rewrite."),
      ConfigKey("minCharacters", .int(0...1_000_000), default: .int(20), "Shortest acceptable rewrite (characters)."),
      ConfigKey("minLengthRatio", .double(0...10), default: .double(0.85), "Lowest rewrite/original length ratio."),
      ConfigKey("maxLengthRatio", .double(0...10), default: .double(1.15), "Highest rewrite/original length ratio."),
      ConfigKey(
        "minSimilarity", .double(0...1), default: .double(0.3),
        "Character-3-gram Jaccard below which a rewrite is off topic."),
      ConfigKey("maxSimilarity", .double(0...1), default: .double(0.95), "Jaccard above which a rewrite is too close."),
      ConfigKey("batchSize", .int(1...1024), default: .int(16), "Documents handed to the stage at a time."),
    ],
    make: { config in .batch(try CounterfactualGenerate(config: config)) })

  init(config: StageConfig) throws {
    scenario = try MoleConfig.scenario(config)
    let only = config.strings("only")
    for name in only where scenario.index(ofFacet: name) == nil {
      throw ConfigValueError(
        "only",
        "no facet \"\(name)\" in \(scenario.name) (facets: \(scenario.facets.map(\.name).joined(separator: ", ")))")
    }
    facets = only.isEmpty ? scenario.facets : scenario.facets.filter { only.contains($0.name) }
    method = config.string("method")
    if method == "llm" {
      guard let value = config.optional("endpoint") else {
        throw ConfigValueError("endpoint", "the llm method needs an endpoint")
      }
      endpoint = try LLMConfig.endpoint(value, name: config.string("name"), keyPath: "endpoint")
    } else {
      endpoint = nil
      if let facet = facets.first(where: { $0.rule == nil }) {
        throw ConfigValueError(
          "method", "facet \"\(facet.name)\" has no rule-based perturbation; use \"method\": \"llm\" or leave it out")
      }
    }
    prompt = try PromptTemplate(config.string("prompt"), keyPath: "prompt", variables: ["facet", "definition"])
    temperature = config.double("temperature")
    maxTokens = config.int("maxTokens")
    validator = CounterfactualValidator(
      minimumCharacters: config.int("minCharacters"), minimumLengthRatio: config.double("minLengthRatio"),
      maximumLengthRatio: config.double("maxLengthRatio"), minimumSimilarity: config.double("minSimilarity"),
      maximumSimilarity: config.double("maxSimilarity"))
    if validator.minimumLengthRatio > validator.maximumLengthRatio {
      throw ConfigValueError("minLengthRatio", "is above maxLengthRatio")
    }
    if validator.minimumSimilarity > validator.maximumSimilarity {
      throw ConfigValueError("minSimilarity", "is above maxSimilarity")
    }
    batchSize = config.int("batchSize")
  }

  /// The original and its counterfactuals for every record of the batch.
  public func process(_ batch: [Record], context: StageContext) throws -> [BatchOutcome] {
    let client = try endpoint.map { try LLMConfig.client(for: $0, context: context) }
    let work: @Sendable (Int) -> BatchOutcome = { index in
      self.variants(of: batch[index], client: client, context: context)
    }
    // Rules are CPU work done in order; LLM rewrites wait on the network, so they overlap.
    return client == nil ? batch.indices.map(work) : Concurrently.map(batch.count, work)
  }

  private func variants(of record: Record, client: LLMClient?, context: StageContext) -> BatchOutcome {
    var original = record
    original.setMetadata("counterfactual", .object(["original": .string(record.id), "facet": .null]))
    var outputs = [original]
    var rejected: [RejectedOutput] = []
    let text = record.text
    for facet in facets {
      let variant: String?
      if let client, let endpoint {
        switch rewrite(record, facet: facet, client: client, endpoint: endpoint, context: context) {
        case .success(let rewritten): variant = rewritten
        case .failure(let failure):
          rejected.append(
            RejectedOutput(
              record: counterfactual(record, facet, "", "llm"),
              reason: failure.reason, detail: failure.detail))
          continue
        }
        if let variant, let problem = validator.rejection(original: text, counterfactual: variant) {
          rejected.append(
            RejectedOutput(
              record: counterfactual(record, facet, variant, "llm"), reason: "counterfactual_" + problem.reason,
              detail: problem.detail))
          continue
        }
      } else {
        variant = Perturbation.degrade(record, facet: facet, context: context)
      }
      guard let variant else {
        context.counters.add("not_applicable." + facet.name)
        continue
      }
      context.counters.add("counterfactuals." + facet.name)
      outputs.append(counterfactual(record, facet, variant, client == nil ? "rules" : "llm"))
    }
    return .expand(outputs, rejected: rejected)
  }

  private func counterfactual(_ record: Record, _ facet: Facet, _ text: String, _ method: String) -> Record {
    var metadata = record.metadataObject
    metadata["counterfactual"] = .object([
      "original": .string(record.id), "facet": .string(facet.name), "method": .string(method),
    ])
    return Record(id: record.id + "~" + facet.name, text: text, metadata: metadata)
  }

  private struct RewriteFailure: Error {
    var reason: String
    var detail: String
  }

  private func rewrite(
    _ record: Record, facet: Facet, client: LLMClient, endpoint: Endpoint, context: StageContext
  ) -> Result<String, RewriteFailure> {
    let message: String
    switch prompt.render(record, variables: ["facet": facet.name, "definition": facet.definition]) {
    case .success(let rendered): message = rendered
    case .failure(let missing):
      return .failure(
        RewriteFailure(reason: LLMGenerate.missingFieldReason, detail: "the prompt needs \(missing.name)"))
    }
    do {
      let reply = try client.send(
        ChatRequest(messages: [.user(message)], temperature: temperature, maxTokens: maxTokens, seed: 0))
      LLMCounters.record(reply, usage: reply.response.usage, endpoint: endpoint.name, context: context)
      return .success(reply.response.text.trimmingCharacters(in: .whitespacesAndNewlines))
    } catch let error as LLMError {
      LLMCounters.failure(error, endpoint: endpoint.name, context: context)
      return .failure(RewriteFailure(reason: "llm_" + error.kind.rawValue, detail: error.description))
    } catch {
      return .failure(RewriteFailure(reason: "llm_error", detail: "\(error)"))
    }
  }
}
