/// The word-splitting regular expressions of the byte-level BPE families, matched by hand
/// rather than by a regex engine: each is a fixed alternation whose first matching branch
/// decides, so a few comparisons per character reproduce it exactly.
public enum SplitPattern: String, Sendable, CaseIterable {
  /// GPT-2's, also applied by Hugging Face's `ByteLevel` pre-tokenizer with `use_regex`:
  /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
  case gpt2
  /// Llama 3's: contractions in any case, a letter run with one leading non-letter, numbers
  /// in groups of up to three, punctuation runs with their line breaks, then whitespace:
  /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
  case llama3
  /// Qwen2's: Llama 3's with every digit on its own (`\p{N}` instead of `\p{N}{1,3}`).
  case qwen2

  /// The regular expression as the reference tokenizers spell it.
  public var regex: String {
    switch self {
    case .gpt2: return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    case .llama3:
      return
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    case .qwen2:
      return
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    }
  }

  /// The pattern whose regex is `text`, also in the spellings other files use for the same
  /// expression (GPT-2's without its final `|\s+`, which matches nothing the branch before
  /// it leaves; the contraction group written as `'(?:[sdmt]|ll|ve|re)`).
  public init?(regex text: String) {
    let variants: [String: SplitPattern] = [
      SplitPattern.gpt2.regex: .gpt2,
      #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#: .gpt2,
      #"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
      SplitPattern.llama3.regex: .llama3,
      SplitPattern.qwen2.regex: .qwen2,
    ]
    guard let pattern = variants[text] else { return nil }
    self = pattern
  }

  /// The end of the match that starts at `start` (the first branch that matches, as the
  /// regex engines decide), in a piece that ends at `end`. Always past `start`: the last
  /// branches match any character.
  @inline(__always)
  func match(_ segment: borrowing DecodedSegment, from start: Int, to end: Int) -> Int {
    switch self {
    case .gpt2: return Self.matchGPT2(segment, start, end)
    case .llama3: return Self.matchLlama3(segment, start, end, maximumDigits: 3)
    case .qwen2: return Self.matchLlama3(segment, start, end, maximumDigits: 1)
    }
  }

  /// `'s|'t|'re|'ve|'m|'ll|'d` at `start` (after the apostrophe), case-insensitively when
  /// asked; returns the end of the match or `nil`.
  @inline(__always)
  private static func contraction(
    _ segment: borrowing DecodedSegment, _ start: Int, _ end: Int, ignoringCase: Bool
  ) -> Int? {
    guard segment.scalars[start] == 0x27, start + 1 < end else { return nil }
    func letter(_ index: Int) -> UInt32 {
      guard index < end else { return 0 }
      let value = segment.scalars[index]
      guard ignoringCase else { return value }
      // Case folding as the Unicode-aware engines apply it: ASCII capitals and the long s
      // (U+017F), which folds to `s`.
      if value >= 0x41 && value <= 0x5A { return value | 0x20 }
      if value == 0x17F { return 0x73 }
      return value
    }
    let first = letter(start + 1)
    switch first {
    case 0x73, 0x74, 0x6D, 0x64: return start + 2  // s t m d
    case 0x72, 0x76:  // re ve
      return letter(start + 2) == 0x65 ? start + 3 : nil
    case 0x6C:  // ll
      return letter(start + 2) == 0x6C ? start + 3 : nil
    default: return nil
    }
  }

  @inline(__always)
  private static func run(_ segment: borrowing DecodedSegment, from start: Int, to end: Int, of kind: ScalarClass)
    -> Int
  {
    var index = start
    while index < end && segment.classes[index].contains(kind) { index += 1 }
    return index
  }

  @inline(__always)
  private static func otherRun(_ segment: borrowing DecodedSegment, from start: Int, to end: Int) -> Int {
    var index = start
    while index < end && segment.classes[index].isOther { index += 1 }
    return index
  }

  /// `\s+(?!\S)|\s+` at a whitespace character.
  @inline(__always)
  private static func whitespace(_ segment: borrowing DecodedSegment, _ start: Int, _ end: Int) -> Int {
    let runEnd = run(segment, from: start, to: end, of: .whitespace)
    // Followed by a non-space: give it the run's last space (which then leads the next word),
    // unless the run is that one space.
    if runEnd < end && runEnd - start >= 2 { return runEnd - 1 }
    return runEnd
  }

  private static func matchGPT2(_ segment: borrowing DecodedSegment, _ start: Int, _ end: Int) -> Int {
    if let end = contraction(segment, start, end, ignoringCase: false) { return end }
    // ` ?X+` for X in letters, numbers, other: the optional space is U+0020 only.
    var first = start
    if segment.scalars[start] == 0x20 && start + 1 < end && !segment.classes[start + 1].contains(.whitespace) {
      first = start + 1
    }
    let kind = segment.classes[first]
    if kind.contains(.letter) { return run(segment, from: first, to: end, of: .letter) }
    if kind.contains(.number) { return run(segment, from: first, to: end, of: .number) }
    if kind.isOther { return otherRun(segment, from: first, to: end) }
    return whitespace(segment, start, end)
  }

  private static func matchLlama3(
    _ segment: borrowing DecodedSegment, _ start: Int, _ end: Int, maximumDigits: Int
  ) -> Int {
    if let end = contraction(segment, start, end, ignoringCase: true) { return end }
    let kind = segment.classes[start]
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if kind.contains(.letter) { return run(segment, from: start, to: end, of: .letter) }
    if !kind.contains(.number) && !kind.contains(.lineBreak) && start + 1 < end
      && segment.classes[start + 1].contains(.letter)
    {
      return run(segment, from: start + 1, to: end, of: .letter)
    }
    // \p{N}{1,k}
    if kind.contains(.number) { return min(run(segment, from: start, to: end, of: .number), start + maximumDigits) }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    var first = start
    if segment.scalars[start] == 0x20 && start + 1 < end && segment.classes[start + 1].isOther { first = start + 1 }
    if segment.classes[first].isOther {
      let others = otherRun(segment, from: first, to: end)
      return run(segment, from: others, to: end, of: .lineBreak)
    }
    // \s*[\r\n]+: through the last line break of the whitespace run.
    let runEnd = run(segment, from: start, to: end, of: .whitespace)
    var index = runEnd
    while index > start {
      index -= 1
      if segment.classes[index].contains(.lineBreak) { return index + 1 }
    }
    return whitespace(segment, start, end)
  }
}

/// One step of a pre-tokenizer.
public enum PreTokenizerStep: Sendable, Equatable {
  /// Each number character (general category N) becomes a piece of its own, as Hugging Face's
  /// `Digits(individual_digits: true)` does.
  case isolateDigits
  /// Pieces are the matches of the pattern (every character is in one).
  case split(SplitPattern)
}

/// Cuts normalized text into pieces, which BPE encodes one by one.
public struct PreTokenizer: Sendable, Equatable {
  /// The steps, each applied to every piece the step before left.
  public var steps: [PreTokenizerStep]

  /// Creates a pre-tokenizer.
  public init(steps: [PreTokenizerStep]) {
    self.steps = steps
  }

  /// Calls `body` with the scalar range of each piece of `segment`, in order.
  @inline(__always)
  func forEachPiece(_ segment: borrowing DecodedSegment, _ body: (Range<Int>) -> Void) {
    let count = segment.scalars.count
    guard count > 0 else { return }
    split(segment, 0..<count, step: 0, body)
  }

  private func split(_ segment: borrowing DecodedSegment, _ range: Range<Int>, step: Int, _ body: (Range<Int>) -> Void)
  {
    guard step < steps.count else { return body(range) }
    switch steps[step] {
    case .isolateDigits:
      var pieceStart = range.lowerBound
      for index in range where segment.classes[index].contains(.number) {
        if pieceStart < index { split(segment, pieceStart..<index, step: step + 1, body) }
        split(segment, index..<(index + 1), step: step + 1, body)
        pieceStart = index + 1
      }
      if pieceStart < range.upperBound { split(segment, pieceStart..<range.upperBound, step: step + 1, body) }
    case .split(let pattern):
      var start = range.lowerBound
      while start < range.upperBound {
        let end = pattern.match(segment, from: start, to: range.upperBound)
        split(segment, start..<end, step: step + 1, body)
        start = end
      }
    }
  }
}
