internal import Foundation

/// Turns a document's UTF-8 bytes into a sparse hashed vector (L2-normalised) and raw dense
/// features, reusing its buffers from one document to the next.
///
/// One extractor per thread; after `extract`, `touched` lists the non-zero slots of `values`
/// and `dense` holds the raw dense features. The next `extract` clears only the touched slots,
/// so the cost per document does not depend on the size of the hashed space.
struct FeatureExtractor {
  /// Relative weights of the sparse feature families before normalisation. Character n-grams
  /// are about five times as many as words, so they get a lower weight per n-gram.
  static let wordWeight: Float = 1
  static let bigramWeight: Float = 1
  static let characterWeight: Float = 0.5
  static let orderWeight: Float = 1.5

  // Salts that keep the feature families apart in the hashed space.
  private static let wordSalt: UInt64 = 1
  private static let bigramSalt: UInt64 = 2
  private static let characterSalt: UInt64 = 3
  private static let transitionSalt: UInt64 = 10
  private static let firstWordSalt: UInt64 = 11
  private static let shapeSalt: UInt64 = 12
  private static let openerSalt: UInt64 = 13

  let config: FeatureConfig
  /// The number of slots in the hashed space.
  let dimension: Int
  /// Feature values by slot; zero except at `touched`.
  private(set) var values: [Float]
  /// The slots set by the last `extract`, in first-seen order.
  private(set) var touchedCount = 0
  private(set) var touched: [Int32]
  /// The raw dense features of the last document, by `DenseFeature` raw value.
  private(set) var dense: [Float]

  private var work = Workspace()
  private var characterMask: UInt8 = 0

  /// Creates an extractor for `config`.
  init(config: FeatureConfig) {
    self.config = config
    dimension = 1 << config.hashBits
    values = [Float](repeating: 0, count: dimension)
    touched = [Int32](repeating: 0, count: dimension + 1)
    dense = [Float](repeating: 0, count: DenseFeature.allCases.count)
    for order in config.characterOrders where (2...5).contains(order) { characterMask |= 1 << UInt8(order) }
  }

  /// Extracts the features of `bytes`.
  mutating func extract(_ bytes: UnsafeBufferPointer<UInt8>) {
    // Move the buffers out of `self` for the duration, so the helpers below work on unique
    // locals (no copy-on-write checks or retains per access) and never capture `self`.
    var values = self.values
    var touched = self.touched
    var work = self.work
    var dense = self.dense
    self.values = []
    self.touched = []
    self.work = Workspace()
    self.dense = []
    defer {
      self.values = values
      self.touched = touched
      self.work = work
      self.dense = dense
    }
    values.withUnsafeMutableBufferPointer { valueBuffer in
      touched.withUnsafeMutableBufferPointer { touchedBuffer in
        guard let valueBase = valueBuffer.baseAddress, let touchedBase = touchedBuffer.baseAddress else { return }
        for position in 0..<touchedCount { valueBase[Int(touchedBase[position])] = 0 }
        var sparse = SparseAccumulator(
          values: valueBase, touched: touchedBase, shift: UInt64(64 - config.hashBits))
        Self.extract(bytes, config: config, characterMask: characterMask, work: &work, sparse: &sparse, dense: &dense)
        sparse.normalize()
        touchedCount = sparse.count
      }
    }
  }

  private static func extract(
    _ bytes: UnsafeBufferPointer<UInt8>, config: FeatureConfig, characterMask: UInt8, work: inout Workspace,
    sparse: inout SparseAccumulator, dense: inout [Float]
  ) {
    Segmentation.split(bytes, into: &work.segments)
    work.wordHashes.removeAll(keepingCapacity: true)
    work.wordStart.removeAll(keepingCapacity: true)
    work.contentHashes.removeAll(keepingCapacity: true)
    work.contentStart.removeAll(keepingCapacity: true)
    work.segmentInfo.removeAll(keepingCapacity: true)

    // MoleWords: unigrams, bigrams within a segment, and counts for the dense features.
    var functionWords = 0
    var boilerplateWords = 0
    var repeatedWords = 0
    let flagTable = WordLists.flags
    let wordFeatures = config.wordFeatures
    for segment in work.segments {
      work.contentStart.append(work.contentHashes.count)
      work.wordStart.append(work.wordHashes.count)
      var previous: UInt64 = 0
      var info = SegmentInfo(
        words: 0, firstWord: 0, firstFlags: 0, startClass: Self.startClass(bytes, segment.start),
        endClass: Self.endClass(bytes, segment.end), separator: Self.separatorKind(bytes, segment))
      MoleWords.forEach(in: bytes, range: segment.start..<segment.end) { start, end, hash in
        let flags = flagTable.flags(of: hash)
        if wordFeatures { sparse.add(mixHash(hash, Self.wordSalt), Self.wordWeight) }
        if info.words > 0 {
          if wordFeatures { sparse.add(mixHash(previous &* 31 ^ hash, Self.bigramSalt), Self.bigramWeight) }
          if previous == hash { repeatedWords += 1 }
        } else {
          info.firstWord = hash
          info.firstFlags = flags
        }
        if flags & WordFlagTable.function != 0 { functionWords += 1 }
        if flags & WordFlagTable.boilerplate != 0 { boilerplateWords += 1 }
        if flags & WordFlagTable.function == 0 && (end - start >= 2 || bytes[start] >= 0x80) {
          work.contentHashes.append(hash)
        }
        work.wordHashes.append(hash)
        previous = hash
        info.words += 1
      }
      work.segmentInfo.append(info)
    }
    work.contentStart.append(work.contentHashes.count)
    work.wordStart.append(work.wordHashes.count)
    work.sortContentSets()

    let layout = characterNGrams(bytes, mask: characterMask, into: &sparse)
    if config.orderFeatures { orderFeatures(work, words: config.wordFeatures, into: &sparse) }
    let counts = WordCounts(function: functionWords, boilerplate: boilerplateWords, repeated: repeatedWords)
    denseFeatures(&work, counts: counts, layout: layout, into: &dense)
  }

  /// Word counts gathered while hashing words.
  private struct WordCounts {
    var function: Int
    var boilerplate: Int
    var repeated: Int
  }

  /// Character-level measures gathered while hashing character n-grams.
  private struct LayoutCounts {
    var scalars = 0
    var symbols = 0
    var lines = 0
    var indentedLines = 0
  }

  // MARK: - Character n-grams

  /// Adds character n-grams (ASCII case folded, digits as 0, whitespace runs as one space) and
  /// returns the share of scalars that are punctuation or symbols.
  private static func characterNGrams(
    _ bytes: UnsafeBufferPointer<UInt8>, mask: UInt8, into sparse: inout SparseAccumulator
  ) -> LayoutCounts {
    var layout = LayoutCounts()
    var atLineStart = true
    var c1: UInt64 = 0x20
    var c2: UInt64 = 0x20
    var c3: UInt64 = 0x20
    var c4: UInt64 = 0x20
    var previousSpace = true
    var index = 0
    let count = bytes.count
    while index < count {
      var code: UInt64
      let byte = bytes[index]
      if atLineStart && byte != 0x0A && byte != 0x0D {
        // Indentation is invisible to the n-grams (whitespace runs collapse), so count it here.
        layout.lines += 1
        if byte == 0x20 || byte == 0x09 { layout.indentedLines += 1 }
        atLineStart = false
      }
      if byte == 0x0A { atLineStart = true }
      if byte < 0x80 {
        index += 1
        if (byte &- 0x41) < 26 {
          code = UInt64(byte | 0x20)
        } else if (byte &- 0x61) < 26 {
          code = UInt64(byte)
        } else if (byte &- 0x30) < 10 {
          code = 0x30
        } else if byte == 0x20 || (byte &- 0x09) < 5 {
          if previousSpace { continue }
          code = 0x20
        } else {
          code = UInt64(byte)
          layout.symbols += 1
        }
      } else {
        let (scalar, length) = UTF8Decoding.decode(bytes, at: index)
        index += length
        let scalarClass = ScalarClass.of(scalar)
        if scalarClass == .space || scalarClass == .newline {
          if previousSpace { continue }
          code = 0x20
        } else {
          code = UInt64(scalar)
          if scalarClass.isSeparator { layout.symbols += 1 }
        }
      }
      previousSpace = code == 0x20
      layout.scalars += 1
      defer {
        c4 = c3
        c3 = c2
        c2 = c1
        c1 = code
      }
      if mask == 0 { continue }
      let key3 = c2 << 42 | c1 << 21 | code
      // One multiply (Fibonacci hashing of the packed scalars) instead of a full mix: this
      // loop runs once per character, and the packed keys are already distinct.
      if mask & 0b100 != 0 { sparse.add(fibonacci(c1 << 21 | code, 2), Self.characterWeight) }
      if mask & 0b1000 != 0 { sparse.add(fibonacci(key3, 3), Self.characterWeight) }
      if mask & 0b1_0000 != 0 { sparse.add(fibonacci(key3 ^ (c3 &* 0xD6E8_FEB8_6659_FD93), 4), Self.characterWeight) }
      if mask & 0b10_0000 != 0 {
        sparse.add(fibonacci(key3 ^ ((c4 << 21 | c3) &* 0xD6E8_FEB8_6659_FD93), 5), Self.characterWeight)
      }
    }
    return layout
  }

  /// A character n-gram's slot hash: the packed key, salted by order, times the golden ratio.
  @inline(__always)
  private static func fibonacci(_ key: UInt64, _ order: UInt64) -> UInt64 {
    (key ^ (characterSalt << 60 | order << 56)) &* 0x9E37_79B9_7F4A_7C15
  }

  // MARK: - Order features

  /// Adds the features that change when sentences change places: shape transitions across
  /// each boundary (end punctuation, length, separator, start of the next), the first
  /// segment's shape and words, and openers that refer back, with whether they share words
  /// with the segment before.
  private static func orderFeatures(_ work: Workspace, words: Bool, into sparse: inout SparseAccumulator) {
    let segmentInfo = work.segmentInfo
    let contentStart = work.contentStart
    let contentHashes = work.contentHashes
    let count = segmentInfo.count
    guard count > 0 else { return }
    let first = segmentInfo[0]
    let shape = UInt64(first.startClass) << 16 | UInt64(first.endClass) << 8 | Self.lengthBucket(first.words)
    sparse.add(mixHash(shape, Self.shapeSalt), Self.orderWeight)
    // Up to six content words of the first segment (in hash order: which six does not matter,
    // only that they are the first segment's).
    var firstWords = 0
    for position in contentStart[0]..<contentStart[1] where words && firstWords < 6 {
      sparse.add(mixHash(contentHashes[position], Self.firstWordSalt), Self.orderWeight * 0.5)
      firstWords += 1
    }
    if count == 1 { return }
    for index in 0..<(count - 1) {
      let left = segmentInfo[index]
      let right = segmentInfo[index + 1]
      var key = UInt64(left.endClass)
      key = key << 8 | Self.lengthBucket(left.words)
      key = key << 8 | UInt64(left.separator)
      key = key << 8 | UInt64(right.startClass)
      key = key << 8 | Self.lengthBucket(right.words)
      sparse.add(mixHash(key, Self.transitionSalt), Self.orderWeight)
      if words && right.firstFlags & WordFlagTable.backwardReference != 0 {
        let linked: UInt64 = work.adjacentOverlaps[index] > 0 ? 1 : 0
        sparse.add(mixHash(right.firstWord &* 3 &+ linked, Self.openerSalt), Self.orderWeight)
      }
    }
  }

  // MARK: - Dense features

  private static func denseFeatures(
    _ work: inout Workspace, counts: WordCounts, layout: LayoutCounts, into result: inout [Float]
  ) {
    let count = work.segmentInfo.count
    let words = work.wordHashes.count
    for index in result.indices { result[index] = 0 }
    func set(_ feature: DenseFeature, _ value: Float) { result[feature.rawValue] = value }

    let adjacent = work.meanOverlap(distance: 1)
    let atThree = work.meanOverlap(distance: 3)
    set(.adjacentOverlap, adjacent)
    set(.overlapAtTwo, work.meanOverlap(distance: 2))
    set(.overlapAtThree, atThree)
    set(.overlapGain, count > 3 ? adjacent - atThree : 0)
    if count > 1 {
      var disconnected = 0
      for value in work.adjacentOverlaps where value == 0 { disconnected += 1 }
      set(.disconnectedPairs, Float(disconnected) / Float(count - 1))
    }
    set(.firstSegmentRecurrence, work.firstSegmentRecurrence())
    set(.duplicateSegments, work.duplicateSegmentShare())
    set(.repeatedTrigrams, work.repeatedTrigramShare())
    set(.typeTokenRatio, work.typeTokenRatio())

    let wordCount = Float(max(words, 1))
    set(.functionWordRate, Float(counts.function) / wordCount)
    set(.boilerplateRate, Float(counts.boilerplate) / wordCount)
    set(.repeatedWords, Float(counts.repeated) / wordCount)
    set(.logWords, log1p(Float(words)))
    set(.logWordsPerSegment, count > 0 ? log1p(Float(words) / Float(count)) : 0)
    set(.symbolRate, layout.scalars > 0 ? Float(layout.symbols) / Float(layout.scalars) : 0)
    set(.indentedLines, layout.lines > 0 ? Float(layout.indentedLines) / Float(layout.lines) : 0)

    guard count > 0 else { return }
    var backward = 0
    var fragments = 0
    var terminated = 0
    var breaks = 0
    var lowercase = 0
    var afterEnds = 0
    for index in 0..<count {
      let info = work.segmentInfo[index]
      if info.firstFlags & WordFlagTable.backwardReference != 0 { backward += 1 }
      let ends = isSentenceEnd(info.endClass)
      if ends { terminated += 1 }
      if !ends && info.words <= 4 { fragments += 1 }
      if index + 1 < count {
        if !ends && info.separator == SeparatorKind.space { breaks += 1 }
        if ends {
          afterEnds += 1
          if work.segmentInfo[index + 1].startClass == StartClass.lowercase { lowercase += 1 }
        }
      }
    }
    let segments = Float(count)
    set(.backwardOpenerRate, Float(backward) / segments)
    set(.firstOpensBackward, work.segmentInfo[0].firstFlags & WordFlagTable.backwardReference != 0 ? 1 : 0)
    set(.shortFragments, Float(fragments) / segments)
    set(.terminatedSegments, Float(terminated) / segments)
    set(.layoutBreaks, count > 1 ? Float(breaks) / Float(count - 1) : 0)
    set(.lowercaseStarts, afterEnds > 0 ? Float(lowercase) / Float(afterEnds) : 0)
    let first = work.segmentInfo[0]
    set(.titleFirst, first.words <= 8 && !isSentenceEnd(first.endClass) ? 1 : 0)
  }

  /// Coarse segment length in words: 1, 2–3, 4–8, 9–20, more.
  private static func lengthBucket(_ words: Int) -> UInt64 {
    switch words {
    case ...1: 0
    case 2...3: 1
    case 4...8: 2
    case 9...20: 3
    default: 4
    }
  }

  private enum StartClass {
    static let uppercase: UInt8 = 0
    static let lowercase: UInt8 = 1
    static let digit: UInt8 = 2
    static let symbol: UInt8 = 3
    static let otherLetter: UInt8 = 4
    static let ideograph: UInt8 = 5
  }

  private enum EndClass {
    static let period: UInt8 = 0
    static let exclamationOrQuestion: UInt8 = 1
    static let colon: UInt8 = 2
    static let comma: UInt8 = 3
    static let closer: UInt8 = 4
    static let letter: UInt8 = 5
    static let ideographicEnd: UInt8 = 6
    static let other: UInt8 = 7
  }

  private enum SeparatorKind {
    static let none: UInt8 = 0
    static let space: UInt8 = 1
    static let lineBreak: UInt8 = 2
    static let paragraph: UInt8 = 3
  }

  private static func isSentenceEnd(_ endClass: UInt8) -> Bool {
    endClass == EndClass.period || endClass == EndClass.exclamationOrQuestion || endClass == EndClass.ideographicEnd
  }

  private static func startClass(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int) -> UInt8 {
    let byte = bytes[start]
    if (byte &- 0x41) < 26 { return StartClass.uppercase }
    if (byte &- 0x61) < 26 { return StartClass.lowercase }
    if (byte &- 0x30) < 10 { return StartClass.digit }
    if byte < 0x80 { return StartClass.symbol }
    let (scalar, _) = UTF8Decoding.decode(bytes, at: start)
    switch ScalarClass.of(scalar) {
    case .ideograph: return StartClass.ideograph
    case .letter, .southeastAsian: return StartClass.otherLetter
    default: return StartClass.symbol
    }
  }

  private static func endClass(_ bytes: UnsafeBufferPointer<UInt8>, _ end: Int) -> UInt8 {
    var position = UTF8Decoding.previousStart(bytes, before: end)
    var (scalar, _) = UTF8Decoding.decode(bytes, at: position)
    var scalarClass = ScalarClass.of(scalar)
    if scalarClass == .closer && position > 0 {
      // `."` and `.)` end a sentence like `.` does.
      position = UTF8Decoding.previousStart(bytes, before: position)
      (scalar, _) = UTF8Decoding.decode(bytes, at: position)
      let inner = ScalarClass.of(scalar)
      if inner != .terminal && inner != .strongTerminal { return EndClass.closer }
      scalarClass = inner
    }
    switch scalarClass {
    case .terminal: return scalar == 0x2E ? EndClass.period : EndClass.exclamationOrQuestion
    case .strongTerminal: return EndClass.ideographicEnd
    case .closer: return EndClass.closer
    case .letter, .ideograph, .southeastAsian: return EndClass.letter
    default:
      if scalar == 0x3A { return EndClass.colon }
      if scalar == 0x2C || scalar == 0x3B { return EndClass.comma }
      return EndClass.other
    }
  }

  private static func separatorKind(_ bytes: UnsafeBufferPointer<UInt8>, _ segment: Segment) -> UInt8 {
    if segment.separatorEnd == segment.end { return SeparatorKind.none }
    var breaks = 0
    for index in segment.end..<segment.separatorEnd where bytes[index] == 0x0A { breaks += 1 }
    switch breaks {
    case 0: return SeparatorKind.space
    case 1: return SeparatorKind.lineBreak
    default: return SeparatorKind.paragraph
    }
  }
}

/// Adds weighted hashed features into a dense value array, recording which slots it set.
struct SparseAccumulator {
  let values: UnsafeMutablePointer<Float>
  let touched: UnsafeMutablePointer<Int32>
  let shift: UInt64
  private(set) var count = 0

  init(values: UnsafeMutablePointer<Float>, touched: UnsafeMutablePointer<Int32>, shift: UInt64) {
    self.values = values
    self.touched = touched
    self.shift = shift
  }

  /// Adds `weight` at the slot of `hash` (its top bits).
  @inline(__always)
  mutating func add(_ hash: UInt64, _ weight: Float) {
    let slot = Int(truncatingIfNeeded: hash >> shift)
    let old = values[slot]
    // Branch-free: always write the slot, advance only when it is new (touched has room for
    // every slot, so the write past the end of the list is harmless).
    touched[count] = Int32(truncatingIfNeeded: slot)
    count &+= old == 0 ? 1 : 0
    values[slot] = old + weight
  }

  /// Scales the touched values to unit L2 norm.
  mutating func normalize() {
    var sum: Float = 0
    for position in 0..<count {
      let value = values[Int(touched[position])]
      sum += value * value
    }
    guard sum > 0 else { return }
    let scale = 1 / sum.squareRoot()
    for position in 0..<count { values[Int(touched[position])] *= scale }
  }
}

/// What the order and dense features need to know about a segment.
private struct SegmentInfo {
  var words: Int
  var firstWord: UInt64
  var firstFlags: UInt8
  var startClass: UInt8
  var endClass: UInt8
  var separator: UInt8
}

/// The per-document buffers of a `FeatureExtractor`, reused between documents.
private struct Workspace {
  var segments: [Segment] = []
  /// Every word's hash, in order.
  var wordHashes: [UInt64] = []
  /// Where each segment's words start in `wordHashes` (one more entry than segments).
  var wordStart: [Int] = []
  /// Each segment's content-word hashes, sorted and distinct after `sortContentSets`.
  var contentHashes: [UInt64] = []
  /// Where each segment's content words start (one more entry than segments).
  var contentStart: [Int] = []
  var segmentInfo: [SegmentInfo] = []
  /// `overlap(i, i + 1)` for each segment but the last, filled by `sortContentSets`.
  var adjacentOverlaps: [Float] = []
  var seen = ScratchHashSet()

  /// Sorts and de-duplicates each segment's content-word hashes in place (for merging).
  mutating func sortContentSets() {
    var write = 0
    var starts = contentStart
    contentHashes.withUnsafeMutableBufferPointer { buffer in
      for index in 0..<(starts.count - 1) {
        let range = contentStart[index]..<contentStart[index + 1]
        starts[index] = write
        guard !range.isEmpty else { continue }
        var slice = UnsafeMutableBufferPointer(rebasing: buffer[range])
        slice.sort()
        var last: UInt64 = 0
        for position in range where position == range.lowerBound || buffer[position] != last {
          last = buffer[position]
          buffer[write] = last
          write += 1
        }
      }
    }
    starts[starts.count - 1] = write
    contentStart = starts
    adjacentOverlaps.removeAll(keepingCapacity: true)
    for index in 0..<max(segmentInfo.count - 1, 0) { adjacentOverlaps.append(overlap(index, index + 1)) }
  }

  /// Set cosine of the content words of two segments: shared / sqrt(|a| · |b|).
  func overlap(_ a: Int, _ b: Int) -> Float {
    var i = contentStart[a]
    let iEnd = contentStart[a + 1]
    var j = contentStart[b]
    let jEnd = contentStart[b + 1]
    let sizes = Float((iEnd - i) * (jEnd - j))
    guard sizes > 0 else { return 0 }
    var shared = 0
    contentHashes.withUnsafeBufferPointer { hashes in
      while i < iEnd && j < jEnd {
        let left = hashes[i]
        let right = hashes[j]
        if left == right {
          shared += 1
          i += 1
          j += 1
        } else if left < right {
          i += 1
        } else {
          j += 1
        }
      }
    }
    return Float(shared) / sizes.squareRoot()
  }

  /// The mean overlap of segments `distance` apart (0 when there are none).
  func meanOverlap(distance: Int) -> Float {
    let count = segmentInfo.count
    guard count > distance else { return 0 }
    var sum: Float = 0
    if distance == 1 {
      for value in adjacentOverlaps { sum += value }
      return sum / Float(count - 1)
    }
    for index in 0..<(count - distance) { sum += overlap(index, index + distance) }
    return sum / Float(count - distance)
  }

  /// The share of the first segment's content words found in later segments.
  mutating func firstSegmentRecurrence() -> Float {
    guard segmentInfo.count > 1 else { return 0 }
    let firstRange = contentStart[0]..<contentStart[1]
    guard !firstRange.isEmpty else { return 0 }
    seen.reset(expected: contentHashes.count - firstRange.count)
    for position in contentStart[1]..<contentHashes.count { _ = seen.insert(contentHashes[position]) }
    var recurring = 0
    for position in firstRange where seen.contains(contentHashes[position]) { recurring += 1 }
    return Float(recurring) / Float(firstRange.count)
  }

  /// The share of segments of two words or more that repeat an earlier one word for word.
  mutating func duplicateSegmentShare() -> Float {
    seen.reset(expected: segmentInfo.count)
    var longSegments = 0
    var duplicates = 0
    for index in 0..<segmentInfo.count where segmentInfo[index].words >= 2 {
      longSegments += 1
      var hash: UInt64 = 0x51_7CC1_B727_220A
      for position in wordStart[index]..<wordStart[index + 1] {
        hash = (hash ^ wordHashes[position]) &* 0x100_0000_01B3
      }
      if !seen.insert(hash) { duplicates += 1 }
    }
    return longSegments > 0 ? Float(duplicates) / Float(longSegments) : 0
  }

  /// The share of word 3-grams that occurred earlier in the text.
  mutating func repeatedTrigramShare() -> Float {
    let words = wordHashes.count
    guard words >= 3 else { return 0 }
    seen.reset(expected: words)
    var repeated = 0
    for position in 2..<words {
      let key = mixHash(wordHashes[position - 2] &* 31 ^ wordHashes[position - 1] &* 17 ^ wordHashes[position], 7)
      if !seen.insert(key) { repeated += 1 }
    }
    return Float(repeated) / Float(words - 2)
  }

  /// Distinct words over words among the first 256.
  mutating func typeTokenRatio() -> Float {
    let sample = min(wordHashes.count, 256)
    guard sample > 0 else { return 0 }
    seen.reset(expected: sample)
    var distinct = 0
    for position in 0..<sample where seen.insert(wordHashes[position]) { distinct += 1 }
    return Float(distinct) / Float(sample)
  }
}
