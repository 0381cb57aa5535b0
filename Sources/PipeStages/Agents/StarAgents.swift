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
  private let judge: PairwiseJudge

  init(config: StarAgentsConfig) {
    self.config = config
    embedder = HashedEmbedder(dimensions: config.embeddingDimensions)
    judge = PairwiseJudge(
      endpoint: config.judge, swapPositions: config.swapPositions, maxTokens: config.judgeMaxTokens,
      style: config.version >= 2 ? .explainFirst : .verdictOnly)
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
      "{small, large}: each \"ngram\", {\"ngram\": ORDER} or {\"endpoint\": NAME, \"logprobs\": \"forced\" or "
        + "\"echo\"} (forced: teacher forcing on llama.cpp's server, the default of version 2).")
    var difficulty: JSONObject
    @Setting(required: "{endpoint, swapPositions (true), maxTokens (512 in version 2, 128 in 1)}.")
    var judge: JSONObject
    @Setting("{text}", "How a record becomes the seed instruction.") var instruction: String
    @Setting(256, in: 16...4096, "Dimensions of the hashed embedding.") var embeddingDimensions: Int
    @Setting(nil, "An endpoint name for /v1/embeddings of seed instructions; null for the built-in hashed embedder.")
    var embeddings: String?
    @Setting(8, in: 1...256, "Seeds per batch (the n-gram scorers' reference).") var batchSize: Int
    @Setting(
      nil, in: 1...Int.max,
      "The most seeds to synthesize from, in input order; later records are rejects (seed_limit). null: all.")
    var maxSeeds: Int?
  }

  /// The op's name, version and config schema: the first judge prompt (a bare verdict) and
  /// echo log-probabilities.
  public static let descriptor = OpDescriptor(
    name: "agents.star", version: 1,
    summary: "Star-Agents: sample agent pairs per seed, score by difficulty x judged quality, keep the best, evolve.",
    options: Options.self,
    make: { options in .statefulBatch(StarAgents(config: try StarAgentsConfig(options: options, version: 1))) })

  /// Version 2: the judge explains before its verdict (small models judge at chance
  /// otherwise), endpoint difficulty comes from forced decoding, and the output records how
  /// every comparison went.
  public static let descriptorVersion2 = OpDescriptor(
    name: "agents.star", version: 2,
    summary:
      "Star-Agents with an explain-then-verdict judge and teacher-forced dual-model IFD from real model endpoints.",
    options: Options.self,
    make: { options in .statefulBatch(StarAgents(config: try StarAgentsConfig(options: options, version: 2))) })

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
      if let limit = config.maxSeeds, saved.seeds >= limit {
        outcomes.append(.drop(reason: "seed_limit", detail: "maxSeeds (\(limit)) seeds were synthesized already"))
        continue
      }
      saved.seeds += 1
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
        return .failure(
          AgentFailure(
            reason: "llm_" + error.kind.rawValue, detail: error.description,
            endpointFailure: error.kind.isEndpointFailure ? error : nil))
      } catch let error as AgentFailure {
        return .failure(error)
      } catch {
        return .failure(AgentFailure(reason: "llm_error", detail: "\(error)"))
      }
    }
    // An endpoint that is down fails the task: resume redoes the seed once it is back.
    for case .failure(let failure) in generated {
      if let outage = failure.endpointFailure {
        throw EndpointOutage.taskError(outage, context: context, during: "generating candidates")
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

    // Difficulty under both models and the judge's reading of every candidate: each a job of
    // its own, all at once, so the scorers' and the judge's servers work at the same time.
    enum Measure: CaseIterable { case small, large, judge }
    let measures = candidates.indices.flatMap { index in Measure.allCases.map { (index, $0) } }
    let measured = Concurrently.map(measures.count) { job -> Result<ScoreJob, any Error> in
      let (index, measure) = measures[job]
      let candidate = candidates[index]
      return Result {
        switch measure {
        case .small:
          return .small(try self.ifd(candidate, scorer: self.config.small, offline: scorers.small, context: context))
        case .large:
          return .large(try self.ifd(candidate, scorer: self.config.large, offline: scorers.large, context: context))
        case .judge:
          guard candidate.pair != nil else { return .judgement(Judgement(value: 0.5, readings: [])) }
          return .judgement(
            try self.judge.compare(
              question: candidate.instruction, candidate: candidate.response, reference: base.response,
              context: context))
        }
      }
    }
    for case .failure(let error) in measured {
      if let error = error as? LLMError {
        throw EndpointOutage.taskError(error, context: context, during: "scoring candidates")
      }
      throw error
    }
    // The jobs are in order: small, large, judge for each candidate.
    let scored = candidates.indices.map { index in
      var scores = CandidateScores(
        small: IFDScore(value: 0), large: IFDScore(value: 0), judgement: Judgement(value: 0.5, readings: []))
      for case .success(let part) in measured[(index * 3)..<(index * 3 + 3)] {
        switch part {
        case .small(let value): scores.small = value
        case .large(let value): scores.large = value
        case .judgement(let value): scores.judgement = value
        }
      }
      return scores
    }
    let engineCandidates = zip(candidates, scored).map { candidate, score in
      StarAgentsEngine.Candidate(
        pair: candidate.pair, ifdSmall: score.small.value, ifdLarge: score.large.value, judge: score.judgement.value)
    }
    let (scores, difficulty, best) = StarAgentsEngine.score(engineCandidates)
    let winner = best ?? 0
    let probabilities = engine.probabilities
    engine.evolve(zip(candidates, scores).compactMap { candidate, score in candidate.pair.map { ($0, score) } })
    if let pair = candidates[winner].pair { engine.remember(embedding: embedding, pair: pair) }
    for score in scored {
      for ifd in [score.small, score.large] where ifd.fallback != nil {
        context.counters.add("difficulty_offline_fallback")
      }
      context.counters.add("judge_readings", score.judgement.readings.count)
      context.counters.add("judge_unparsable", score.judgement.unparsable)
      context.counters.add("judge_followups", score.judgement.followedUp)
      if let agree = score.judgement.positionsAgree {
        context.counters.add("judge_swapped_comparisons")
        if agree { context.counters.add("judge_swap_agreed") }
      }
    }
    context.counters.add("winner." + config.pairName(candidates[winner].pairIndex))

    let chosen = candidates[winner]
    let chosenScore = scored[winner]
    let candidateInfo: [JSONValue] = candidates.indices.map { index in
      var info: JSONObject = [
        "pair": .string(config.pairName(candidates[index].pairIndex)), "base": .bool(candidates[index].pair == nil),
        "ifdSmall": .double(scored[index].small.value), "ifdLarge": .double(scored[index].large.value),
        "difficulty": .double(difficulty[index]), "quality": .double(scored[index].judgement.value),
        "verdicts": .array(scored[index].judgement.readings.map { .string($0.verdict) }),
        "score": .double(scores[index]),
      ]
      let fallbacks = [scored[index].small.fallback, scored[index].large.fallback].compactMap { $0 }
      if !fallbacks.isEmpty { info["difficultyFallback"] = .string(fallbacks.joined(separator: "; ")) }
      if config.version >= 2, candidates[index].pair != nil {
        info["response"] = .string(candidates[index].response)
        info["judgements"] = .array(scored[index].judgement.readings.map(\.json))
      }
      return .object(info)
    }
    let probability = chosen.pair.map { probabilities[$0] }
    let fellBack = [chosenScore.small, chosenScore.large].compactMap(\.fallback)
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
        "difficulty": .double(difficulty[winner]), "quality": .double(chosenScore.judgement.value),
        "score": .double(scores[winner]),
        "verdicts": .array(chosenScore.judgement.readings.map { .string($0.verdict) }),
        "ifdSmall": .double(chosenScore.small.value), "ifdLarge": .double(chosenScore.large.value),
        "difficultyScorers": .string(
          fellBack.isEmpty
            ? "small: \(config.small.label); large: \(config.large.label)"
            : "offline n-gram (\(fellBack.joined(separator: "; ")))"),
        "candidates": .array(candidateInfo),
      ]))
    let verdicts = chosenScore.judgement.readings.map(\.verdict)
    let detail =
      "seed \(record.id): pair \(config.pairName(chosen.pairIndex))\(chosen.pair == nil ? " (base)" : "")"
      + ", difficulty \(format(difficulty[winner])), quality \(format(chosenScore.judgement.value))"
      + (verdicts.isEmpty ? "" : " (\(verdicts.joined(separator: ", ")))")
      + ", score \(format(scores[winner])) of \(candidates.count) candidates"
    return .keepExplained(output, detail: detail)
  }

  private func format(_ value: Double) -> String { String(format: "%.3f", value) }

  /// What one scoring job measured.
  private enum ScoreJob: Sendable {
    case small(IFDScore)
    case large(IFDScore)
    case judgement(Judgement)
  }

  /// A candidate's IFD under both models and the judge's preference for it.
  private struct CandidateScores: Sendable {
    var small: IFDScore
    var large: IFDScore
    var judgement: Judgement
  }

  /// An IFD value and, when the configured endpoint could not give it, why the offline n-gram
  /// value stands in.
  private struct IFDScore: Sendable {
    var value: Double
    var fallback: String?
  }

  // MARK: - Calls

  /// The seed's embedding from the endpoint, scaled to unit length.
  private func embed(_ text: String, endpoint: Endpoint, context: StageContext) throws -> [Float] {
    let client = try LLMConfig.client(for: endpoint, context: context)
    let reply = try LLMCounters.send(
      EmbeddingRequest(inputs: [text]), with: client, endpoint: endpoint.name, context: context)
    let vector = (reply.response.vectors.first ?? []).map { Float($0) }
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? vector.map { $0 / norm } : vector
  }

  private func chat(
    _ messages: [ChatMessage], agent endpoint: Endpoint, temperature: Double, maxTokens: Int, seed: Int,
    context: StageContext
  ) throws -> String {
    let client = try LLMConfig.client(for: endpoint, context: context)
    let reply = try LLMCounters.send(
      ChatRequest(messages: messages, temperature: temperature, maxTokens: maxTokens, seed: seed), with: client,
      endpoint: endpoint.name, context: context)
    let text = reply.response.text.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.isEmpty {
      throw AgentFailure(reason: "llm_empty_answer", detail: "empty answer from \(endpoint.name)")
    }
    return text
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

  /// The candidate's IFD under `scorer`: from the endpoint when it is one, else (or when the
  /// endpoint cannot give log-probabilities) from the offline n-gram model, saying why.
  ///
  /// - Throws: `LLMError` when the endpoint itself fails (the task fails).
  private func ifd(
    _ candidate: Candidate, scorer: StarAgentsConfig.Scorer, offline: NGramScorer, context: StageContext
  ) throws -> IFDScore {
    guard case .endpoint(let endpoint, let method) = scorer else {
      return IFDScore(value: offline.ifd(instruction: candidate.instruction, response: candidate.response))
    }
    let reason: String
    do {
      let value: Double
      switch method {
      case .forced:
        value = try ForcedIFD.value(
          instruction: candidate.instruction, response: candidate.response, endpoint: endpoint, context: context)
      case .echo:
        value = try PromptLogprobs.ifd(
          instruction: candidate.instruction, response: candidate.response, endpoint: endpoint, context: context)
      }
      return IFDScore(value: value)
    } catch let error as LLMError {
      if error.kind.isEndpointFailure { throw error }
      reason = "\(endpoint.name): \(error.kind.rawValue)"
    } catch let failure as TeacherForcing.Failure {
      reason = failure.description
    } catch let failure as AgentFailure {
      reason = failure.detail
    }
    context.counters.add("difficulty_fallback." + endpoint.name)
    return IFDScore(
      value: offline.ifd(instruction: candidate.instruction, response: candidate.response), fallback: reason)
  }
}

/// Why an agent produced no candidate.
struct AgentFailure: Error, Sendable {
  var reason: String
  var detail: String
  /// Set when the endpoint itself failed: the task fails instead of the seed being rejected.
  var endpointFailure: LLMError? = nil
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

/// IFD by teacher forcing on a llama.cpp-compatible server: the response's token
/// log-probabilities after the model's chat template with the instruction as the user's
/// message (PPL(R | I)) and with an empty user message (PPL(R)); IFD = PPL(R | I) / PPL(R).
/// The empty message keeps the "assistant answers" framing in both, so the ratio measures what
/// the instruction itself tells the model.
enum ForcedIFD {
  static func value(instruction: String, response: String, endpoint: Endpoint, context: StageContext) throws -> Double {
    let client = try LLMConfig.client(for: endpoint, context: context)
    func logprobs(after messages: [ChatMessage]) throws -> [Double] {
      let prompt = try LLMCounters.send(
        ApplyTemplateRequest(messages: messages), with: client, endpoint: endpoint.name, context: context)
      let forced = try TeacherForcing.logprobs(of: response, after: prompt.response.prompt, client: client)
      LLMCounters.record(forced.tokenize, usage: nil, endpoint: endpoint.name, context: context)
      LLMCounters.record(forced.decode, usage: forced.decode.response.usage, endpoint: endpoint.name, context: context)
      return forced.logprobs
    }
    let conditioned = try logprobs(after: [.user(instruction)])
    let alone = try logprobs(after: [.user("")])
    guard let value = InstructionFollowingDifficulty.value(conditioned: conditioned, unconditioned: alone) else {
      throw AgentFailure(reason: "no_logprobs", detail: "no log-probabilities from \(endpoint.name)")
    }
    return value
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
  /// Seeds taken so far (for `maxSeeds`).
  var seeds: Int

  init(engine: StarAgentsEngine, pairNames: [String], seeds: Int = 0) {
    self.engine = engine
    self.pairNames = pairNames
    self.seeds = seeds
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
    seeds = object["seeds"]?.intValue ?? 0
  }

  var json: JSONValue {
    .object([
      "format": .string("pipe.star-agents-state"), "version": .int(1),
      "pairs": .array(pairNames.map { .string($0) }),
      "probabilities": .array(engine.probabilities.map { .double($0) }), "seeds": .int(Int64(seeds)),
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
