/// Checks that a counterfactual is a usable degraded copy of its original: not empty, not
/// identical, not too short, of similar length, and on the same topic without being a copy.
///
/// Made for LLM rewrites, which can refuse, truncate, answer something else or return the input;
/// the defaults follow the project's MOLE notes (length within ±15%, character-3-gram Jaccard
/// between 0.3 and 0.95). Similarity is a set Jaccard over character 3-grams (Unicode scalars,
/// ASCII case folded, whitespace runs as one space), so changes of order alone (the coherence
/// rule) and repeats (the redundancy rule) keep it near 1: validate those with
/// `maximumSimilarity` 1 and a wider length band.
public struct CounterfactualValidator: Sendable, Equatable {
  /// Why a counterfactual was rejected.
  public struct Rejection: Sendable, Equatable, CustomStringConvertible {
    /// A stable snake_case reason: `empty`, `identical`, `too_short`, `length_ratio_low`,
    /// `length_ratio_high`, `too_similar` or `off_topic`.
    public var reason: String
    /// The measured value and the limit, for logs and rejects.
    public var detail: String

    /// `reason: detail`.
    public var description: String { "\(reason): \(detail)" }
  }

  /// The fewest characters (Unicode scalars, whitespace excluded) a counterfactual may have.
  public var minimumCharacters: Int
  /// The lowest counterfactual/original length ratio (in scalars).
  public var minimumLengthRatio: Double
  /// The highest counterfactual/original length ratio.
  public var maximumLengthRatio: Double
  /// Below this character-3-gram Jaccard the rewrite is off topic.
  public var minimumSimilarity: Double
  /// Above this Jaccard the rewrite is too close to the original to teach anything.
  public var maximumSimilarity: Double

  /// Creates a validator; the defaults are the LLM bands.
  public init(
    minimumCharacters: Int = 20, minimumLengthRatio: Double = 0.85, maximumLengthRatio: Double = 1.15,
    minimumSimilarity: Double = 0.3, maximumSimilarity: Double = 0.95
  ) {
    self.minimumCharacters = minimumCharacters
    self.minimumLengthRatio = minimumLengthRatio
    self.maximumLengthRatio = maximumLengthRatio
    self.minimumSimilarity = minimumSimilarity
    self.maximumSimilarity = maximumSimilarity
  }

  /// Why `counterfactual` is not a usable degradation of `original`, or `nil` when it is.
  /// Checks run in the order of the reasons listed in `Rejection.reason`.
  public func rejection(original: String, counterfactual: String) -> Rejection? {
    let candidate = CharacterTrigrams(counterfactual)
    if candidate.characters == 0 { return Rejection(reason: "empty", detail: "no characters besides whitespace") }
    if original.utf8.elementsEqual(counterfactual.utf8) {
      return Rejection(reason: "identical", detail: "the rewrite is the original")
    }
    if candidate.characters < minimumCharacters {
      return Rejection(reason: "too_short", detail: "\(candidate.characters) < \(minimumCharacters) characters")
    }
    let source = CharacterTrigrams(original)
    let ratio = Double(candidate.characters) / Double(max(source.characters, 1))
    if ratio < minimumLengthRatio {
      return Rejection(reason: "length_ratio_low", detail: "\(format(ratio)) < \(format(minimumLengthRatio))")
    }
    if ratio > maximumLengthRatio {
      return Rejection(reason: "length_ratio_high", detail: "\(format(ratio)) > \(format(maximumLengthRatio))")
    }
    let similarity = source.jaccard(candidate)
    if similarity > maximumSimilarity {
      return Rejection(reason: "too_similar", detail: "jaccard \(format(similarity)) > \(format(maximumSimilarity))")
    }
    if similarity < minimumSimilarity {
      return Rejection(reason: "off_topic", detail: "jaccard \(format(similarity)) < \(format(minimumSimilarity))")
    }
    return nil
  }

  private func format(_ value: Double) -> String {
    let rounded = (value * 1000).rounded() / 1000
    return "\(rounded)"
  }
}

/// The set of character 3-grams of a text and its length without whitespace.
struct CharacterTrigrams {
  /// Unicode scalars that are not whitespace.
  private(set) var characters = 0
  /// Hashes of the distinct 3-grams.
  private(set) var grams = Set<UInt64>()

  /// Measures `text`.
  init(_ text: String) {
    var window: UInt64 = 0
    var filled = 0
    var previousWasSpace = true
    for scalar in text.unicodeScalars {
      var value = scalar.value
      let scalarClass = ScalarClass.of(value)
      if scalarClass == .space || scalarClass == .newline {
        if previousWasSpace { continue }
        previousWasSpace = true
        value = 0x20
      } else {
        previousWasSpace = false
        characters += 1
        if (value &- 0x41) < 26 { value |= 0x20 }
      }
      window = (window << 21 | UInt64(value)) & (1 << 63 - 1)
      filled += 1
      if filled >= 3 { grams.insert(window) }
    }
  }

  /// |A ∩ B| / |A ∪ B|; 1 for two texts too short to have 3-grams.
  func jaccard(_ other: CharacterTrigrams) -> Double {
    if grams.isEmpty && other.grams.isEmpty { return 1 }
    let (small, large) = grams.count <= other.grams.count ? (grams, other.grams) : (other.grams, grams)
    let shared = small.reduce(0) { $0 + (large.contains($1) ? 1 : 0) }
    return Double(shared) / Double(grams.count + other.grams.count - shared)
  }
}
