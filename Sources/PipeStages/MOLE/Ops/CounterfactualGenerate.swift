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

  /// The op's config keys.
  struct Options: ConfigSchema {
    var scenario = ScenarioOptions()
    @Setting([], "Facets to degrade; empty for all of the scenario's.") var only: [String]
    @Setting("rules", oneOf: ["rules", "llm"], "Rule-based perturbations or LLM rewrites.") var method: String
    @Setting(nil, "llm: {baseURL, model, apiKeyEnv, maxConcurrentRequests, ...}.") var endpoint: JSONObject?
    @Setting("counterfactual", "llm: the endpoint's name in counters.") var name: String
    @Setting(
      CounterfactualGenerate.defaultPrompt,
      "llm: the rewrite prompt ({facet}, {definition}, {text}, {id}, {metadata.KEY}).")
    var prompt: String
    @Setting(0.7, in: 0...2, "llm: sampling temperature.") var temperature: Double
    @Setting(1024, in: 16...32768, "llm: the most tokens of a rewrite.") var maxTokens: Int
    @Setting(20, in: 0...1_000_000, "Shortest acceptable rewrite (characters).") var minCharacters: Int
    @Setting(0.85, in: 0...10, "Lowest rewrite/original length ratio.") var minLengthRatio: Double
    @Setting(1.15, in: 0...10, "Highest rewrite/original length ratio.") var maxLengthRatio: Double
    @Setting(0.3, in: 0...1, "Character-3-gram Jaccard below which a rewrite is off topic.") var minSimilarity: Double
    @Setting(0.95, in: 0...1, "Jaccard above which a rewrite is too close.") var maxSimilarity: Double
    @Setting(
      16, in: 1...1024, "Documents handed to the stage at a time (the output does not depend on it).",
      affectsOutput: false)
    var batchSize: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "counterfactual.generate", version: 1,
    summary: "Make, per document and facet, a variant worse in that facet only (rules or LLM), for evaluator.train.",
    options: Options.self, make: { options in .batch(try CounterfactualGenerate(options: options)) })

  init(options: Options) throws {
    scenario = try MoleConfig.scenario(options.scenario)
    let only = options.only
    for name in only where scenario.index(ofFacet: name) == nil {
      throw ConfigValueError(
        "only",
        "no facet \"\(name)\" in \(scenario.name) (facets: \(scenario.facets.map(\.name).joined(separator: ", ")))")
    }
    facets = only.isEmpty ? scenario.facets : scenario.facets.filter { only.contains($0.name) }
    method = options.method
    if method == "llm" {
      guard let value = options.endpoint else {
        throw ConfigValueError("endpoint", "the llm method needs an endpoint")
      }
      endpoint = try LLMConfig.endpoint(.object(value), name: options.name, keyPath: "endpoint")
    } else {
      endpoint = nil
      if let facet = facets.first(where: { $0.rule == nil }) {
        throw ConfigValueError(
          "method", "facet \"\(facet.name)\" has no rule-based perturbation; use \"method\": \"llm\" or leave it out")
      }
    }
    prompt = try PromptTemplate(options.prompt, keyPath: "prompt", variables: ["facet", "definition"])
    temperature = options.temperature
    maxTokens = options.maxTokens
    validator = CounterfactualValidator(
      minimumCharacters: options.minCharacters, minimumLengthRatio: options.minLengthRatio,
      maximumLengthRatio: options.maxLengthRatio, minimumSimilarity: options.minSimilarity,
      maximumSimilarity: options.maxSimilarity)
    if validator.minimumLengthRatio > validator.maximumLengthRatio {
      throw ConfigValueError("minLengthRatio", "is above maxLengthRatio")
    }
    if validator.minimumSimilarity > validator.maximumSimilarity {
      throw ConfigValueError("minSimilarity", "is above maxSimilarity")
    }
    batchSize = options.batchSize
  }

  /// The original and its counterfactuals for every record of the batch.
  public func process(_ batch: [Record], context: StageContext) throws -> [BatchOutcome] {
    let client = try endpoint.map { try LLMConfig.client(for: $0, context: context) }
    let work: @Sendable (Int) -> Result<BatchOutcome, LLMError> = { index in
      self.variants(of: batch[index], client: client, context: context)
    }
    // Rules are CPU work done in order; LLM rewrites wait on the network, so they overlap.
    let results = client == nil ? batch.indices.map(work) : Concurrently.map(batch.count, work)
    // An endpoint that is down fails the task (resume redoes it), rather than losing records.
    if let outage = EndpointOutage.firstFailure(in: results, context: context) { throw outage }
    return results.compactMap { try? $0.get() }
  }

  /// The record's original and counterfactuals, or the endpoint's failure.
  private func variants(
    of record: Record, client: LLMClient?, context: StageContext
  ) -> Result<BatchOutcome, LLMError> {
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
          if let outage = failure.endpointFailure { return .failure(outage) }
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
    return .success(.expand(outputs, rejected: rejected))
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
    /// Set when the endpoint itself failed (the task fails, the record is not rejected).
    var endpointFailure: LLMError? = nil
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
      return .failure(
        RewriteFailure(
          reason: "llm_" + error.kind.rawValue, detail: error.description,
          endpointFailure: error.kind.isEndpointFailure ? error : nil))
    } catch {
      return .failure(RewriteFailure(reason: "llm_error", detail: "\(error)"))
    }
  }
}
