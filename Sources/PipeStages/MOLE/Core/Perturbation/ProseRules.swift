import PipeCore

/// The rules for prose facets. Each returns the degraded bytes or `nil` when it does not apply.
enum ProseRules {
  /// Share of words swapped with their right neighbour by `scrambleWords`.
  static let swapRate = 0.12
  /// Share of function words dropped by `scrambleWords`.
  static let dropRate = 0.4
  /// Share of sentences repeated by `duplicateSentences` (at least one).
  static let duplicateRate = 0.15

  // MARK: - Coherence

  /// Sentences in a random order other than the original one; whitespace stays in place.
  ///
  /// Segments trade places only with segments of the same layout class: ending with sentence
  /// punctuation or not (headings, list items, code), and starting a line or not. A heading
  /// moved into a paragraph, or a line starting in lowercase moved after a sentence, would run
  /// into its neighbour, a layout break that an evaluator would learn instead of the order of
  /// ideas.
  static func shuffleSentences(_ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG) -> [UInt8]? {
    var segments: [Segment] = []
    let prefixEnd = Segmentation.split(bytes, into: &segments)
    let count = segments.count
    guard count >= 2 else { return nil }
    func same(_ a: Int, _ b: Int) -> Bool {
      let first = segments[a]
      let second = segments[b]
      return first.end - first.start == second.end - second.start
        && UnsafeBufferPointer(rebasing: bytes[first.start..<first.end])
          .elementsEqual(UnsafeBufferPointer(rebasing: bytes[second.start..<second.end]))
    }
    var classes: [[Int]] = [[], [], [], []]
    for index in 0..<count {
      let startsLine = index == 0 || containsNewline(bytes, segments[index - 1])
      let terminated = Segmentation.isTerminated(bytes, segments[index])
      classes[(terminated ? 2 : 0) + (startsLine ? 1 : 0)].append(index)
    }
    // A permutation that only exchanges equal sentences gives the original text; retry a few
    // times, which fails for texts where no class has two different segments.
    var order = Array(0..<count)
    for _ in 0..<8 {
      for group in classes where group.count >= 2 {
        var shuffled = group
        generator.shuffle(&shuffled)
        for (position, source) in zip(group, shuffled) { order[position] = source }
      }
      guard (0..<count).allSatisfy({ same($0, order[$0]) }) else {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        out.append(bytes, 0..<prefixEnd)
        for (position, source) in order.enumerated() {
          out.append(bytes, segments[source].start..<segments[source].end)
          out.append(bytes, segments[position].end..<segments[position].separatorEnd)
        }
        return out
      }
    }
    return nil
  }

  // MARK: - Informativeness

  /// About half the sentences (those with three words or more, when there are two such)
  /// replaced by filler of similar length; at least one original sentence stays.
  static func replaceWithFiller(_ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG) -> [UInt8]? {
    var segments: [Segment] = []
    let prefixEnd = Segmentation.split(bytes, into: &segments)
    guard segments.count >= 2 else { return nil }
    var eligible = segments.indices.filter { wordCount(bytes, segments[$0]) >= 3 }
    if eligible.count < 2 { eligible = Array(segments.indices) }
    let replaceCount = min((eligible.count + 1) / 2, segments.count - 1)
    let chosen = Set(generator.sample(replaceCount, of: eligible.count).map { eligible[$0] })
    let parts = fillerParts(for: bytes)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 64)
    out.append(bytes, 0..<prefixEnd)
    for (index, segment) in segments.enumerated() {
      if chosen.contains(index) {
        let target = (segment.end - segment.start) * 4 / 5
        out.append(contentsOf: Phrases.filler(parts, length: target, using: &generator))
      } else {
        out.append(bytes, segment.start..<segment.end)
      }
      out.append(bytes, segment.end..<segment.separatorEnd)
    }
    return out
  }

  /// The filler language for a text: Japanese when it has kana, Chinese when it is mostly Han,
  /// English otherwise.
  static func fillerParts(for bytes: UnsafeBufferPointer<UInt8>) -> Phrases.FillerParts {
    var letters = 0
    var ideographs = 0
    var kana = 0
    var index = 0
    while index < bytes.count {
      let (scalar, length) = UTF8Decoding.decode(bytes, at: index)
      index += length
      switch ScalarClass.of(scalar) {
      case .ideograph:
        ideographs += 1
        if (0x3040...0x30FF).contains(scalar) { kana += 1 }
      case .letter, .southeastAsian:
        letters += 1
      default:
        break
      }
    }
    if kana > 0 && kana * 20 >= ideographs { return Phrases.japaneseFiller }
    if ideographs > letters { return Phrases.chineseFiller }
    return Phrases.englishFiller
  }

  // MARK: - Fluency

  /// Adjacent words swapped (within a sentence) and function words dropped; at least one
  /// change.
  static func scrambleWords(_ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG) -> [UInt8]? {
    var segments: [Segment] = []
    Segmentation.split(bytes, into: &segments)
    var words: [MoleWordSpan] = []
    var segmentOfWord: [Int] = []
    for (index, segment) in segments.enumerated() {
      MoleWords.forEach(in: bytes, range: segment.start..<segment.end) { start, end, _ in
        words.append(MoleWordSpan(start: start, end: end))
        segmentOfWord.append(index)
      }
    }
    guard words.count >= 2 else { return nil }
    var source = Array(words.indices)
    var dropped = [Bool](repeating: false, count: words.count)
    func equal(_ a: Int, _ b: Int) -> Bool {
      UnsafeBufferPointer(rebasing: bytes[words[a].start..<words[a].end])
        .elementsEqual(UnsafeBufferPointer(rebasing: bytes[words[b].start..<words[b].end]))
    }
    func isFunctionWord(_ index: Int) -> Bool {
      WordLists.flags.flags(of: MoleWords.hash(bytes, start: words[index].start, end: words[index].end))
        & WordFlagTable.function != 0
    }
    var changes = 0
    var index = 0
    while index < words.count {
      if isFunctionWord(index) && generator.chance(dropRate) {
        dropped[index] = true
        changes += 1
      } else if index + 1 < words.count, segmentOfWord[index + 1] == segmentOfWord[index],
        !equal(index, index + 1), generator.chance(swapRate)
      {
        source.swapAt(index, index + 1)
        changes += 1
        index += 1
      }
      index += 1
    }
    if changes == 0 {
      // Force one swap of two different adjacent words, or failing that one drop.
      let swappable = (0..<(words.count - 1)).filter {
        segmentOfWord[$0 + 1] == segmentOfWord[$0] && !equal($0, $0 + 1)
      }
      if !swappable.isEmpty {
        let at = swappable[generator.below(swappable.count)]
        source.swapAt(at, at + 1)
      } else {
        let droppable = words.indices.filter(isFunctionWord)
        guard !droppable.isEmpty else { return nil }
        dropped[droppable[generator.below(droppable.count)]] = true
      }
    }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var cursor = 0
    for (slot, span) in words.enumerated() {
      out.append(bytes, cursor..<span.start)
      cursor = span.end
      if dropped[slot] {
        // Take the spaces after a dropped word with it, so no double space is left.
        while cursor < bytes.count && bytes[cursor] == 0x20 { cursor += 1 }
      } else {
        let word = words[source[slot]]
        out.append(bytes, word.start..<word.end)
      }
    }
    out.append(bytes, cursor..<bytes.count)
    return out
  }

  // MARK: - Redundancy

  /// Some sentences (of two words or more) repeated after themselves, at a random later place.
  static func duplicateSentences(_ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG) -> [UInt8]? {
    var segments: [Segment] = []
    let prefixEnd = Segmentation.split(bytes, into: &segments)
    let eligible = segments.indices.filter { wordCount(bytes, segments[$0]) >= 2 }
    guard !eligible.isEmpty else { return nil }
    let copies = min(eligible.count, max(1, Int((Double(segments.count) * duplicateRate).rounded())))
    // Each copy goes after a segment at or after its source: (target, source), sorted.
    var insertions: [(target: Int, source: Int)] = []
    for choice in generator.sample(copies, of: eligible.count) {
      let source = eligible[choice]
      insertions.append((source + generator.below(segments.count - source), source))
    }
    insertions.sort { ($0.target, $0.source) < ($1.target, $1.source) }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 5 / 4)
    out.append(bytes, 0..<prefixEnd)
    var next = 0
    for (index, segment) in segments.enumerated() {
      out.append(bytes, segment.start..<segment.end)
      while next < insertions.count && insertions[next].target == index {
        let copy = segments[insertions[next].source]
        var glue = segment.end..<segment.separatorEnd
        if glue.isEmpty && index == segments.count - 1 { glue = copy.end..<copy.separatorEnd }
        if glue.isEmpty && index == segments.count - 1 && !isIdeographic(bytes, copy) {
          out.append(" ")
        } else {
          out.append(bytes, glue)
        }
        out.append(bytes, copy.start..<copy.end)
        next += 1
      }
      out.append(bytes, segment.end..<segment.separatorEnd)
    }
    return out
  }

  // MARK: - Noise

  /// Web boilerplate lines inserted at line boundaries (or at the start and end of a text that
  /// is one paragraph).
  static func insertBoilerplate(_ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG) -> [UInt8]? {
    var segments: [Segment] = []
    let prefixEnd = Segmentation.split(bytes, into: &segments)
    guard !segments.isEmpty else { return nil }
    // Boundary i is before segment i (segments.count: the end); only line boundaries qualify.
    var boundaries = [0]
    for index in 1..<max(segments.count, 1) where containsNewline(bytes, segments[index - 1]) {
      boundaries.append(index)
    }
    boundaries.append(segments.count)
    let lineCount = min(4, 1 + segments.count / 10)
    var atBoundary = [Int: [String]]()
    for _ in 0..<lineCount {
      let boundary = boundaries[generator.below(boundaries.count)]
      atBoundary[boundary, default: []].append(Phrases.boilerplate[generator.below(Phrases.boilerplate.count)])
    }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 160)
    out.append(bytes, 0..<prefixEnd)
    for (index, segment) in segments.enumerated() {
      for line in atBoundary[index] ?? [] {
        out.append(line)
        if index == 0 {
          out.append("\n")
        } else {
          let previous = segments[index - 1]
          out.append(bytes, previous.end..<previous.separatorEnd)
        }
      }
      out.append(bytes, segment.start..<segment.end)
      out.append(bytes, segment.end..<segment.separatorEnd)
    }
    for line in atBoundary[segments.count] ?? [] {
      if out.last != 0x0A { out.append("\n") }
      out.append(line)
    }
    return out
  }

  // MARK: - Helpers

  /// The number of words in a segment.
  static func wordCount(_ bytes: UnsafeBufferPointer<UInt8>, _ segment: Segment) -> Int {
    var count = 0
    MoleWords.forEach(in: bytes, range: segment.start..<segment.end) { _, _, _ in count += 1 }
    return count
  }

  /// Whether the whitespace after `segment` contains a line break.
  static func containsNewline(_ bytes: UnsafeBufferPointer<UInt8>, _ segment: Segment) -> Bool {
    UnsafeBufferPointer(rebasing: bytes[segment.end..<segment.separatorEnd]).contains(0x0A)
  }

  /// Whether a segment ends with an ideographic or fullwidth character (no space after it).
  static func isIdeographic(_ bytes: UnsafeBufferPointer<UInt8>, _ segment: Segment) -> Bool {
    let last = UTF8Decoding.previousStart(bytes, before: segment.end)
    let (scalar, _) = UTF8Decoding.decode(bytes, at: last)
    let scalarClass = ScalarClass.of(scalar)
    return scalarClass == .strongTerminal || scalarClass == .ideograph
  }
}
