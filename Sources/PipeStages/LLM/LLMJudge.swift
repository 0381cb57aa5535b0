public import PipeCore
import PipeLLM

/// `llm.judge@1`: an LLM judge's pairwise preference between two answers of each record (in
/// its metadata), read in both positions: preference data for training, a check of a judge
/// before it decides a synthesis, or a comparison of two generations. The record gets
/// `metadata.OUTPUT` = {preference (1: the answer is better, 0: the reference is), verdicts,
/// positionsAgree, readings with the judge's explanations}. A record lacking a field is a
/// reject; an endpoint that is down fails the task (`pipe resume` redoes it).
public struct LLMJudge: BatchRecordStage {
  /// The op's config keys.
  struct Options: ConfigSchema {
    @Setting(required: "{baseURL, model, maxConcurrentRequests, timeoutSeconds, ...}.") var endpoint: JSONObject
    @Setting("judge", "The endpoint's name in counters and the cache.") var name: String
    @Setting("{metadata.question}", "The question: {text}, {id} and {metadata.KEY} are replaced.") var question: String
    @Setting("{metadata.answer}", "The answer whose preference is measured.") var answer: String
    @Setting("{metadata.reference}", "The answer it is compared with.") var reference: String
    @Setting(true, "Judge in both orders and average (a position bias then shows as disagreement).")
    var swapPositions: Bool
    @Setting(
      "explain", oneOf: ["explain", "verdict"],
      "explain: a short comparison before the verdict; verdict: the FastChat prompt as it is.")
    var style: String
    @Setting(512, in: 16...100_000, "The most tokens of a judgement (an explanation needs 100 to 300).")
    var maxTokens: Int
    @Setting("judgement", "The metadata key of the result.") var output: String
    @Setting(8, in: 1...1024, "Records handed to the stage at a time.", affectsOutput: false) var batchSize: Int
  }

  /// The op's name, version and config schema.
  public static let descriptor = OpDescriptor(
    name: "llm.judge", version: 1,
    summary: "Ask an LLM judge which of two answers in each record is better, in both positions.",
    options: Options.self, make: { options in .batch(try LLMJudge(options: options)) })

  let judge: PairwiseJudge
  let question: PromptTemplate
  let answer: PromptTemplate
  let reference: PromptTemplate
  let output: String
  /// Records per batch.
  public let batchSize: Int

  init(options: Options) throws {
    let endpoint = try LLMConfig.endpoint(.object(options.endpoint), name: options.name, keyPath: "endpoint")
    judge = PairwiseJudge(
      endpoint: endpoint, swapPositions: options.swapPositions, maxTokens: options.maxTokens,
      style: options.style == "verdict" ? .verdictOnly : .explainFirst)
    question = try PromptTemplate(options.question, keyPath: "question")
    answer = try PromptTemplate(options.answer, keyPath: "answer")
    reference = try PromptTemplate(options.reference, keyPath: "reference")
    output = options.output
    if output.isEmpty { throw ConfigValueError("output", "expected a metadata key") }
    batchSize = options.batchSize
  }

  /// Judges every record of the batch at once (up to the endpoint's concurrency limit).
  public func process(_ batch: [Record], context: StageContext) throws -> [BatchOutcome] {
    let results = Concurrently.map(batch.count) { index -> Result<BatchOutcome, LLMError> in
      self.judgement(of: batch[index], context: context)
    }
    if let outage = EndpointOutage.firstFailure(in: results, context: context) { throw outage }
    return results.compactMap { try? $0.get() }
  }

  private func judgement(of record: Record, context: StageContext) -> Result<BatchOutcome, LLMError> {
    var texts: [String] = []
    for template in [question, answer, reference] {
      switch template.render(record) {
      case .success(let text): texts.append(text)
      case .failure(let missing):
        return .success(.drop(reason: LLMGenerate.missingFieldReason, detail: "the judge needs \(missing.name)"))
      }
    }
    let judgement: Judgement
    do {
      judgement = try judge.compare(question: texts[0], candidate: texts[1], reference: texts[2], context: context)
    } catch let error as LLMError {
      return .failure(error)
    } catch {
      return .success(.drop(reason: "llm_error", detail: "\(error)"))
    }
    context.counters.add("judge_readings", judgement.readings.count)
    context.counters.add("judge_unparsable", judgement.unparsable)
    context.counters.add("judge_followups", judgement.followedUp)
    if let agree = judgement.positionsAgree {
      context.counters.add("judge_swapped_comparisons")
      if agree { context.counters.add("judge_swap_agreed") }
    }
    var record = record
    record.setMetadata(
      output,
      .object([
        "preference": .double(judgement.value),
        "verdicts": .array(judgement.readings.map { .string($0.verdict) }),
        "positionsAgree": judgement.positionsAgree.map { .bool($0) } ?? .null,
        "readings": .array(judgement.readings.map(\.json)),
      ]))
    return .success(.keep(record))
  }
}
