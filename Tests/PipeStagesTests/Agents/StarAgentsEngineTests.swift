import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// A normal draw (Box-Muller) for the simulated scores.
private func gaussian(_ rng: inout SeededRNG) -> Double {
  let u = max(StarAgentsEngine.unit(&rng), 1e-12)
  let v = StarAgentsEngine.unit(&rng)
  return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
}

/// A random unit vector: each simulated seed is a different instruction.
private func embedding(_ rng: inout SeededRNG, dimensions: Int = 16) -> [Float] {
  let values = (0..<dimensions).map { _ in Float(gaussian(&rng)) }
  let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
  return values.map { $0 / norm }
}

private func spearman(_ xs: [Double], _ ys: [Double]) -> Double {
  func ranks(_ values: [Double]) -> [Double] {
    var result = [Double](repeating: 0, count: values.count)
    for (rank, index) in values.indices.sorted(by: { values[$0] < values[$1] }).enumerated() {
      result[index] = Double(rank)
    }
    return result
  }
  let (rx, ry) = (ranks(xs), ranks(ys))
  let n = Double(xs.count)
  let d2 = zip(rx, ry).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
  return 1 - 6 * d2 / (n * (n * n - 1))
}

/// Runs the algorithm on scripted agent pairs of known quality: a pair's candidates are harder
/// for the small model (larger IFD gap) and win against the base sample more often the better
/// the pair, both with noise, as in the research notes' simulation.
private func simulate(
  qualities: [Double], seeds: Int, parameters: StarAgentsEngine.Parameters, runSeed: UInt64
) -> StarAgentsEngine {
  var engine = StarAgentsEngine(pairCount: qualities.count, parameters: parameters)
  var rng = SeededRNG(seed: runSeed)
  let baseQuality = 0.55
  for _ in 0..<seeds {
    let instruction = embedding(&rng)
    let pairs = engine.samplePairs(embedding: instruction, using: &rng)
    var candidates = pairs.map { pair -> StarAgentsEngine.Candidate in
      let quality = qualities[pair]
      let gap = max(0, quality + 0.1 * gaussian(&rng))
      let margin = (quality + 0.1 * gaussian(&rng)) - (baseQuality + 0.1 * gaussian(&rng))
      let judge = margin > 0.05 ? 1.0 : margin < -0.05 ? 0.0 : 0.5
      return StarAgentsEngine.Candidate(pair: pair, ifdSmall: 1 + gap, ifdLarge: 1, judge: judge)
    }
    candidates.append(StarAgentsEngine.Candidate(pair: nil, ifdSmall: 1 + baseQuality, ifdLarge: 1, judge: 0.5))
    let (scores, _, best) = StarAgentsEngine.score(candidates)
    engine.evolve(zip(pairs, scores).map { ($0, $1) })
    if let best, let pair = candidates[best].pair { engine.remember(embedding: instruction, pair: pair) }
  }
  return engine
}

struct StarAgentsEngineTests {
  let qualities = [0.3, 0.8, 0.5, 0.6]

  @Test(arguments: [0, 1])
  func evolutionFavoursTheBestPairAfter300Seeds(memoryDraws: Int) {
    let parameters = StarAgentsEngine.Parameters(samplesPerSeed: 2, evolutionRate: 0.01, memoryDraws: memoryDraws)
    for runSeed: UInt64 in 1...10 {
      let engine = simulate(qualities: qualities, seeds: 300, parameters: parameters, runSeed: runSeed)
      let p = engine.probabilities
      #expect(abs(p.reduce(0, +) - 1) < 1e-9)
      #expect(p[1] > 0.5, "seed \(runSeed): best pair at \(p[1]) (\(p))")
      #expect(p[0] < 0.05, "seed \(runSeed): worst pair at \(p[0]) (\(p))")
      // The probability order matches the quality order.
      #expect(spearman(p, qualities) == 1, "seed \(runSeed): \(p)")
    }
  }

  @Test func sameSeedSameTrajectory() {
    let parameters = StarAgentsEngine.Parameters(samplesPerSeed: 2)
    let first = simulate(qualities: qualities, seeds: 50, parameters: parameters, runSeed: 3)
    let second = simulate(qualities: qualities, seeds: 50, parameters: parameters, runSeed: 3)
    #expect(first.probabilities == second.probabilities)
    #expect(first.memories == second.memories)
  }

  @Test func scoresNormaliseDifficultyAndMultiplyByTheJudge() {
    let candidates = [
      StarAgentsEngine.Candidate(pair: 0, ifdSmall: 1.4, ifdLarge: 1.0, judge: 1),
      StarAgentsEngine.Candidate(pair: 1, ifdSmall: 1.2, ifdLarge: 1.0, judge: 0.5),
      StarAgentsEngine.Candidate(pair: 2, ifdSmall: 0.9, ifdLarge: 1.0, judge: 1),
      StarAgentsEngine.Candidate(pair: nil, ifdSmall: 1.1, ifdLarge: 1.0, judge: 0.5),
    ]
    let (scores, difficulty, best) = StarAgentsEngine.score(candidates)
    #expect(difficulty.allSatisfy { (0...1).contains($0) })
    #expect(difficulty[0] == 1)
    #expect(abs(difficulty[1] - 0.5) < 1e-12)
    // Easier for the small model than for the large one: no difficulty.
    #expect(difficulty[2] == 0)
    #expect(abs(scores[1] - 0.25) < 1e-12)
    #expect(best == 0)
    // Nothing hard: every score is 0 and the first candidate is kept.
    let flat = StarAgentsEngine.score([
      StarAgentsEngine.Candidate(pair: 0, ifdSmall: 1, ifdLarge: 1, judge: 1),
      StarAgentsEngine.Candidate(pair: 1, ifdSmall: 1, ifdLarge: 1, judge: 1),
    ])
    #expect(flat.scores == [0, 0] && flat.best == 0)
  }

  @Test func samplingIsWithoutReplacementAndFallsBackWhenWeightsRunOut() {
    var rng = SeededRNG(seed: 9)
    let engine = StarAgentsEngine(
      probabilities: [0.5, 0.5, 0, 0], memories: [], parameters: .init(samplesPerSeed: 3, memoryDraws: 0))
    for _ in 0..<50 {
      let pairs = engine.samplePairs(embedding: [1, 0], using: &rng)
      #expect(pairs.count == 3 && Set(pairs).count == 3)
      #expect(pairs.prefix(2).allSatisfy { $0 < 2 })
    }
  }

  @Test func theMemoryBankReturnsTheWinnersOfTheNearestInstructions() {
    var engine = StarAgentsEngine(pairCount: 6, parameters: .init(samplesPerSeed: 2, memoryDraws: 1, memoryTopN: 1))
    engine.remember(embedding: [1, 0, 0], pair: 4)
    engine.remember(embedding: [0, 1, 0], pair: 2)
    #expect(engine.nearestMemories(to: [0.9, 0.1, 0]).map(\.pair) == [4])
    var rng = SeededRNG(seed: 1)
    for _ in 0..<20 {
      // One of the two pairs always comes from the pool, which holds only pair 4.
      #expect(engine.samplePairs(embedding: [1, 0, 0], using: &rng).first == 4)
    }
  }

  @Test func aFloorKeepsWeakPairsAlive() {
    var engine = StarAgentsEngine(
      pairCount: 3, parameters: .init(evolutionRate: 1, minimumProbability: 0.05))
    for _ in 0..<100 { engine.evolve([(0, 1)]) }
    #expect(engine.probabilities.allSatisfy { $0 >= 0.05 - 1e-12 }, "\(engine.probabilities)")
    #expect(engine.probabilities[0] > 0.89)
    #expect(abs(engine.probabilities.reduce(0, +) - 1) < 1e-9)
  }
}
