/// The dense features: cohesion, repetition and structure measures of a whole document.
///
/// Hashed n-grams see which words a text uses; these see how its sentences relate, which is
/// what changes when sentences are shuffled, repeated, or replaced. Raw values are
/// standardised with statistics from the training texts before the model reads them.
enum DenseFeature: Int, CaseIterable {
  /// Mean content-word overlap (set cosine) of adjacent segments.
  case adjacentOverlap
  /// Mean overlap of segments two apart.
  case overlapAtTwo
  /// Mean overlap of segments three apart.
  case overlapAtThree
  /// Adjacent overlap minus overlap three apart: above 0 when neighbours share more than
  /// segments further apart do, which is the cohesion that shuffling destroys.
  case overlapGain
  /// The share of adjacent segment pairs with no content word in common.
  case disconnectedPairs
  /// The share of the first segment's content words that recur later (a title or topic
  /// sentence comes first in a coherent text).
  case firstSegmentRecurrence
  /// The share of segments (of two words or more) that repeat an earlier segment.
  case duplicateSegments
  /// The share of word 3-grams that occurred earlier in the text.
  case repeatedTrigrams
  /// The share of words that are function words.
  case functionWordRate
  /// Distinct words over words, among the first 256 words.
  case typeTokenRatio
  /// log(1 + words).
  case logWords
  /// log(1 + mean words per segment).
  case logWordsPerSegment
  /// The share of words typical of web boilerplate.
  case boilerplateRate
  /// The share of segments opening with a word that refers back (pronoun, connective).
  case backwardOpenerRate
  /// Whether the first segment opens with a word that refers back.
  case firstOpensBackward
  /// The share of segment boundaries where a segment without end punctuation is followed by
  /// a space (a line's end now runs into another sentence).
  case layoutBreaks
  /// The share of segments of at most four words without end punctuation.
  case shortFragments
  /// The share of scalars that are punctuation or symbols.
  case symbolRate
  /// The share of segments after a sentence end that start with a lowercase ASCII letter.
  case lowercaseStarts
  /// The share of words equal to the word before them.
  case repeatedWords
  /// Whether the first segment looks like a title (at most eight words, no end punctuation).
  case titleFirst
  /// The share of segments ending with sentence punctuation.
  case terminatedSegments
  /// The share of lines that start with whitespace (the structure of code and lists).
  case indentedLines
}
