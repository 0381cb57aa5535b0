import Foundation
public import PipeCore
import PipeLLM

/// `agents.star@1`: Star-Agents instruction synthesis (arXiv 2411.14497). For each seed record,
/// several agent pairs (an instruction agent that may rewrite the seed's instruction, a response
/// agent that answers it) are sampled by their evolving probabilities, plus the base pairs that
/// always run; every candidate is scored for difficulty (IFD under a small and a large model)
/// and quality (an LLM judge against the base pair's sample); the best is kept; the sampled
/// pairs' probabilities evolve with their scores. Seeds are processed in order and the
/// probabilities and the Instruction Memory Bank are saved after every shard, so a resumed run
/// continues where it stopped; every LLM call goes through the run's cache.
///
/// Output: the seed's id, `text` = the response, `metadata.instruction`, `metadata.response`
/// and `metadata.star` (seed, pair, candidates, difficulty, quality, verdicts, scores, the
/// scorers used). `pipe why` shows a one-line summary.
public struct StarAgents: StatefulBatchStage {
  /// The configuration.
  public let config: StarAgentsConfig
  private let embedder: HashedEmbedder

  init(config: StarAgentsConfig) {
    self.config = config
    embedder = HashedEmbedder(dimensions: config.embeddingDimensions)
  }

  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(required: "NAME -> {baseURL, model, apiKeyEnv, maxConcurrentRequests, ...}.") var endpoints: JSONObject
    @Setting(
      required: "[{name, endpoint, system, rewrite (with {instruction}), temperature, maxTokens, seed}, ...].",
      described: "an array of agent objects")
    var agents: JSONValue
    @Setting(
      .string("all"), described: "\"all\" or an array of pairs",
      "\"all\" or [[INSTRUCTION_AGENT, RESPONSE_AGENT], ...].")
    var pairs: JSONValue
    @Setting(
      required: "Pairs that always run; the first one's sample is the judge's reference.",
      described: "an array of pairs")
    var basePairs: JSONValue
    @Setting(2, in: 1...64, "Pairs sampled per seed (M).") var samplesPerSeed: Int
    @Setting(0.05, in: 0...100, "beta in p <- (p + beta * score) / sum.") var evolutionRate: Double
    @Setting(1, in: 0...64, "How many of the M pairs come from the memory pool.") var memoryDraws: Int
    @Setting(8, in: 0...1000, "Nearest stored instructions forming the pool.") var memoryTopN: Int
    @Setting(5000, in: 1...1_000_000, "Instructions the memory bank keeps.") var memoryCapacity: Int
    @Setting(0, in: 0...1, "A floor under pair probabilities.") var minPairProbability: Double
    @Setting(
      JSONObject(),
      "{small, large}: each \"ngram\", {\"ngram\": ORDER} or {\"endpoint\": NAME} (prompt log-probabilities).")
    var difficulty: JSONObject
    @Setting(required: "{endpoint, swapPositions (true), maxTokens (128)}.") var judge: JSONObject
    @Setting("{text}", "How a record becomes the seed instruction.") var instruction: String
    @Setting(256, in: 16...4096, "Dimensions of the hashed embedding.") var embeddingDimensions: Int
    @Setting(nil, "An endpoint name for /v1/embeddings of seed instructions; null for the built-in hashed embedder.")
    var embeddings: String?
    @Setting(8, in: 1...256, "Seeds per batch (the n-gram scorers' reference).") var batchSize: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "agents.star", version: 1,
    summary: "Star-Agents: sample agent pairs per seed, score by difficulty x judged quality, keep the best, evolve.",
    options: Options.self,
    make: { options in .statefulBatch(StarAgents(config: try StarAgentsConfig(options: options))) })

  /// Seeds per call.
  public var batchSize: Int { config.batchSize }

  /// Uniform probabilities over the pairs, an empty memory bank.
  public func initialState() throws -> JSONValue {
    StarAgentsState(
      engine: StarAgentsEngine(pairCount: config.pairs.count, parameters: config.parameters),
      pairNames: config.pairs.map(config.pairName)
    ).json
  }

  /// Runs the seeds of the batch one after another (each updates the probabilities the next
  /// one samples from); the calls of one seed run concurrently.
  public func process(_ batch: [Record], state: inout JSONValue, context: StageContext) throws -> [BatchOutcome] {
    var saved = try StarAgentsState(json: state, expectedPairs: config.pairs.map(config.pairName))
    saved.engine.parameters = config.parameters
    let seeds = batch.map { record -> String? in
      if case .success(let text) = config.instruction.render(record) { return text }
      return nil
    }
    let reference = seeds.compactMap { $0 }
    let scorers = OfflineScorers(reference: reference, small: config.small, large: config.large)
    var outcomes: [BatchOutcome] = []
    for (record, seed) in zip(batch, seeds) {
      guard let seed, !seed.isEmpty else {
        outcomes.append(.drop(reason: "seed_instruction_missing", detail: "the instruction template gave nothing"))
        continue
      }
      outcomes.append(try run(seed: seed, record: record, engine: &saved.engine, scorers: scorers, context: context))
    }
    state = saved.json
    return outcomes
  }

  // MARK: - One seed

  private struct Candidate: Sendable {
    var pair: Int?
    var pairIndex: (instruction: Int, response: Int)
    var instruction: String
    var response: String
  }

  private func run(
    seed: String, record: Record, engine: inout StarAgentsEngine, scorers: OfflineScorers, context: StageContext
  ) throws -> BatchOutcome {
    let embedding: [Float]
    if let endpoint = config.embeddings {
      do {
        embedding = try embed(seed, endpoint: endpoint, context: context)
      } catch let error as LLMError {
        return .drop(reason: "llm_" + error.kind.rawValue, detail: "embedding the seed: \(error.description)")
      }
    } else {
      embedding = embedder.embed(seed)
    }
    var rng = context.rng(for: record.id)
    let sampled = engine.samplePairs(embedding: embedding, using: &rng)
    let jobs: [(pair: Int?, index: (instruction: Int, response: Int))] =
      config.basePairs.map { (nil, $0) } + sampled.map { ($0, config.pairs[$0]) }

    // Generate every candidate at once (the endpoints' limits bound the concurrency).
    let generated = Concurrently.map(jobs.count) { index -> Result<Candidate, AgentFailure> in
      do {
        let job = jobs[index]
        let instruction = try self.rewrite(seed, by: self.config.agents[job.index.instruction], context: context)
        let response = try self.answer(instruction, by: self.config.agents[job.index.response], context: context)
        return .success(Candidate(pair: job.pair, pairIndex: job.index, instruction: instruction, response: response))
      } catch let error as LLMError {
        return .failure(AgentFailure(reason: "llm_" + error.kind.rawValue, detail: error.description))
      } catch let error as AgentFailure {
        return .failure(error)
      } catch {
        return .failure(AgentFailure(reason: "llm_error", detail: "\(error)"))
      }
    }
    // Without the base pair's sample there is nothing to judge against: the seed is a reject.
    let base: Candidate
    switch generated[0] {
    case .success(let candidate): base = candidate
    case .failure(let failure): return .drop(reason: failure.reason, detail: "base pair: \(failure.detail)")
    }
    let candidates = generated.compactMap { try? $0.get() }
    if candidates.count < generated.count {
      context.counters.add("candidates_failed", generated.count - candidates.count)
    }

    // Difficulty and quality of every candidate, concurrently.
    let scored = Concurrently.map(candidates.count) {
      index -> (small: Double, large: Double, judge: Double, verdicts: [String], fallback: Bool) in
      let candidate = candidates[index]
      let small = self.ifd(candidate, scorer: self.config.small, offline: scorers.small, context: context)
      let large = self.ifd(candidate, scorer: self.config.large, offline: scorers.large, context: context)
      if candidate.pair == nil { return (small.value, large.value, 0.5, [], small.fellBack || large.fellBack) }
      let (judge, verdicts) = self.judge(candidate, against: base, context: context)
      return (small.value, large.value, judge, verdicts, small.fellBack || large.fellBack)
    }
    let engineCandidates = zip(candidates, scored).map { candidate, score in
      StarAgentsEngine.Candidate(pair: candidate.pair, ifdSmall: score.small, ifdLarge: score.large, judge: score.judge)
    }
    let (scores, difficulty, best) = StarAgentsEngine.score(engineCandidates)
    let winner = best ?? 0
    let probabilities = engine.probabilities
    engine.evolve(zip(candidates, scores).compactMap { candidate, score in candidate.pair.map { ($0, score) } })
    if let pair = candidates[winner].pair { engine.remember(embedding: embedding, pair: pair) }
    if scored.contains(where: \.fallback) { context.counters.add("difficulty_offline_fallback") }
    context.counters.add("winner." + config.pairName(candidates[winner].pairIndex))

    let chosen = candidates[winner]
    let chosenScore = scored[winner]
    let candidateInfo: [JSONValue] = candidates.indices.map { index in
      .object([
        "pair": .string(config.pairName(candidates[index].pairIndex)), "base": .bool(candidates[index].pair == nil),
        "ifdSmall": .double(scored[index].small), "ifdLarge": .double(scored[index].large),
        "difficulty": .double(difficulty[index]), "quality": .double(scored[index].judge),
        "verdicts": .array(scored[index].verdicts.map { .string($0) }), "score": .double(scores[index]),
      ])
    }
    let probability = chosen.pair.map { probabilities[$0] }
    var output = record
    output.text = chosen.response
    output.setMetadata("instruction", .string(chosen.instruction))
    output.setMetadata("response", .string(chosen.response))
    output.setMetadata(
      "star",
      .object([
        "seed": .string(record.id), "seedInstruction": .string(seed),
        "pair": .string(config.pairName(chosen.pairIndex)), "base": .bool(chosen.pair == nil),
        "pairProbability": probability.map { .double($0) } ?? .null,
        "difficulty": .double(difficulty[winner]), "quality": .double(chosenScore.judge),
        "score": .double(scores[winner]), "verdicts": .array(chosenScore.verdicts.map { .string($0) }),
        "ifdSmall": .double(chosenScore.small), "ifdLarge": .double(chosenScore.large),
        "difficultyScorers": .string(
          chosenScore.fallback
            ? "offline n-gram (an endpoint gave no prompt log-probabilities)"
            : "small: \(config.small.label); large: \(config.large.label)"),
        "candidates": .array(candidateInfo),
      ]))
    let detail =
      "seed \(record.id): pair \(config.pairName(chosen.pairIndex))\(chosen.pair == nil ? " (base)" : "")"
      + ", difficulty \(format(difficulty[winner])), quality \(format(chosenScore.judge))"
      + (chosenScore.verdicts.isEmpty ? "" : " (\(chosenScore.verdicts.joined(separator: ", ")))")
      + ", score \(format(scores[winner])) of \(candidates.count) candidates"
    return .keepExplained(output, detail: detail)
  }

  private func format(_ value: Double) -> String { String(format: "%.3f", value) }

  // MARK: - Calls

  /// The seed's embedding from the endpoint, scaled to unit length.
  private func embed(_ text: String, endpoint: Endpoint, context: StageContext) throws -> [Float] {
    let client = try LLMConfig.client(for: endpoint, context: context)
    do {
      let reply = try client.send(EmbeddingRequest(inputs: [text]))
      LLMCounters.record(reply, usage: reply.response.usage, endpoint: endpoint.name, context: context)
      let vector = (reply.response.vectors.first ?? []).map { Float($0) }
      let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
      return norm > 0 ? vector.map { $0 / norm } : vector
    } catch let error as LLMError {
      LLMCounters.failure(error, endpoint: endpoint.name, context: context)
      throw error
    }
  }

  private func chat(
    _ messages: [ChatMessage], agent endpoint: Endpoint, temperature: Double, maxTokens: Int, seed: Int,
    context: StageContext
  ) throws -> String {
    let client = try LLMConfig.client(for: endpoint, context: context)
    do {
      let reply = try client.send(
        ChatRequest(messages: messages, temperature: temperature, maxTokens: maxTokens, seed: seed))
      LLMCounters.record(reply, usage: reply.response.usage, endpoint: endpoint.name, context: context)
      let text = reply.response.text.trimmingCharacters(in: .whitespacesAndNewlines)
      if text.isEmpty {
        throw AgentFailure(reason: "llm_empty_answer", detail: "empty answer from \(endpoint.name)")
      }
      return text
    } catch let error as LLMError {
      LLMCounters.failure(error, endpoint: endpoint.name, context: context)
      throw error
    }
  }

  private func rewrite(_ seed: String, by agent: StarAgentsConfig.Agent, context: StageContext) throws -> String {
    guard let template = agent.rewrite else { return seed }
    var messages: [ChatMessage] = []
    if let system = agent.system { messages.append(.system(system)) }
    messages.append(.user(template.replacingOccurrences(of: "{instruction}", with: seed)))
    return try chat(
      messages, agent: agent.endpoint, temperature: agent.temperature, maxTokens: agent.maxTokens, seed: agent.seed,
      context: context)
  }

  private func answer(_ instruction: String, by agent: StarAgentsConfig.Agent, context: StageContext) throws -> String {
    var messages: [ChatMessage] = []
    if let system = agent.system { messages.append(.system(system)) }
    messages.append(.user(instruction))
    return try chat(
      messages, agent: agent.endpoint, temperature: agent.temperature, maxTokens: agent.maxTokens, seed: agent.seed,
      context: context)
  }

  private func ifd(
    _ candidate: Candidate, scorer: StarAgentsConfig.Scorer, offline: NGramScorer, context: StageContext
  ) -> (value: Double, fellBack: Bool) {
    if case .endpoint(let endpoint) = scorer,
      let value = try? PromptLogprobs.ifd(
        instruction: candidate.instruction, response: candidate.response, endpoint: endpoint, context: context)
    {
      return (value, false)
    }
    let value = offline.ifd(instruction: candidate.instruction, response: candidate.response)
    if case .endpoint = scorer { return (value, true) }
    return (value, false)
  }

  /// The judge's preference for `candidate` over the base sample: 1, 0 or 0.5 per reading,
  /// averaged over both positions when `swapPositions` is set; an unparsable verdict counts
  /// as a tie and is counted.
  private func judge(_ candidate: Candidate, against base: Candidate, context: StageContext) -> (Double, [String]) {
    var values: [Double] = []
    var verdicts: [String] = []
    for swapped in config.swapPositions ? [false, true] : [false] {
      let (first, second) = swapped ? (base.response, candidate.response) : (candidate.response, base.response)
      let prompt = JudgePrompt.user(question: candidate.instruction, first: first, second: second)
      guard
        let text = try? chat(
          [.system(JudgePrompt.system), .user(prompt)], agent: config.judge, temperature: 0,
          maxTokens: config.judgeMaxTokens, seed: 0, context: context)
      else {
        values.append(0.5)
        verdicts.append("error")
        continue
      }
      switch JudgeVerdict.parse(text) {
      case .first?:
        values.append(swapped ? 0 : 1)
        verdicts.append("[[A]]")
      case .second?:
        values.append(swapped ? 1 : 0)
        verdicts.append("[[B]]")
      case .tie?:
        values.append(0.5)
        verdicts.append("[[C]]")
      case nil:
        context.counters.add("judge_unparsable")
        values.append(0.5)
        verdicts.append("unparsable")
      }
    }
    return (values.reduce(0, +) / Double(max(1, values.count)), verdicts)
  }
}

/// Why an agent produced no candidate.
struct AgentFailure: Error, Sendable {
  var reason: String
  var detail: String
}

/// The judge's prompts, after the FastChat pairwise format the paper used.
enum JudgePrompt {
  static let system =
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants "
    + "to the user question displayed below. Choose the assistant that follows the user's instructions and "
    + "answers the question better, considering helpfulness, relevance, accuracy, depth, creativity and level "
    + "of detail. Avoid any position bias: the order of the responses must not influence you, nor their length. "
    + "Be as objective as possible. After a brief explanation, output your final verdict strictly in this "
    + "format: \"[[A]]\" if assistant A is better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."

  static func user(question: String, first: String, second: String) -> String {
    "[User Question]\n\(question)\n\n[The Start of Assistant A's Answer]\n\(first)\n[The End of Assistant A's Answer]"
      + "\n\n[The Start of Assistant B's Answer]\n\(second)\n[The End of Assistant B's Answer]"
  }
}

/// The two offline n-gram models of a batch: the small one over the first half of the seeds,
/// the large one over all of them (a weaker and a stronger model of the same text).
struct OfflineScorers: Sendable {
  let small: NGramScorer
  let large: NGramScorer

  init(reference: [String], small: StarAgentsConfig.Scorer, large: StarAgentsConfig.Scorer) {
    func order(_ scorer: StarAgentsConfig.Scorer, _ fallback: Int) -> Int {
      if case .ngram(let order) = scorer { return order }
      return fallback
    }
    self.small = NGramScorer(order: order(small, 2), reference: Array(reference.prefix(max(1, reference.count / 2))))
    self.large = NGramScorer(order: order(large, 3), reference: reference)
  }
}

/// IFD from an endpoint's prompt log-probabilities (`/v1/completions` with `echo`): the mean
/// log-probability of the response's tokens after the instruction and alone.
enum PromptLogprobs {
  /// Throws when the endpoint gives no prompt log-probabilities (llama.cpp's server returns
  /// those of generated tokens only).
  static func ifd(instruction: String, response: String, endpoint: Endpoint, context: StageContext) throws -> Double {
    let prefix = instruction + "\n\n"
    let conditioned = try responseLogprobs(prompt: prefix + response, from: prefix.utf8.count, endpoint, context)
    let alone = try responseLogprobs(prompt: response, from: 0, endpoint, context)
    guard let value = InstructionFollowingDifficulty.value(conditioned: conditioned, unconditioned: alone) else {
      throw AgentFailure(reason: "no_prompt_logprobs", detail: "no prompt log-probabilities from \(endpoint.name)")
    }
    return value
  }

  private static func responseLogprobs(
    prompt: String, from offset: Int, _ endpoint: Endpoint, _ context: StageContext
  ) throws -> [Double] {
    let client = try LLMConfig.client(for: endpoint, context: context)
    let reply = try client.send(
      CompletionRequest(prompt: prompt, maxTokens: 1, temperature: 0, logprobs: 1, echo: true))
    LLMCounters.record(reply, usage: reply.response.usage, endpoint: endpoint.name, context: context)
    // Prompt tokens carry text offsets inside the prompt; generated ones start at its end.
    let promptBytes = prompt.utf8.count
    return (reply.response.tokenLogprobs ?? []).compactMap { token in
      guard let start = token.textOffset, start >= offset, start < promptBytes else { return nil }
      return token.logprob
    }
  }
}

/// The probabilities and memory bank `agents.star` carries from shard to shard.
struct StarAgentsState {
  var engine: StarAgentsEngine
  var pairNames: [String]

  init(engine: StarAgentsEngine, pairNames: [String]) {
    self.engine = engine
    self.pairNames = pairNames
  }

  /// Reads a saved state; the pairs must be the configured ones (a changed list reruns the
  /// stage from the start, since its fingerprint changes).
  init(json: JSONValue, expectedPairs: [String]) throws {
    guard let object = json.objectValue, let names = object["pairs"]?.arrayValue?.compactMap(\.stringValue),
      let probabilities = object["probabilities"]?.arrayValue?.compactMap(\.doubleValue),
      let memories = object["memories"]?.arrayValue
    else { throw PipeError(.corruptInput, "agents.star: the saved state is incomplete; rerun with --force") }
    guard names == expectedPairs, probabilities.count == names.count else {
      throw PipeError(.corruptInput, "agents.star: the saved state is for other pairs; rerun with --force")
    }
    let decoded = try memories.map { value -> StarAgentsEngine.Memory in
      guard let memory = value.objectValue, let pair = memory["pair"]?.intValue,
        let encoded = memory["embedding"]?.stringValue, let data = Data(base64Encoded: encoded)
      else { throw PipeError(.corruptInput, "agents.star: a saved memory is corrupt; rerun with --force") }
      let floats = data.withUnsafeBytes { raw in
        (0..<(raw.count / 4)).map {
          Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
        }
      }
      return StarAgentsEngine.Memory(embedding: floats, pair: pair)
    }
    engine = StarAgentsEngine(
      probabilities: probabilities, memories: decoded, parameters: StarAgentsEngine.Parameters())
    pairNames = names
  }

  var json: JSONValue {
    .object([
      "format": .string("pipe.star-agents-state"), "version": .int(1),
      "pairs": .array(pairNames.map { .string($0) }),
      "probabilities": .array(engine.probabilities.map { .double($0) }),
      "memories": .array(
        engine.memories.map { memory in
          var bytes = Data(capacity: memory.embedding.count * 4)
          for value in memory.embedding {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
          }
          return .object(["pair": .int(Int64(memory.pair)), "embedding": .string(bytes.base64EncodedString())])
        }),
    ])
  }
}
