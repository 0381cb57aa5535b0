import Foundation
import PipeCore

/// Lower-cased word tokens of a text: runs of letters and digits, each CJK character on its
/// own, so the small text models below work in any script.
enum WordTokens {
  static func of(_ text: String) -> [String] {
    var tokens: [String] = []
    var current = ""
    for scalar in text.unicodeScalars {
      let value = scalar.value
      let isIdeograph =
        (0x3040...0x30FF).contains(value) || (0x3400...0x9FFF).contains(value)
        || (0xAC00...0xD7AF).contains(value)
      if isIdeograph {
        if !current.isEmpty { tokens.append(current) }
        current = ""
        tokens.append(String(scalar))
      } else if scalar.properties.isAlphabetic || (0x30...0x39).contains(value) {
        current.unicodeScalars.append(contentsOf: String(scalar).lowercased().unicodeScalars)
      } else if !current.isEmpty {
        tokens.append(current)
        current = ""
      }
    }
    if !current.isEmpty { tokens.append(current) }
    return tokens
  }
}

/// The built-in instruction embedder of the memory bank when no embeddings endpoint is set:
/// hashed word unigrams and bigrams, L2-normalised, so cosine similarity is a dot product.
public struct HashedEmbedder: Sendable {
  /// The number of dimensions.
  public let dimensions: Int

  /// Creates an embedder.
  public init(dimensions: Int = 512) {
    self.dimensions = max(1, dimensions)
  }

  /// The unit-length embedding of `text` (all zeros for a text without words).
  public func embed(_ text: String) -> [Float] {
    var vector = [Float](repeating: 0, count: dimensions)
    let words = WordTokens.of(text)
    func add(_ feature: String) {
      let hash = XXH64.hash(feature, seed: 0x454D_4245)
      // The sign bit spreads collisions around zero instead of piling them up.
      vector[Int(hash % UInt64(dimensions))] += (hash >> 63) == 0 ? 1 : -1
    }
    for (index, word) in words.enumerated() {
      add(word)
      if index > 0 { add(words[index - 1] + " " + word) }
    }
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? vector.map { $0 / norm } : vector
  }
}

/// The offline stand-in for a scoring model's log-probabilities when an endpoint gives none:
/// an n-gram language model with add-k smoothing over a reference text, with P(w | I) mixing
/// in a cache model of the instruction's words (as in the research notes), so a response
/// grounded in its instruction gets IFD below 1 and an unrelated one about 1.
public struct NGramScorer: Sendable {
  /// The n of the n-grams (2 for a "small" model, 3 for a "large" one).
  public let order: Int
  private let counts: [String: Int]
  private let contextCounts: [String: Int]
  private let vocabulary: Int
  private let smoothing = 0.1
  private let cacheWeight = 0.3

  /// Trains on `reference` texts.
  public init(order: Int, reference: [String]) {
    self.order = max(1, order)
    var counts: [String: Int] = [:]
    var contextCounts: [String: Int] = [:]
    var vocabulary = Set<String>()
    for text in reference {
      let words = ["<s>"] + WordTokens.of(text)
      vocabulary.formUnion(words)
      for index in 1..<words.count {
        for n in 1...self.order where index - n + 1 >= 0 {
          let context = words[(index - n + 1)..<index].joined(separator: " ")
          counts[context + "|" + words[index], default: 0] += 1
          contextCounts[context, default: 0] += 1
        }
      }
    }
    self.counts = counts
    self.contextCounts = contextCounts
    self.vocabulary = vocabulary.count + 1
  }

  /// The mean log-probability of `response`'s words, after `instruction` when given.
  public func meanLogProbability(of response: String, given instruction: String?) -> Double {
    let words = WordTokens.of(response)
    guard !words.isEmpty else { return 0 }
    let cache = instruction.map { Dictionary(WordTokens.of($0).map { ($0, 1) }, uniquingKeysWith: +) } ?? [:]
    let cacheTotal = Double(cache.values.reduce(0, +))
    var history = ["<s>"]
    var total = 0.0
    for word in words {
      var probability = ngramProbability(word, history: history)
      if cacheTotal > 0 {
        probability = cacheWeight * Double(cache[word] ?? 0) / cacheTotal + (1 - cacheWeight) * probability
      }
      total += log(probability)
      history.append(word)
    }
    return total / Double(words.count)
  }

  /// IFD = PPL(R | I) / PPL(R) = exp(mean log P(R) - mean log P(R | I)).
  public func ifd(instruction: String, response: String) -> Double {
    exp(meanLogProbability(of: response, given: nil) - meanLogProbability(of: response, given: instruction))
  }

  /// Add-k probability of `word` after the longest context with counts (a simple back-off).
  private func ngramProbability(_ word: String, history: [String]) -> Double {
    for n in stride(from: min(order, history.count + 1), through: 1, by: -1) {
      let context = history.suffix(n - 1).joined(separator: " ")
      guard let seen = contextCounts[context], seen > 0 else { continue }
      let count = Double(counts[context + "|" + word] ?? 0)
      return (count + smoothing) / (Double(seen) + smoothing * Double(vocabulary))
    }
    return 1 / Double(vocabulary)
  }
}

/// IFD from log-probabilities a server returned: exp(mean log P(R) - mean log P(R | I)).
public enum InstructionFollowingDifficulty {
  /// IFD from the response tokens' log-probabilities with and without the instruction before
  /// them; `nil` when either list is empty.
  public static func value(conditioned: [Double], unconditioned: [Double]) -> Double? {
    guard !conditioned.isEmpty, !unconditioned.isEmpty else { return nil }
    let meanConditioned = conditioned.reduce(0, +) / Double(conditioned.count)
    let meanUnconditioned = unconditioned.reduce(0, +) / Double(unconditioned.count)
    return exp(meanUnconditioned - meanConditioned)
  }
}
