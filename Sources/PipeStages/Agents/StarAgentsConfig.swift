import PipeCore
public import PipeLLM

/// The configuration of `agents.star`, read from the pipeline file with errors at JSON paths.
public struct StarAgentsConfig: Sendable {
  /// An LLM with a role: it answers instructions (with its system prompt and sampling), and,
  /// when it has a rewrite template, rewrites seed instructions too.
  public struct Agent: Sendable, Equatable {
    /// The agent's name.
    public var name: String
    /// The endpoint it calls.
    public var endpoint: Endpoint
    /// Its system prompt.
    public var system: String?
    /// How it rewrites an instruction (`{instruction}` is replaced); `nil` keeps instructions
    /// as they are when this agent is the instruction agent of a pair.
    public var rewrite: String?
    /// Sampling temperature.
    public var temperature: Double
    /// The most tokens per answer.
    public var maxTokens: Int
    /// Sampling seed sent with every request.
    public var seed: Int
  }

  /// How a candidate's IFD is measured under one of the two scoring models.
  public enum Scorer: Sendable, Equatable {
    /// An n-gram model of this order over the batch's seed texts, offline.
    case ngram(order: Int)
    /// Log-probabilities of the response's tokens from a model endpoint; falls back to the
    /// n-gram model, and says so, when the endpoint cannot give them.
    case endpoint(Endpoint, LogprobMethod)

    var label: String {
      switch self {
      case .ngram(let order): return "\(order)-gram (offline)"
      case .endpoint(let endpoint, let method): return "\(method.rawValue) log-probabilities of \(endpoint.name)"
      }
    }
  }

  /// How an endpoint gives the log-probabilities of a response's tokens.
  public enum LogprobMethod: String, Sendable, Equatable {
    /// Teacher forcing on llama.cpp's server: the response decoded under a grammar of its own
    /// token ids, after the model's chat template with and without the instruction.
    case forced
    /// `/v1/completions` with `echo` (vLLM, OpenAI's legacy API): prompt-token values of the
    /// instruction and response as plain text.
    case echo
  }

  /// The op's version: 1 keeps the first judge prompt (a bare verdict) and echo
  /// log-probabilities; 2 asks the judge to explain before its verdict and scores by forced
  /// decoding.
  public var version: Int

  /// The agents, by name.
  public var agents: [Agent]
  /// The evolvable pairs (instruction agent, response agent), by index into `agents`.
  public var pairs: [(instruction: Int, response: Int)]
  /// The pairs that always run; the first one's sample is what the judge compares against.
  public var basePairs: [(instruction: Int, response: Int)]
  /// The engine's parameters.
  public var parameters: StarAgentsEngine.Parameters
  /// The small (target) model's IFD.
  public var small: Scorer
  /// The large (reference) model's IFD.
  public var large: Scorer
  /// The judge.
  public var judge: Endpoint
  /// Whether the judge also sees the answers in swapped positions (the verdicts are averaged).
  public var swapPositions: Bool
  /// The most tokens of a verdict.
  public var judgeMaxTokens: Int
  /// How a record becomes the seed instruction.
  public var instruction: PromptTemplate
  /// Dimensions of the built-in instruction embedding.
  public var embeddingDimensions: Int
  /// The embeddings endpoint of the memory bank, or `nil` for the built-in hashed embedder.
  public var embeddings: Endpoint?
  /// Seeds per batch.
  public var batchSize: Int
  /// The most seeds to synthesize from; `nil` for all.
  public var maxSeeds: Int?

  /// Pair names as `instruction+response`.
  func pairName(_ pair: (instruction: Int, response: Int)) -> String {
    agents[pair.instruction].name + "+" + agents[pair.response].name
  }

  /// Reads the options of `agents.star@1`.
  ///
  /// - Throws: `ConfigValueError` at the member that is wrong.
  init(options: StarAgents.Options, version: Int) throws {
    self.version = version
    var endpoints: [String: Endpoint] = [:]
    for (name, value) in options.endpoints.members {
      guard !name.isEmpty, !name.contains(".") else {
        throw ConfigValueError("endpoints.\(name)", "endpoint names must be non-empty and without '.'")
      }
      endpoints[name] = try LLMConfig.endpoint(value, name: name, keyPath: "endpoints.\(name)")
    }
    guard !endpoints.isEmpty else {
      throw ConfigValueError(
        "endpoints", "expected at least one endpoint: {\"NAME\": {\"baseURL\": ..., \"model\": ...}}")
    }
    func endpoint(_ value: JSONValue?, keyPath: String) throws -> Endpoint {
      guard let name = value?.stringValue else {
        throw ConfigValueError(keyPath, "expected the name of an endpoint in \"endpoints\"")
      }
      guard let endpoint = endpoints[name] else {
        throw ConfigValueError(
          keyPath, "no endpoint \"\(name)\" (endpoints: \(endpoints.keys.sorted().joined(separator: ", ")))")
      }
      return endpoint
    }

    guard let agentList = options.agents.arrayValue, !agentList.isEmpty else {
      throw ConfigValueError("agents", "expected a non-empty array of agents")
    }
    let agentKeys = ["name", "endpoint", "system", "rewrite", "temperature", "maxTokens", "seed"]
    agents = try agentList.enumerated().map { index, value in
      let path = "agents[\(index)]"
      guard let object = value.objectValue else { throw ConfigValueError(path, "expected an agent object") }
      for key in object.keys where !agentKeys.contains(key) {
        throw ConfigValueError("\(path).\(key)", "unknown agent key (known: \(agentKeys.joined(separator: ", ")))")
      }
      guard let name = object["name"]?.stringValue, !name.isEmpty, !name.contains("+"), !name.contains(".") else {
        throw ConfigValueError("\(path).name", "expected a name without '+' or '.'")
      }
      if let rewrite = object["rewrite"]?.stringValue, !rewrite.contains("{instruction}") {
        throw ConfigValueError("\(path).rewrite", "the rewrite prompt must contain {instruction}")
      }
      return Agent(
        name: name, endpoint: try endpoint(object["endpoint"], keyPath: "\(path).endpoint"),
        system: object["system"]?.stringValue, rewrite: object["rewrite"]?.stringValue,
        temperature: object["temperature"]?.doubleValue ?? 0.7, maxTokens: object["maxTokens"]?.intValue ?? 256,
        seed: object["seed"]?.intValue ?? 0)
    }
    let names = agents.map(\.name)
    if Set(names).count != names.count { throw ConfigValueError("agents", "agent names must be unique") }

    func pairList(_ value: JSONValue?, keyPath: String) throws -> [(instruction: Int, response: Int)] {
      guard let list = value?.arrayValue else {
        throw ConfigValueError(keyPath, "expected [[INSTRUCTION, RESPONSE], ...]")
      }
      return try list.enumerated().map { index, pair in
        guard let members = pair.arrayValue, members.count == 2, let first = members[0].stringValue,
          let second = members[1].stringValue
        else { throw ConfigValueError("\(keyPath)[\(index)]", "expected [INSTRUCTION_AGENT, RESPONSE_AGENT]") }
        guard let instruction = names.firstIndex(of: first), let response = names.firstIndex(of: second) else {
          throw ConfigValueError("\(keyPath)[\(index)]", "unknown agent (agents: \(names.joined(separator: ", ")))")
        }
        return (instruction, response)
      }
    }
    basePairs = try pairList(options.basePairs, keyPath: "basePairs")
    guard !basePairs.isEmpty else {
      throw ConfigValueError("basePairs", "expected at least one base pair: its sample is what the judge compares with")
    }
    if case .string("all") = options.pairs {
      // Every combination, minus the base pairs (they always run and do not evolve).
      let base = Set(basePairs.map { "\($0.instruction),\($0.response)" })
      let count = agents.count
      var all: [(instruction: Int, response: Int)] = []
      for instruction in 0..<count {
        for response in 0..<count where !base.contains("\(instruction),\(response)") {
          all.append((instruction, response))
        }
      }
      pairs = all
    } else {
      pairs = try pairList(options.pairs, keyPath: "pairs")
    }
    guard !pairs.isEmpty else { throw ConfigValueError("pairs", "expected at least one pair besides the base pairs") }

    if options.memoryDraws > 0, options.memoryDraws >= options.samplesPerSeed {
      throw ConfigValueError(
        "memoryDraws",
        "is \(options.memoryDraws) with samplesPerSeed \(options.samplesPerSeed): once the memory bank holds a "
          + "winner, every sampled pair would come from it, and pairs that have not won would never be tried "
          + "again; use a value below samplesPerSeed, or 0")
    }
    parameters = StarAgentsEngine.Parameters(
      samplesPerSeed: options.samplesPerSeed, evolutionRate: options.evolutionRate,
      memoryDraws: options.memoryDraws, memoryTopN: options.memoryTopN,
      minimumProbability: options.minPairProbability, memoryCapacity: options.memoryCapacity)

    func scorer(_ value: JSONValue?, keyPath: String, defaultOrder: Int) throws -> Scorer {
      switch value {
      case nil, .null?: return .ngram(order: defaultOrder)
      case .string("ngram")?: return .ngram(order: defaultOrder)
      case .object(let object)?:
        for key in object.keys where !["ngram", "endpoint", "logprobs"].contains(key) {
          throw ConfigValueError("\(keyPath).\(key)", "unknown key (known: ngram, endpoint, logprobs)")
        }
        if let order = object["ngram"] {
          guard let order = order.intValue, (1...5).contains(order) else {
            throw ConfigValueError("\(keyPath).ngram", "expected an n-gram order in 1...5")
          }
          return .ngram(order: order)
        }
        var method: LogprobMethod = version >= 2 ? .forced : .echo
        if let value = object["logprobs"], value != .null {
          guard let name = value.stringValue, let named = LogprobMethod(rawValue: name) else {
            throw ConfigValueError(
              "\(keyPath).logprobs",
              "expected \"forced\" (llama.cpp's server) or \"echo\" (vLLM, /v1/completions), got \(value.jsonText)")
          }
          method = named
        }
        return .endpoint(try endpoint(object["endpoint"], keyPath: "\(keyPath).endpoint"), method)
      default:
        throw ConfigValueError(
          keyPath, "expected \"ngram\", {\"ngram\": ORDER} or {\"endpoint\": NAME, \"logprobs\": \"forced\"}")
      }
    }
    let difficulty = options.difficulty
    for key in difficulty.keys where key != "small" && key != "large" {
      throw ConfigValueError("difficulty.\(key)", "unknown key (known: small, large)")
    }
    small = try scorer(difficulty["small"], keyPath: "difficulty.small", defaultOrder: 2)
    large = try scorer(difficulty["large"], keyPath: "difficulty.large", defaultOrder: 3)
    if small == large { throw ConfigValueError("difficulty", "the small and large scorers must differ") }

    let judgeConfig = options.judge
    for key in judgeConfig.keys where !["endpoint", "swapPositions", "maxTokens"].contains(key) {
      throw ConfigValueError("judge.\(key)", "unknown key (known: endpoint, swapPositions, maxTokens)")
    }
    judge = try endpoint(judgeConfig["endpoint"], keyPath: "judge.endpoint")
    swapPositions = judgeConfig["swapPositions"]?.boolValue ?? true
    // An explanation before the verdict runs to 256 tokens and more on small models.
    judgeMaxTokens = judgeConfig["maxTokens"]?.intValue ?? (version >= 2 ? 512 : 128)
    instruction = try PromptTemplate(options.instruction, keyPath: "instruction")
    embeddingDimensions = options.embeddingDimensions
    embeddings = try options.embeddings.map { try endpoint(.string($0), keyPath: "embeddings") }
    batchSize = options.batchSize
    maxSeeds = options.maxSeeds
  }
}
