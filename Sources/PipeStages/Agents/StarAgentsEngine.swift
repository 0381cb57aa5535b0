public import PipeCore

/// The arithmetic of Star-Agents (Zhou et al., NeurIPS 2024, arXiv 2411.14497), apart from any
/// LLM: which agent pairs answer a seed, how candidates are scored, and how pair probabilities
/// evolve. Deterministic: every draw comes from the generator it is given.
///
/// - Pair sampling: M pairs per seed by their probabilities p (uniform at first), without
///   replacement; up to `memoryDraws` of them from the pairs that won for the `memoryTopN`
///   stored instructions nearest to this one (the Instruction Memory Bank), renormalised.
/// - Difficulty: π_dual = (IFD_small - IFD_large) / the largest such gap among the seed's
///   candidates, clamped to [0, 1] (a candidate easier for the small model than for the large
///   one is not "hard but learnable").
/// - Quality: π_llm = 1, 0 or 0.5 when the judge prefers the candidate, the base pair's
///   sample, or neither.
/// - Score π = π_llm × π_dual; the best candidate is kept. Evolution: p ← (p + β π) / Σ for
///   every sampled pair (base pairs always run and do not evolve).
public struct StarAgentsEngine: Sendable {
  /// The algorithm's parameters.
  public struct Parameters: Sendable, Equatable {
    /// Pairs sampled per seed (M).
    public var samplesPerSeed: Int
    /// β in p ← (p + β π) / Σ.
    public var evolutionRate: Double
    /// How many of the M pairs come from the memory bank's nearest instructions (l).
    public var memoryDraws: Int
    /// How many nearest stored instructions form the memory pool (n).
    public var memoryTopN: Int
    /// A floor under every probability after each update (0 lets weak pairs die out; at most
    /// 1 / number of pairs).
    public var minimumProbability: Double
    /// The most instructions the bank keeps (the oldest go first).
    public var memoryCapacity: Int

    /// Creates parameters.
    public init(
      samplesPerSeed: Int = 3, evolutionRate: Double = 0.01, memoryDraws: Int = 1, memoryTopN: Int = 8,
      minimumProbability: Double = 0, memoryCapacity: Int = 10_000
    ) {
      self.samplesPerSeed = samplesPerSeed
      self.evolutionRate = evolutionRate
      self.memoryDraws = memoryDraws
      self.memoryTopN = memoryTopN
      self.minimumProbability = minimumProbability
      self.memoryCapacity = memoryCapacity
    }
  }

  /// One stored instruction: its embedding and the pair whose sample won for it.
  public struct Memory: Sendable, Equatable {
    /// The instruction's embedding (unit length).
    public var embedding: [Float]
    /// The index of the winning pair.
    public var pair: Int

    /// Creates a memory.
    public init(embedding: [Float], pair: Int) {
      self.embedding = embedding
      self.pair = pair
    }
  }

  /// The scores of one candidate.
  public struct Candidate: Sendable, Equatable {
    /// The pair's index, or `nil` for a base pair's sample.
    public var pair: Int?
    /// IFD under the small (target) model.
    public var ifdSmall: Double
    /// IFD under the large (reference) model.
    public var ifdLarge: Double
    /// The judge's verdict against the base sample, in [0, 1] (1 = candidate better).
    public var judge: Double

    /// Creates a candidate.
    public init(pair: Int?, ifdSmall: Double, ifdLarge: Double, judge: Double) {
      self.pair = pair
      self.ifdSmall = ifdSmall
      self.ifdLarge = ifdLarge
      self.judge = judge
    }
  }

  /// The parameters.
  public var parameters: Parameters
  /// The probability of each evolvable pair; sums to 1.
  public private(set) var probabilities: [Double]
  /// The Instruction Memory Bank, oldest first.
  public private(set) var memories: [Memory]

  /// Creates an engine with uniform probabilities over `pairCount` pairs and an empty bank.
  public init(pairCount: Int, parameters: Parameters) {
    self.parameters = parameters
    probabilities = [Double](repeating: pairCount > 0 ? 1 / Double(pairCount) : 0, count: pairCount)
    memories = []
  }

  /// Creates an engine from saved probabilities and memories.
  public init(probabilities: [Double], memories: [Memory], parameters: Parameters) {
    self.parameters = parameters
    self.probabilities = probabilities
    self.memories = memories
  }

  /// The pairs to run for a seed whose instruction embeds as `embedding`.
  public func samplePairs(embedding: [Float], using rng: inout SeededRNG) -> [Int] {
    let wanted = min(parameters.samplesPerSeed, probabilities.count)
    var chosen: [Int] = []
    // The proficient pool: pairs that won for the nearest stored instructions.
    let pool = Set(nearestMemories(to: embedding).map(\.pair))
    if !pool.isEmpty, parameters.memoryDraws > 0 {
      let fromPool = Self.draw(
        min(parameters.memoryDraws, wanted), from: probabilities, allowed: pool, excluding: [], using: &rng)
      chosen += fromPool
    }
    chosen += Self.draw(
      wanted - chosen.count, from: probabilities, allowed: nil, excluding: Set(chosen), using: &rng)
    return chosen
  }

  /// The stored instructions most similar to `embedding` (cosine; ties to the older one).
  public func nearestMemories(to embedding: [Float]) -> [Memory] {
    guard parameters.memoryTopN > 0, !memories.isEmpty else { return [] }
    let scored = memories.enumerated().map { index, memory in (index, Self.dot(memory.embedding, embedding)) }
    return scored.sorted { ($0.1, -$0.0) > ($1.1, -$1.0) }.prefix(parameters.memoryTopN).map { memories[$0.0] }
  }

  /// π for each candidate, and the index of the one to keep (the highest π; ties to the
  /// earlier candidate).
  public static func score(_ candidates: [Candidate]) -> (scores: [Double], difficulty: [Double], best: Int?) {
    let gaps = candidates.map { max(0, $0.ifdSmall - $0.ifdLarge) }
    let largest = gaps.max() ?? 0
    let difficulty = gaps.map { largest > 0 ? $0 / largest : 0 }
    let scores = zip(candidates, difficulty).map { candidate, difficulty in candidate.judge * difficulty }
    var best: Int? = nil
    for index in scores.indices where best.map({ scores[index] > scores[$0] }) ?? true {
      best = index
    }
    return (scores, difficulty, best)
  }

  /// p ← (p + β π) / Σ for every sampled pair's score.
  public mutating func evolve(_ scores: [(pair: Int, score: Double)]) {
    for (pair, score) in scores where probabilities.indices.contains(pair) {
      probabilities[pair] += parameters.evolutionRate * max(0, score)
    }
    normalize()
    applyFloor()
  }

  /// Raises every probability below the floor to it and scales the others down to make room,
  /// repeating while the scaling pushes another below the floor.
  private mutating func applyFloor() {
    let floor = min(parameters.minimumProbability, 1 / Double(max(1, probabilities.count)))
    guard floor > 0 else { return }
    var pinned = Set<Int>()
    while true {
      let low = probabilities.indices.filter { !pinned.contains($0) && probabilities[$0] < floor }
      if low.isEmpty { return }
      pinned.formUnion(low)
      let free = probabilities.indices.filter { !pinned.contains($0) }
      let freeMass = free.reduce(0.0) { $0 + probabilities[$1] }
      let room = 1 - Double(pinned.count) * floor
      for index in pinned { probabilities[index] = floor }
      for index in free where freeMass > 0 { probabilities[index] *= room / freeMass }
    }
  }

  /// Stores the winning pair of an instruction in the bank.
  public mutating func remember(embedding: [Float], pair: Int) {
    memories.append(Memory(embedding: embedding, pair: pair))
    if memories.count > parameters.memoryCapacity {
      memories.removeFirst(memories.count - parameters.memoryCapacity)
    }
  }

  private mutating func normalize() {
    let sum = probabilities.reduce(0, +)
    guard sum > 0 else { return }
    probabilities = probabilities.map { $0 / sum }
  }

  /// `count` distinct indices drawn by weight among `allowed` (all when nil) minus `excluded`;
  /// when fewer have weight, the rest are drawn uniformly among the remaining indices so that
  /// a seed still gets M candidates.
  static func draw(
    _ count: Int, from weights: [Double], allowed: Set<Int>?, excluding excluded: Set<Int>, using rng: inout SeededRNG
  ) -> [Int] {
    var chosen: [Int] = []
    var taken = excluded
    while chosen.count < count {
      let open = weights.indices.filter { !taken.contains($0) && (allowed?.contains($0) ?? true) }
      if open.isEmpty { break }
      let total = open.reduce(0.0) { $0 + weights[$1] }
      var pick = open[0]
      if total > 0 {
        var target = Self.unit(&rng) * total
        for index in open {
          target -= weights[index]
          pick = index
          if target < 0 { break }
        }
      } else {
        pick = open[Int(rng.next() % UInt64(open.count))]
      }
      chosen.append(pick)
      taken.insert(pick)
    }
    return chosen
  }

  static func unit(_ rng: inout SeededRNG) -> Double {
    Double(rng.next() >> 11) * 0x1.0p-53
  }

  static func dot(_ lhs: [Float], _ rhs: [Float]) -> Float {
    var sum: Float = 0
    for index in 0..<min(lhs.count, rhs.count) { sum += lhs[index] * rhs[index] }
    return sum
  }
}
