import Foundation
import PipeCore
import PipeLLM

/// An LLM judge of two answers to one question, in the FastChat pairwise format (the one the
/// Star-Agents paper used): it reads the answers in one order and, with `swapPositions`, in the
/// other too, and averages its preference, so that a judge that favours a position is not
/// mistaken for one that favours an answer.
struct PairwiseJudge: Sendable {
  /// How the judge is asked for its verdict.
  enum Style: Sendable {
    /// The FastChat prompt as it is: "after a brief explanation", a verdict. Small models
    /// (Qwen2.5 0.5B and 1.5B) answer a bare `[[B]]` to it almost always.
    case verdictOnly
    /// The user message ends by asking for a short comparison first, then the verdict. When the
    /// answer has no verdict (the 1.5B ran on comparing until the token limit in a sixth of its
    /// readings), a second call asks for the verdict alone, constrained by a JSON schema so that
    /// it parses. (A schema on the first call made the 1.5B write one stock sentence and answer
    /// "A" whatever the order: 23 of 36 readings right, against 17 of 22 in free text.)
    case explainFirst
  }

  let endpoint: Endpoint
  let swapPositions: Bool
  let maxTokens: Int
  let style: Style

  /// The judge's preference for `candidate` over `reference` as answers to `question`: per
  /// reading 1 (candidate better), 0 (reference better) or 0.5 (a tie, an unparsable verdict or
  /// a refused request), averaged over the readings.
  ///
  /// - Throws: `LLMError` when the endpoint itself fails (`isEndpointFailure`): the caller
  ///   fails its task rather than record a made-up verdict.
  func compare(question: String, candidate: String, reference: String, context: StageContext) throws -> Judgement {
    let client = try LLMConfig.client(for: endpoint, context: context)
    var readings: [Judgement.Reading] = []
    for swapped in swapPositions ? [false, true] : [false] {
      let (first, second) = swapped ? (reference, candidate) : (candidate, reference)
      let messages: [ChatMessage] = [
        .system(JudgePrompt.system(style)),
        .user(JudgePrompt.user(question: question, first: first, second: second, style: style)),
      ]
      var text = ""
      var verdict: JudgeVerdict? = nil
      var followedUp = false
      do {
        text = try ask(messages, maxTokens: maxTokens, format: nil, client: client, context: context)
        verdict = JudgeVerdict.parse(text)
        if verdict == nil, style == .explainFirst {
          // The comparison ran to the token limit or ended without a verdict: ask for the
          // verdict alone after it, constrained by a schema so that it parses.
          followedUp = true
          let answer = try ask(
            messages + [.assistant(text), .user(JudgePrompt.verdictRequest)], maxTokens: 16,
            format: JudgePrompt.verdictSchema, client: client, context: context)
          verdict = JudgeVerdict.parse(answer, json: true)
        }
      } catch let error as LLMError {
        if error.kind.isEndpointFailure { throw error }
        readings.append(
          Judgement.Reading(
            candidateFirst: !swapped, verdict: "error", value: 0.5, explanation: error.description, followedUp: false))
        continue
      }
      let reading: (verdict: String, value: Double)
      switch verdict {
      case .first?: reading = ("[[A]]", swapped ? 0 : 1)
      case .second?: reading = ("[[B]]", swapped ? 1 : 0)
      case .tie?: reading = ("[[C]]", 0.5)
      case nil: reading = ("unparsable", 0.5)
      }
      readings.append(
        Judgement.Reading(
          candidateFirst: !swapped, verdict: reading.verdict, value: reading.value,
          explanation: String(text.prefix(600)), followedUp: followedUp))
    }
    let value = readings.map(\.value).reduce(0, +) / Double(max(1, readings.count))
    return Judgement(value: value, readings: readings)
  }

  /// One call to the judge, counted; its trimmed text.
  private func ask(
    _ messages: [ChatMessage], maxTokens: Int, format: ResponseFormat?, client: LLMClient, context: StageContext
  ) throws -> String {
    let reply = try LLMCounters.send(
      ChatRequest(messages: messages, temperature: 0, maxTokens: maxTokens, seed: 0, responseFormat: format),
      with: client, endpoint: endpoint.name, context: context)
    return reply.response.text.trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// The judge's preference for a candidate over a reference, and each reading.
struct Judgement: Sendable {
  /// 1, 0 or 0.5 per reading, averaged.
  var value: Double
  /// The readings, in the order made.
  var readings: [Reading]

  /// One reading: the candidate shown first or second, the verdict, the preference for the
  /// candidate it gives, and the judge's text (its first 600 characters).
  struct Reading: Sendable {
    var candidateFirst: Bool
    var verdict: String
    var value: Double
    var explanation: String
    /// Whether the verdict came from a second call asking for it alone.
    var followedUp: Bool

    var json: JSONValue {
      .object([
        "order": .string(candidateFirst ? "candidate first" : "reference first"), "verdict": .string(verdict),
        "preference": .double(value), "explanation": .string(explanation), "followUp": .bool(followedUp),
      ])
    }
  }

  /// Whether both readings of a swapped comparison point to the same answer (a tie in both
  /// counts); `nil` with one reading.
  var positionsAgree: Bool? {
    readings.count == 2 ? readings[0].value == readings[1].value : nil
  }

  /// Readings whose verdict did not parse.
  var unparsable: Int { readings.filter { $0.verdict == "unparsable" }.count }

  /// Readings whose verdict needed the follow-up call.
  var followedUp: Int { readings.filter(\.followedUp).count }
}

/// The judge's prompts, after the FastChat pairwise format.
enum JudgePrompt {
  static let fastChatSystem =
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants "
    + "to the user question displayed below. Choose the assistant that follows the user's instructions and "
    + "answers the question better, considering helpfulness, relevance, accuracy, depth, creativity and level "
    + "of detail. Avoid any position bias: the order of the responses must not influence you, nor their length. "
    + "Be as objective as possible."

  /// The system message: FastChat's, with its verdict format.
  static func system(_ style: PairwiseJudge.Style) -> String {
    fastChatSystem
      + " After a brief explanation, output your final verdict strictly in this format: \"[[A]]\" if assistant "
      + "A is better, \"[[B]]\" if assistant B is better, and \"[[C]]\" for a tie."
  }

  /// The question and both answers, then, for `explainFirst`, the request to compare first.
  static func user(question: String, first: String, second: String, style: PairwiseJudge.Style) -> String {
    "[User Question]\n\(question)\n\n[The Start of Assistant A's Answer]\n\(first)\n[The End of Assistant A's Answer]"
      + "\n\n[The Start of Assistant B's Answer]\n\(second)\n[The End of Assistant B's Answer]"
      + (style == .explainFirst ? "\n\n" + explainRequest : "")
  }

  static let explainRequest =
    "First write two or three sentences comparing the answers: which one is correct and which one is wrong or "
    + "unhelpful. Then give your final verdict as [[A]], [[B]] or [[C]]."

  /// The follow-up when a comparison ended without a verdict.
  static let verdictRequest = "Give your final verdict now: A, B or C (a tie)."

  /// `{"verdict": "A" | "B" | "C"}`.
  static let verdictSchema = ResponseFormat.jsonSchema(
    name: "verdict",
    schema: .object([
      "type": .string("object"),
      "properties": .object([
        "verdict": .object(["type": .string("string"), "enum": .array(["A", "B", "C"].map { .string($0) })])
      ]),
      "required": .array([.string("verdict")]),
      "additionalProperties": .bool(false),
    ]))
}

/// The judge's verdict in the FastChat format: `[[A]]`, `[[B]]` or `[[C]]` (tie).
public enum JudgeVerdict: String, Sendable {
  /// The first answer is better.
  case first = "A"
  /// The second answer is better.
  case second = "B"
  /// Neither.
  case tie = "C"

  /// The verdict of a `{"comparison", "verdict"}` answer when `json` is set and the answer is
  /// one; else the last `[[X]]` in `text`; `nil` when it has none.
  public static func parse(_ text: String, json: Bool) -> JudgeVerdict? {
    if json, let object = (try? JSONValue.parse(Array(text.utf8)))?.objectValue,
      let verdict = object["verdict"]?.stringValue?.trimmingCharacters(in: .whitespaces).uppercased(),
      let parsed = JudgeVerdict(rawValue: verdict)
    {
      return parsed
    }
    return parse(text)
  }

  /// The last verdict in `text`, or `nil` when it has none.
  public static func parse(_ text: String) -> JudgeVerdict? {
    var found: JudgeVerdict? = nil
    var rest = Substring(text)
    while let open = rest.range(of: "[[") {
      let after = rest[open.upperBound...]
      if let close = after.range(of: "]]") {
        let inner = after[..<close.lowerBound].trimmingCharacters(in: .whitespaces).uppercased()
        if let verdict = JudgeVerdict(rawValue: inner) { found = verdict }
        rest = after[close.upperBound...]
      } else {
        break
      }
    }
    return found
  }
}
