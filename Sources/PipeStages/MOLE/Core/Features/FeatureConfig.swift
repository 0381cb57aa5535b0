/// Which features the evaluator reads and how large its hashed feature space is.
public struct FeatureConfig: Sendable, Equatable {
  /// The hashed feature space has 2^`hashBits` slots (10...24).
  public var hashBits: Int
  /// Orders of the character n-grams (each in 2...5); empty for none.
  public var characterOrders: [Int]
  /// Whether to add the order-sensitive sparse features (sentence-shape transitions,
  /// first-sentence words, openers that refer back); they make coherence learnable.
  public var orderFeatures: Bool
  /// Whether to add hashed words and word pairs (and the first sentence's words and its
  /// openers among the order features). They carry the vocabulary, and so the language:
  /// without them and without character n-grams, the features are the text's shape alone.
  public var wordFeatures: Bool

  /// Creates a configuration.
  public init(hashBits: Int = 18, characterOrders: [Int] = [3], orderFeatures: Bool = true, wordFeatures: Bool = true) {
    self.hashBits = hashBits
    self.characterOrders = characterOrders
    self.orderFeatures = orderFeatures
    self.wordFeatures = wordFeatures
  }
}
