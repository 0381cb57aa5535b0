/// A word found by the splitter: a byte range of the text. Stored as 32-bit offsets (a record
/// is far below 4 GB), which halves the memory of the word lists of enormous records.
struct WordSpan: Sendable, Equatable {
  private var first: UInt32
  private var past: UInt32

  /// Creates the range `start..<end`.
  @inline(__always)
  init(start: Int, end: Int) {
    first = UInt32(truncatingIfNeeded: start)
    past = UInt32(truncatingIfNeeded: end)
  }

  /// The first byte.
  @inline(__always)
  var start: Int { Int(first) }
  /// One past the last byte.
  @inline(__always)
  var end: Int { Int(past) }
}

/// Receives the splitter's tokens in text order.
protocol TokenSink {
  /// A token: the bytes `start..<end` (never empty, never containing whitespace); `ascii` is
  /// true when the splitter knows the token is all ASCII.
  mutating func token(_ start: Int, _ end: Int, ascii: Bool)
  /// A whitespace token: a run of whitespace other than the single space that follows a token.
  /// Word lists drop these; sentence splitting counts them as non-punctuation tokens.
  mutating func whitespace(_ start: Int, _ end: Int)
}

/// Splits English text into tokens the way datatrove does for English (`split_into_words(text,
/// "en")`, which is spaCy's rule-based English tokenizer), working on UTF-8 bytes.
///
/// The rules, per run of non-whitespace characters (whitespace is Python's `str.isspace`):
///
/// 1. A run that is an exception (`don't`, `Dr.`, `e.g.`, `10am`, `:)`) is split as listed.
/// 2. Otherwise prefixes (opening brackets and quotes, `$`, `#`, ...) are cut off the front and
///    suffixes (closing punctuation, `'s`, a final `.` after a lowercase letter, digit or
///    two capitals, units after a number as in `10km`) off the end, repeatedly, until nothing
///    changes or what is left is an exception.
/// 3. What remains is one token if it is an exception or a URL; otherwise it is cut at infixes:
///    dot runs and `…`, symbols, `-` `+` `*` `^` between digits, `.` between a lowercase and an
///    uppercase letter, `,` between letters, hyphens and `:<>=/` after a letter or digit and
///    before a letter.
/// 4. Adjacent tokens whose text together spells an exception are merged into it
///    (`Mr.Smith` → `Mr.` `Smith`).
///
/// The character classes and the exception list are generated from spaCy 3.8 into
/// `WordTables.swift`, so the splitter needs no regular expressions. Known differences: the URL
/// test approximates spaCy's pattern (ASCII digits in ports and addresses), and step 4 merges by
/// spelling rather than by spaCy's phrase patterns.
///
/// Most runs never reach the rules. Runs are found eight bytes at a time; a run of letters, a
/// single byte, or a run whose rule characters are all inside it and cut nothing (`get_value`,
/// `слово`) is one token unless it is an exception; short ASCII runs (up to 16 bytes) and other
/// runs seen before take their cuts from a table. Every shortcut gives exactly what the rules
/// give: `withoutShortcuts()` sends every run through them, and the tests compare the two.
struct EnglishWordSplitter {
  private let scratch = SplitScratch()
  /// Whether runs may skip the rules (see `SplitWorker.run`); off only for tests, which check
  /// that every shortcut gives what the rules give.
  private let takesShortcuts: Bool

  /// Creates a splitter; one splitter can split many texts (it keeps its scratch buffers).
  init() { takesShortcuts = true }

  /// A splitter that sends every run through the full rules, with no cache: the reference
  /// the shortcuts are tested against.
  static func withoutShortcuts() -> EnglishWordSplitter { EnglishWordSplitter(takesShortcuts: false) }

  private init(takesShortcuts: Bool) { self.takesShortcuts = takesShortcuts }

  /// Splits `text` and hands every token (and whitespace token) to `sink`.
  mutating func split<Sink: TokenSink>(_ text: UnsafeBufferPointer<UInt8>, into sink: inout Sink) {
    guard let base = text.baseAddress, !text.isEmpty else { return }
    var worker = SplitWorker(base: base, count: text.count, scratch: scratch, takesShortcuts: takesShortcuts)
    worker.run(into: &sink)
  }
}

/// A growable list of spans in raw memory: emptied by resetting its count, with no
/// copy-on-write checks, for the splitter's per-run scratch lists.
final class SpanBuffer {
  private var storage: UnsafeMutablePointer<WordSpan>
  private var capacity: Int
  /// The number of spans.
  private(set) var count = 0

  init(capacity: Int = 16) {
    self.capacity = capacity
    storage = .allocate(capacity: capacity)
  }

  deinit { storage.deallocate() }

  @inline(__always)
  subscript(index: Int) -> WordSpan { storage[index] }

  @inline(__always)
  func append(_ span: WordSpan) {
    if count == capacity { grow() }
    storage[count] = span
    count &+= 1
  }

  @inline(__always)
  func removeAll() { count = 0 }

  /// Calls `body` with the spans (valid only during the call).
  @inline(__always)
  func withSpans<Result>(_ body: (UnsafeBufferPointer<WordSpan>) -> Result) -> Result {
    body(UnsafeBufferPointer(start: storage, count: count))
  }

  private func grow() {
    let larger = UnsafeMutablePointer<WordSpan>.allocate(capacity: capacity * 2)
    larger.moveInitialize(from: storage, count: count)
    storage.deallocate()
    storage = larger
    capacity *= 2
  }
}

/// Buffers reused from one run of non-whitespace to the next (and from one text to the next).
private final class SplitScratch {
  /// Tokens of the run being split.
  let pieces = SpanBuffer()
  /// Suffixes cut off the run, last cut first.
  let suffixes = SpanBuffer()
  /// The tokens after merging exceptions.
  let merged = SpanBuffer()
  /// Splits of runs seen before.
  let runs = RunSplitCache()
  /// Splits of short ASCII runs seen before.
  let shortRuns = ShortRunSplits()
}

/// Splits of short runs seen before. The split of a run of non-whitespace depends only on its
/// bytes, and the same runs (`it.`, `(see`, `foo();`) come back again and again, so a run found
/// here skips the affix, URL, infix and merge rules. A hit gives exactly what splitting gives, so
/// results never depend on what was cached; the cache is emptied when full.
final class RunSplitCache {
  /// Longest run cached, in bytes (piece offsets are stored as bytes).
  static let maxRunLength = 48
  /// Most pieces of a cached run.
  static let maxPieces = 24
  private static let slotCount = 1 << 13
  private static let maxEntries = slotCount / 2
  private static let arenaSize = maxEntries * 64

  /// A cached run: its bytes, then a (start, end) byte pair per piece, in `arena`.
  private struct Slot {
    var hash: UInt64
    var offset: UInt32
    /// 0 when the slot is empty (runs are never empty).
    var length: UInt16
    var pieceCount: UInt16
  }

  private var slots: UnsafeMutablePointer<Slot>?
  private var arena: UnsafeMutablePointer<UInt8>?
  private var arenaUsed = 0
  private var entries = 0

  init() {}

  deinit {
    slots?.deallocate()
    arena?.deallocate()
  }

  /// The pieces of the `length`-byte run at `run` (whose `FastHash` is `hash`) as (start, end)
  /// byte pairs relative to the run, with their number; nil if the run is not cached.
  @inline(__always)
  func lookup(_ run: UnsafePointer<UInt8>, _ length: Int, _ hash: UInt64) -> (UnsafePointer<UInt8>, Int)? {
    guard let slots, let arena else { return nil }
    let mask = Self.slotCount &- 1
    var slot = Int(truncatingIfNeeded: hash >> 40) & mask
    while true {
      let entry = slots[slot]
      if entry.length == 0 { return nil }
      if entry.hash == hash && Int(entry.length) == length {
        let key = arena + Int(entry.offset)
        if QualityText.bytesEqual(key, run, length) {
          return (UnsafePointer(key + length), Int(entry.pieceCount))
        }
      }
      slot = (slot &+ 1) & mask
    }
  }

  /// Caches the split of a run that `lookup` did not find; `pieces` are absolute spans and
  /// `runStart` the run's offset in the text.
  func insert(_ run: UnsafePointer<UInt8>, _ length: Int, _ hash: UInt64, _ pieces: SpanBuffer, from runStart: Int) {
    guard length <= Self.maxRunLength, pieces.count <= Self.maxPieces else { return }
    if slots == nil {
      let newSlots = UnsafeMutablePointer<Slot>.allocate(capacity: Self.slotCount)
      newSlots.initialize(repeating: Slot(hash: 0, offset: 0, length: 0, pieceCount: 0), count: Self.slotCount)
      slots = newSlots
      arena = .allocate(capacity: Self.arenaSize)
    }
    guard let slots, let arena else { return }
    let size = length + 2 * pieces.count
    if entries == Self.maxEntries || arenaUsed + size > Self.arenaSize {
      slots.update(repeating: Slot(hash: 0, offset: 0, length: 0, pieceCount: 0), count: Self.slotCount)
      entries = 0
      arenaUsed = 0
    }
    let key = arena + arenaUsed
    key.update(from: run, count: length)
    for index in 0..<pieces.count {
      let piece = pieces[index]
      key[length + 2 * index] = UInt8(truncatingIfNeeded: piece.start - runStart)
      key[length + 2 * index + 1] = UInt8(truncatingIfNeeded: piece.end - runStart)
    }
    let mask = Self.slotCount &- 1
    var slot = Int(truncatingIfNeeded: hash >> 40) & mask
    while slots[slot].length != 0 { slot = (slot &+ 1) & mask }
    slots[slot] = Slot(
      hash: hash, offset: UInt32(truncatingIfNeeded: arenaUsed), length: UInt16(truncatingIfNeeded: length),
      pieceCount: UInt16(truncatingIfNeeded: pieces.count))
    arenaUsed += size
    entries += 1
  }
}

/// Splits of short ASCII runs (`x);`, `a,`, `==`, `information,`), kept as the places where a
/// run is cut. A run of up to sixteen bytes is its own key, packed into two integers, so a
/// lookup is one multiplication and two comparisons. A run's pieces always cover it end to end,
/// so the cut places describe the split exactly; results never depend on what was kept (a slot
/// is simply overwritten by a newer run).
final class ShortRunSplits {
  /// Longest run kept, in bytes.
  static let maxLength = 16
  private static let slotBits = 12

  private struct Slot {
    /// The run's bytes, zero past its length.
    var low: UInt64
    var high: UInt64
    /// Bit k set: a piece starts k bytes into the run (k from 1 to 15).
    var cuts: UInt16
    /// The run's length; 0 for an empty slot.
    var length: UInt8
  }

  /// Allocated by the first insert: a splitter made for one short text never pays for it.
  private var slots: UnsafeMutablePointer<Slot>?

  init() {}

  deinit { slots?.deallocate() }

  @inline(__always)
  private static func slot(_ low: UInt64, _ high: UInt64, _ length: Int) -> Int {
    let mixed = (low ^ (high &* 0xBF58_476D_1CE4_E5B9) ^ UInt64(length)) &* 0x9E37_79B9_7F4A_7C15
    return Int(truncatingIfNeeded: mixed &>> UInt64(64 - slotBits))
  }

  /// The cut places of the `length`-byte run whose bytes are `low` then `high`, if kept.
  @inline(__always)
  func cuts(_ low: UInt64, _ high: UInt64, _ length: Int) -> UInt16? {
    guard let slots else { return nil }
    let slot = slots[Self.slot(low, high, length)]
    return slot.low == low && slot.high == high && Int(slot.length) == length ? slot.cuts : nil
  }

  /// Keeps the cut places of a run.
  @inline(__always)
  func insert(_ low: UInt64, _ high: UInt64, _ length: Int, cuts: UInt16) {
    if slots == nil {
      let new = UnsafeMutablePointer<Slot>.allocate(capacity: 1 << Self.slotBits)
      new.initialize(repeating: Slot(low: 0, high: 0, cuts: 0, length: 0), count: 1 << Self.slotBits)
      slots = new
    }
    guard let slots else { return }
    slots[Self.slot(low, high, length)] = Slot(
      low: low, high: high, cuts: cuts, length: UInt8(truncatingIfNeeded: length))
  }
}

/// The splitter at work on one text.
private struct SplitWorker {
  let tables = SplitterTables.shared
  let base: UnsafePointer<UInt8>
  let count: Int
  // The scratch buffers, held here (not read through the scratch object) so that using them
  // costs no reference counting.
  let pieces: SpanBuffer
  let suffixes: SpanBuffer
  let merged: SpanBuffer
  let runs: RunSplitCache
  let shortRuns: ShortRunSplits
  /// Runs of tokens that spell an exception.
  var merges: [(first: Int, count: Int, entry: ExceptionTable.Entry)] = []
  /// Whether the run being split has an ASCII digit (units and currencies follow only digits).
  var runHasDigit = false
  /// Whether runs may take the shortcuts (false: every run through `splitRun`).
  let takesShortcuts: Bool

  init(base: UnsafePointer<UInt8>, count: Int, scratch: SplitScratch, takesShortcuts: Bool) {
    self.takesShortcuts = takesShortcuts
    self.base = base
    self.count = count
    pieces = scratch.pieces
    suffixes = scratch.suffixes
    merged = scratch.merged
    runs = scratch.runs
    shortRuns = scratch.shortRuns
  }

  mutating func run<Sink: TokenSink>(into sink: inout Sink) {
    let flags = tables.asciiFlags
    var index = 0
    while index < count {
      // A run of whitespace: the first plain space after a token belongs to the token.
      let spaceStart = index
      while index < count {
        let byte = base[index]
        if byte < 0x80 {
          if flags[Int(byte)] & AsciiFlag.space == 0 { break }
          index += 1
        } else {
          let (value, length) = decodeScalar(at: index)
          if !PythonText.isSpace(value) { break }
          index += length
        }
      }
      if index > spaceStart {
        let first = spaceStart > 0 && base[spaceStart] == 0x20 ? spaceStart + 1 : spaceStart
        if first < index { sink.whitespace(first, index) }
      }
      if index >= count { break }
      // A run of non-whitespace.
      let runStart = index
      var runFlags: UInt16 = 0
      var isASCII = true
      var mayCut = false
      if takesShortcuts, let (end, letters) = AsciiRun.scan(base, from: runStart, count: count, flags: flags) {
        let length = end &- runStart
        if letters || length == 1 {
          // ASCII letters only, the commonest run, or one symbol (no rule cuts a single byte).
          emitWhole(runStart, end, ascii: true, into: &sink)
          index = afterSingleSpace(end, flags)
          continue
        }
        if length <= ShortRunSplits.maxLength {
          splitShortRun(runStart, end, into: &sink)
          index = afterSingleSpace(end, flags)
          continue
        }
        for position in runStart..<end { runFlags |= flags[Int(base[position])] }
        index = end
      }
      while index < count {
        let byte = base[index]
        if byte < 0x80 {
          let flag = flags[Int(byte)]
          if flag & AsciiFlag.space != 0 { break }
          runFlags |= flag
          index += 1
        } else {
          let (value, length) = decodeScalar(at: index)
          if PythonText.isSpace(value) { break }
          isASCII = false
          if tables.mayCut(value) { mayCut = true }
          index += length
        }
      }
      // Letters and harmless symbols only (in any script), or rule characters that cut nothing:
      // no prefix, suffix or infix rule applies to such a run.
      if takesShortcuts
        && ((runFlags & AsciiFlag.needsRules == 0 && !mayCut) || (isASCII && isWhole(runStart, index, runFlags)))
      {
        emitWhole(runStart, index, ascii: isASCII, into: &sink)
        continue
      }
      let runLength = index - runStart
      let cacheable = takesShortcuts && runLength <= RunSplitCache.maxRunLength
      let hash = cacheable ? FastHash.hash(base + runStart, runLength) : 0
      if cacheable, let (cached, pieceCount) = runs.lookup(base + runStart, runLength, hash) {
        for piece in 0..<pieceCount {
          sink.token(runStart + Int(cached[2 * piece]), runStart + Int(cached[2 * piece + 1]), ascii: isASCII)
        }
        continue
      }
      runHasDigit = runFlags & AsciiFlag.digit != 0
      splitRun(runStart, index)
      if pieces.count > 1 { mergeExceptions() }
      if cacheable { runs.insert(base + runStart, runLength, hash, pieces, from: runStart) }
      for index in 0..<pieces.count {
        let piece = pieces[index]
        sink.token(piece.start, piece.end, ascii: isASCII)
      }
    }
  }

  /// Where the next run starts when the byte at `end` is a single space followed by a run
  /// (the common case, which needs no whitespace pass); otherwise `end`.
  @inline(__always)
  private func afterSingleSpace(_ end: Int, _ flags: UnsafeMutablePointer<UInt16>) -> Int {
    guard end &+ 1 < count, base[end] == 0x20 else { return end }
    let next = base[end &+ 1]
    return next < 0x80 && flags[Int(next)] & AsciiFlag.space == 0 ? end &+ 1 : end
  }

  /// Whether no rule cuts the ASCII run `start..<end` (whose `AsciiFlag` bits together are
  /// `runFlags`) although it has rule characters: they are all inside it, and none is an infix
  /// or a digit (`get_value`, `a(b`, `x[i]y`). Then no prefix or suffix can be cut (the first
  /// and last bytes are neither, nor start `US$`, `C$`, `A$` or end `'s`), the infix pass finds
  /// nothing, and the URL test needs a dot; so the run is one token unless it is an exception.
  @inline(__always)
  private func isWhole(_ start: Int, _ end: Int, _ runFlags: UInt16) -> Bool {
    guard runFlags & (AsciiFlag.infix | AsciiFlag.digit) == 0 else { return false }
    let flags = tables.asciiFlags
    let first = base[start]
    let last = base[end &- 1]
    guard flags[Int(first)] & AsciiFlag.needsRules == 0, flags[Int(last)] & AsciiFlag.needsRules == 0 else {
      return false
    }
    if first == 0x55 || first == 0x43 || first == 0x41 { return false }  // U C A
    if (last == 0x73 || last == 0x53) && end &- start >= 2 && base[end &- 2] == 0x27 { return false }  // 's
    return true
  }

  /// Splits an ASCII run of 2 to 16 bytes that is not all letters, through `shortRuns`. The
  /// eight-byte scan read every byte loaded here, so no load passes the end of the text.
  @inline(__always)
  private mutating func splitShortRun<Sink: TokenSink>(_ runStart: Int, _ end: Int, into sink: inout Sink) {
    let length = end &- runStart
    let first = UInt64(littleEndian: UnsafeRawPointer(base + runStart).loadUnaligned(as: UInt64.self))
    let low = first & AsciiRun.firstBytes(length)
    var high: UInt64 = 0
    if length > 8 {
      let second = UInt64(littleEndian: UnsafeRawPointer(base + runStart + 8).loadUnaligned(as: UInt64.self))
      high = second & AsciiRun.firstBytes(length &- 8)
    }
    var cuts: UInt16
    if let known = shortRuns.cuts(low, high, length) {
      cuts = known
    } else {
      cuts = 0
      if isLettersThenSuffix(runStart, end, low, high) {
        cuts = 1 &<< UInt16(length &- 1)
      } else {
        var runFlags: UInt16 = 0
        for position in runStart..<end { runFlags |= tables.asciiFlags[Int(base[position])] }
        if !isWhole(runStart, end, runFlags) || exception(runStart, end) != nil {
          runHasDigit = runFlags & AsciiFlag.digit != 0
          splitRun(runStart, end)
          if pieces.count > 1 { mergeExceptions() }
          for index in 1..<max(pieces.count, 1) { cuts |= 1 &<< UInt16(pieces[index].start &- runStart) }
        }
      }
      shortRuns.insert(low, high, length, cuts: cuts)
    }
    var pieceStart = runStart
    while cuts != 0 {
      let cut = runStart &+ cuts.trailingZeroBitCount
      sink.token(pieceStart, cut, ascii: true)
      pieceStart = cut
      cuts &= cuts &- 1
    }
    sink.token(pieceStart, end, ascii: true)
  }

  /// Whether the full rules cut the ASCII run `start..<end` (2 to 16 bytes, packed into `low`
  /// and `high`) once, before its last byte: the run is letters then one closing mark
  /// (`word,` `that.` `end)`), the commonest kind of run the short-run table has not seen.
  ///
  /// Why that is the full rules' answer: no letter is a prefix, and `US$`, `C$`, `A$` need a
  /// `$`; the mark is a suffix when `suffixLength` says so (a period is not one after `aB`);
  /// the letters then have no prefix or suffix (`'s` needs an apostrophe, units a digit), no
  /// dot for a URL and no infix, so they are one piece; and the only tokens an exception could
  /// join are the whole run. So the answer holds unless the run or its letters are an exception
  /// (`etc.`, `dont,`), which sends the run through the rules.
  @inline(__always)
  private mutating func isLettersThenSuffix(_ start: Int, _ end: Int, _ low: UInt64, _ high: UInt64) -> Bool {
    let letters = end &- start &- 1
    let last = base[end &- 1]
    switch last {
    case UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: ")"),
      UInt8(ascii: "!"), UInt8(ascii: "?"):
      break
    default:
      return false
    }
    let lowLanes = AsciiRun.firstBytes(letters) & 0x8080_8080_8080_8080
    let highLanes = AsciiRun.firstBytes(letters &- 8) & 0x8080_8080_8080_8080
    guard AsciiRun.letters(low) & lowLanes == lowLanes, AsciiRun.letters(high) & highLanes == highLanes else {
      return false
    }
    guard exception(start, end) == nil, exception(start, end &- 1) == nil else { return false }
    runHasDigit = false
    return suffixLength(start, end) == 1
  }

  // MARK: - One run of non-whitespace

  /// Emits a run that no rule cuts: one token, unless it is an exception (`dont`, `id`).
  @inline(__always)
  private mutating func emitWhole<Sink: TokenSink>(_ start: Int, _ end: Int, ascii: Bool, into sink: inout Sink) {
    if let entry = tables.exceptions.lookup(base + start, end - start) {
      emitException(entry, at: start, into: &sink)
    } else {
      sink.token(start, end, ascii: ascii)
    }
  }

  private mutating func emitException<Sink: TokenSink>(
    _ entry: ExceptionTable.Entry, at start: Int, into sink: inout Sink
  ) {
    var position = start
    for index in 0..<entry.pieceCount {
      let length = tables.exceptions.pieceLength(entry, index)
      sink.token(position, position + length, ascii: false)
      position += length
    }
  }

  private mutating func appendException(_ entry: ExceptionTable.Entry, at start: Int) {
    var position = start
    for index in 0..<entry.pieceCount {
      let length = tables.exceptions.pieceLength(entry, index)
      pieces.append(WordSpan(start: position, end: position + length))
      position += length
    }
  }

  @inline(__always)
  private func exception(_ start: Int, _ end: Int) -> ExceptionTable.Entry? {
    tables.exceptions.lookup(base + start, end - start)
  }

  /// Splits `runStart..<runEnd` into `pieces` (steps 1-3).
  private mutating func splitRun(_ runStart: Int, _ runEnd: Int) {
    pieces.removeAll()
    if let entry = exception(runStart, runEnd) {
      appendException(entry, at: runStart)
      return
    }
    suffixes.removeAll()
    var low = runStart
    var high = runEnd
    var lastSize = -1
    while low < high && high - low != lastSize {
      if exception(low, high) != nil { break }
      lastSize = high - low
      let prefix = prefixLength(low, high)
      if prefix > 0, low + prefix < high, exception(low + prefix, high) != nil {
        pieces.append(WordSpan(start: low, end: low + prefix))
        low += prefix
        break
      }
      let suffix = suffixLength(low + prefix, high)
      if suffix > 0, high - suffix > low, exception(low, high - suffix) != nil {
        suffixes.append(WordSpan(start: high - suffix, end: high))
        high -= suffix
        break
      }
      if prefix > 0 {
        pieces.append(WordSpan(start: low, end: low + prefix))
        low += prefix
      }
      if suffix > 0 {
        suffixes.append(WordSpan(start: high - suffix, end: high))
        high -= suffix
      }
    }
    if low < high {
      if let entry = exception(low, high) {
        appendException(entry, at: low)
      } else if isURL(low, high) {
        pieces.append(WordSpan(start: low, end: high))
      } else {
        splitInfixes(low, high)
      }
    }
    var suffix = suffixes.count
    while suffix > 0 {
      suffix -= 1
      pieces.append(suffixes[suffix])
    }
  }

  /// Step 4: replaces runs of two or more tokens that together spell an exception; longer runs
  /// first, then earlier ones, as spaCy's second pass does.
  private mutating func mergeExceptions() {
    let exceptions = tables.exceptions
    let limit = exceptions.maxMatchedLength
    let count = pieces.count
    merges.removeAll(keepingCapacity: true)
    var longest = 0
    for first in 0..<(count - 1) {
      let start = pieces[first].start
      guard exceptions.mayStart(with: base[start]) else { continue }
      var last = first + 1
      while last < count, pieces[last].end - start <= limit {
        if let entry = exceptions.lookup(base + start, pieces[last].end - start), entry.matchesAcrossTokens {
          merges.append((first, last - first + 1, entry))
          longest = max(longest, last - first + 1)
        }
        last += 1
      }
    }
    if merges.isEmpty { return }
    // Merges were found in order of their first token; taking each length in turn, longest
    // first, gives spaCy's order without sorting.
    var taken = [Bool](repeating: false, count: count)
    var chosen = [Int](repeating: -1, count: count)  // index into `merges` of the merge starting here
    for length in stride(from: longest, through: 2, by: -1) {
      for (index, merge) in merges.enumerated()
      where merge.count == length && !taken[merge.first] && !taken[merge.first + merge.count - 1] {
        for token in merge.first..<(merge.first + merge.count) { taken[token] = true }
        chosen[merge.first] = index
      }
    }
    merged.removeAll()
    var index = 0
    while index < count {
      let choice = chosen[index]
      if choice >= 0 {
        let merge = merges[choice]
        var position = pieces[index].start
        for piece in 0..<merge.entry.pieceCount {
          let pieceLength = exceptions.pieceLength(merge.entry, piece)
          merged.append(WordSpan(start: position, end: position + pieceLength))
          position += pieceLength
        }
        index += merge.count
      } else {
        merged.append(pieces[index])
        index += 1
      }
    }
    pieces.removeAll()
    for index in 0..<merged.count { pieces.append(merged[index]) }
  }

  // MARK: - Scalars

  @inline(__always)
  private func decodeScalar(at index: Int) -> (value: UInt32, length: Int) {
    UTF8Scanning.decode(UnsafeBufferPointer(start: base, count: count), at: index)
  }

  /// The scalar that ends just before `index`, if it starts at or after `lowerBound`.
  @inline(__always)
  private func scalar(before index: Int, from lowerBound: Int) -> (value: UInt32, length: Int)? {
    guard index > lowerBound else { return nil }
    var start = index - 1
    if base[start] < 0x80 { return (UInt32(base[start]), 1) }
    while start > lowerBound && base[start] & 0xC0 == 0x80 && index - start < 4 { start -= 1 }
    let decoded = decodeScalar(at: start)
    return decoded.length == index - start ? decoded : (0xFFFD, 1)
  }

  /// The scalar that starts at `index`, if it ends at or before `upperBound`.
  @inline(__always)
  private func scalar(at index: Int, upTo upperBound: Int) -> (value: UInt32, length: Int)? {
    guard index < upperBound else { return nil }
    let decoded = decodeScalar(at: index)
    return index + decoded.length <= upperBound ? decoded : nil
  }

  @inline(__always)
  private func isASCIIDigit(at index: Int, from lowerBound: Int, upTo upperBound: Int) -> Bool {
    index >= lowerBound && index < upperBound && base[index] >= 0x30 && base[index] <= 0x39
  }

  // MARK: - Prefixes, suffixes, infixes

  /// The byte length of the prefix at the start of `low..<high`, or 0.
  private func prefixLength(_ low: Int, _ high: Int) -> Int {
    guard low < high else { return 0 }
    let byte = base[low]
    if byte < 0x80 {
      switch byte {
      case UInt8(ascii: "+"):
        return isASCIIDigit(at: low + 1, from: low, upTo: high) ? 0 : 1
      case UInt8(ascii: "."):
        var end = low
        while end < high && base[end] == UInt8(ascii: ".") { end += 1 }
        return end - low >= 2 ? end - low : 0
      case UInt8(ascii: "U"):
        return high - low >= 3 && base[low + 1] == UInt8(ascii: "S") && base[low + 2] == UInt8(ascii: "$") ? 3 : 0
      case UInt8(ascii: "C"), UInt8(ascii: "A"):
        return high - low >= 2 && base[low + 1] == UInt8(ascii: "$") ? 2 : 0
      default:
        return tables.asciiFlags[Int(byte)] & AsciiFlag.prefix != 0 ? 1 : 0
      }
    }
    guard let (value, length) = scalar(at: low, upTo: high) else { return 0 }
    return tables.prefixes.contains(value) ? length : 0
  }

  /// The byte length of the suffix at the end of `low..<high`, or 0: of all the suffix rules
  /// that match, the one that starts first wins (a regular-expression search finds it).
  private func suffixLength(_ low: Int, _ high: Int) -> Int {
    guard let (last, lastLength) = scalar(before: high, from: low) else { return 0 }
    var start = high
    let beforeLast = high - lastLength
    if tables.suffixes.contains(last) { start = beforeLast }
    switch last {
    case 0x2E:  // "."
      var dots = high
      while dots > low && base[dots - 1] == 0x2E { dots -= 1 }
      if high - dots >= 2 { start = min(start, dots) }
      if let (previous, previousLength) = scalar(before: beforeLast, from: low) {
        if tables.periodAfter.contains(previous) {
          start = min(start, beforeLast)
        } else if tables.alphaUpper.contains(previous),
          let (first, _) = scalar(before: beforeLast - previousLength, from: low), tables.alphaUpper.contains(first)
        {
          start = min(start, beforeLast)
        } else if previous == 0x46 || previous == 0x66 || previous == 0x43 || previous == 0x63 || previous == 0x4B
          || previous == 0x6B,
          let (degree, _) = scalar(before: beforeLast - previousLength, from: low), degree == 0xB0
        {
          start = min(start, beforeLast)
        }
      }
    case 0x2026:  // "……"
      if let (previous, previousLength) = scalar(before: beforeLast, from: low), previous == 0x2026 {
        start = min(start, beforeLast - previousLength)
      }
    case 0x73, 0x53:  // "'s", "’s"
      if let (previous, previousLength) = scalar(before: beforeLast, from: low), previous == 0x27 || previous == 0x2019
      {
        start = min(start, beforeLast - previousLength)
      }
    case 0x2B:  // "+" after a digit
      if isASCIIDigit(at: beforeLast - 1, from: low, upTo: high) { start = min(start, beforeLast) }
    default:
      break
    }
    // Units and currency signs after a digit (`10km`, `5$`): the longest one wins.
    var position = max(low + 1, high - tables.maxUnitLength)
    while runHasDigit && position < start {
      if base[position] & 0xC0 != 0x80, isASCIIDigit(at: position - 1, from: low, upTo: high),
        tables.unitsAndCurrencies.contains(base + position, high - position)
      {
        start = position
        break
      }
      position += 1
    }
    return high - start
  }

  /// Whether the scalar before `index` (within `low`) is in `set`.
  @inline(__always)
  private func previous(_ index: Int, _ low: Int, in set: ScalarSet, orDigit: Bool = false) -> Bool {
    guard let (value, _) = scalar(before: index, from: low) else { return false }
    if orDigit && value >= 0x30 && value <= 0x39 { return true }
    return set.contains(value)
  }

  /// Whether the scalar at `index` (before `high`) is in `set`.
  @inline(__always)
  private func next(_ index: Int, _ high: Int, in set: ScalarSet) -> Bool {
    guard let (value, _) = scalar(at: index, upTo: high) else { return false }
    return set.contains(value)
  }

  /// The byte length of an infix starting at `index` of `low..<high`, or 0.
  private func infixLength(at index: Int, _ low: Int, _ high: Int) -> (length: Int, scalarLength: Int) {
    let (value, length) = decodeScalar(at: index)
    switch value {
    case 0x2E:  // "." runs, then "." between a lowercase and an uppercase letter (or quotes)
      var end = index
      while end < high && base[end] == 0x2E { end += 1 }
      if end - index >= 2 { return (end - index, 1) }
      if previous(index, low, in: tables.lowerOrQuote) && next(index + 1, high, in: tables.upperOrQuote) {
        return (1, 1)
      }
      return (0, 1)
    case 0x2026:
      return (length, length)
    case 0x2B, 0x2A, 0x5E:  // + * ^ between digits
      if isASCIIDigit(at: index - 1, from: low, upTo: high),
        isASCIIDigit(at: index + 1, from: low, upTo: high) || (index + 1 < high && base[index + 1] == 0x2D)
      {
        return (1, 1)
      }
      return (0, 1)
    case 0x2C:  // "," between letters
      if previous(index, low, in: tables.alpha) && next(index + 1, high, in: tables.alpha) { return (1, 1) }
      return (0, 1)
    case 0x2D, 0x2013, 0x2014, 0x7E:  // hyphens after a letter or digit, before a letter
      if value == 0x2D, isASCIIDigit(at: index - 1, from: low, upTo: high),
        isASCIIDigit(at: index + 1, from: low, upTo: high) || (index + 1 < high && base[index + 1] == 0x2D)
      {
        return (1, 1)
      }
      guard previous(index, low, in: tables.alpha, orDigit: true) else { return (0, length) }
      // The alternatives in the pattern's order: - – — -- --- —— ~
      for candidate in Self.hyphens where matches(candidate, at: index, high) {
        if next(index + candidate.count, high, in: tables.alpha) { return (candidate.count, length) }
      }
      return (0, length)
    case 0x3A, 0x3C, 0x3E, 0x3D, 0x2F:  // : < > = / after a letter or digit, before a letter
      if previous(index, low, in: tables.alpha, orDigit: true) && next(index + 1, high, in: tables.alpha) {
        return (1, 1)
      }
      return (0, 1)
    default:
      if value >= 0x80 && tables.icons.contains(value) { return (length, length) }
      return (0, length)
    }
  }

  private static let hyphens: [[UInt8]] = ["-", "–", "—", "--", "---", "——", "~"].map { Array($0.utf8) }

  @inline(__always)
  private func matches(_ bytes: [UInt8], at index: Int, _ high: Int) -> Bool {
    guard index + bytes.count <= high else { return false }
    for offset in 0..<bytes.count where base[index + offset] != bytes[offset] { return false }
    return true
  }

  /// Cuts `low..<high` at its infixes into `pieces`. An infix at the very start stays attached
  /// to what follows it.
  private mutating func splitInfixes(_ low: Int, _ high: Int) {
    var pieceStart = low
    var index = low
    let flags = tables.asciiFlags
    while index < high {
      let byte = base[index]
      if byte < 0x80 && flags[Int(byte)] & AsciiFlag.infix == 0 {
        index += 1
        continue
      }
      let (length, step) = infixLength(at: index, low, high)
      if length == 0 {
        index += step
        continue
      }
      if index != low {
        if index != pieceStart { pieces.append(WordSpan(start: pieceStart, end: index)) }
        pieces.append(WordSpan(start: index, end: index + length))
        pieceStart = index + length
      }
      index += length
    }
    if pieceStart < high { pieces.append(WordSpan(start: pieceStart, end: high)) }
  }

  // MARK: - URLs

  /// Whether `low..<high` is a URL by spaCy's pattern: optional scheme and user, a host name
  /// with a lowercase top-level domain (or a public IPv4 address), optional port and path.
  private func isURL(_ low: Int, _ high: Int) -> Bool {
    var hasDot = false
    for index in low..<high where base[index] == 0x2E {
      hasDot = true
      break
    }
    guard hasDot else { return false }
    // Scheme: two or more word characters, `+`, `-` or `.`, then "://".
    var schemeEnd = low
    while schemeEnd < high, isSchemeByte(base[schemeEnd]) { schemeEnd += 1 }
    // The start after a scheme (tried first), then the run's start: no array, as this runs for
    // every run with a dot.
    let hasScheme =
      schemeEnd - low >= 2 && high - schemeEnd >= 3 && base[schemeEnd] == 0x3A && base[schemeEnd + 1] == 0x2F
      && base[schemeEnd + 2] == 0x2F
    var start = hasScheme ? schemeEnd + 3 : low
    while true {
      // User info: anything up to an "@" (the last one first), or none.
      var at = high - 1
      while at > start {
        if base[at] == 0x40, matchesHost(at + 1, high) { return true }
        at -= 1
      }
      if matchesHost(start, high) { return true }
      if start == low { break }
      start = low
    }
    return false
  }

  @inline(__always)
  private func isSchemeByte(_ byte: UInt8) -> Bool {
    if byte >= 0x80 { return true }
    return tables.asciiFlags[Int(byte)] & AsciiFlag.word != 0 || byte == 0x2B || byte == 0x2D || byte == 0x2E
  }

  private func matchesHost(_ start: Int, _ high: Int) -> Bool {
    if let end = ipv4End(start, high), matchesPortAndPath(end, high) { return true }
    // Host name: labels of letters, digits and (inside) `_` or `-`, each followed by a dot,
    // then a top-level domain of 2 to 63 lowercase letters.
    var end = start
    var lastDot = -1
    var labelStart = start
    var labelScalars = 0
    var labelEndsWell = false
    var valid = true
    while end < high {
      let byte = base[end]
      if byte == 0x2E {
        if labelScalars == 0 || labelScalars > 64 || !labelEndsWell || !isLabelStart(labelStart) { valid = false }
        lastDot = end
        end += 1
        labelStart = end
        labelScalars = 0
        continue
      }
      if byte < 0x80 {
        let flag = tables.asciiFlags[Int(byte)]
        if flag & AsciiFlag.alnum != 0 {
          labelEndsWell = true
        } else if byte == 0x5F || byte == 0x2D {
          labelEndsWell = false
        } else {
          break
        }
        labelScalars += 1
        end += 1
      } else {
        let (value, length) = decodeScalar(at: end)
        guard value >= 0xA1 && value <= 0xFFFF else { break }
        labelEndsWell = true
        labelScalars += 1
        end += length
      }
    }
    guard valid, lastDot >= start else { return false }
    // The part after the last dot is the top-level domain.
    var tld = lastDot + 1
    var tldScalars = 0
    while tld < end {
      let (value, length) = decodeScalar(at: tld)
      guard tables.alphaLower.contains(value) else { return false }
      tldScalars += 1
      tld += length
    }
    guard (2...63).contains(tldScalars) else { return false }
    return matchesPortAndPath(end, high)
  }

  @inline(__always)
  private func isLabelStart(_ index: Int) -> Bool {
    let byte = base[index]
    return byte >= 0x80 || tables.asciiFlags[Int(byte)] & AsciiFlag.alnum != 0
  }

  /// `(:digits{2,5})?([/?#]...)?` to the end.
  private func matchesPortAndPath(_ start: Int, _ high: Int) -> Bool {
    var index = start
    if index < high, base[index] == 0x3A {
      var digits = index + 1
      while digits < high, base[digits] >= 0x30, base[digits] <= 0x39 { digits += 1 }
      let count = digits - index - 1
      if (2...5).contains(count) { index = digits }
    }
    if index == high { return true }
    let byte = base[index]
    return byte == 0x2F || byte == 0x3F || byte == 0x23
  }

  /// The end of a public dotted IPv4 address at `start`, if there is one.
  private func ipv4End(_ start: Int, _ high: Int) -> Int? {
    // The octets are counted, and only the first two kept, without an array.
    var octets = 0
    var first = 0
    var second = 0
    var index = start
    while octets < 4 {
      var end = index
      while end < high, end - index < 4, base[end] >= 0x30, base[end] <= 0x39 { end += 1 }
      let digits = end - index
      guard (1...3).contains(digits) else { return nil }
      var value = 0
      for position in index..<end { value = value * 10 + Int(base[position] - 0x30) }
      let leadingZero = digits > 1 && base[index] == 0x30
      switch octets {
      case 0: guard !leadingZero, (1...223).contains(value) else { return nil }
      case 3: guard !leadingZero, (1...254).contains(value) else { return nil }
      default: guard value <= 255, !(digits == 3 && leadingZero) else { return nil }
      }
      if octets == 0 { first = value } else if octets == 1 { second = value }
      octets += 1
      index = end
      if octets < 4 {
        guard index < high, base[index] == 0x2E else { return nil }
        index += 1
      }
    }
    switch (first, second) {
    case (10, _), (127, _), (169, 254), (192, 168): return nil
    case (172, 16...31): return nil
    default: return index
    }
  }

}

/// Finds runs of ASCII non-whitespace eight bytes at a time (SWAR): one unaligned load and a
/// few integer operations per eight bytes, where a byte-at-a-time loop pays a mispredicted
/// branch at the end of every run.
enum AsciiRun {
  private static let high: UInt64 = 0x8080_8080_8080_8080

  /// The bytes of `word` (little-endian) whose value is in `low..<high` among ASCII bytes, as
  /// their high bits. Exact for every byte: the operands keep each lane at 0x80 or more, so no
  /// subtraction borrows from the next lane.
  @inline(__always)
  static func inRange(_ word: UInt64, _ low: UInt8, _ high: UInt8) -> UInt64 {
    let lanes = word | Self.high
    let atLeastLow = lanes &- UInt64(low) &* 0x0101_0101_0101_0101
    let atLeastHigh = lanes &- UInt64(high) &* 0x0101_0101_0101_0101
    return atLeastLow & ~atLeastHigh & ~word & Self.high
  }

  /// A mask of the first `count` bytes of a little-endian word: none for 0 or less, all eight
  /// for 8 or more.
  @inline(__always)
  static func firstBytes(_ count: Int) -> UInt64 {
    if count <= 0 { return 0 }
    return count >= 8 ? .max : (UInt64(1) &<< UInt64(count &* 8)) &- 1
  }

  /// The high bits of the ASCII letters (`A`-`Z`, `a`-`z`) of `word`.
  @inline(__always)
  static func letters(_ word: UInt64) -> UInt64 {
    // Setting bit 5 maps `A`-`Z` onto `a`-`z` and no other ASCII byte into that range.
    inRange(word | 0x2020_2020_2020_2020, 0x61, 0x7B)
  }

  /// The high bits of the bytes that may end a run: ASCII bytes below `!` (whitespace and
  /// control characters) and every byte of a multi-byte scalar.
  @inline(__always)
  static func stops(_ word: UInt64) -> UInt64 {
    let lanes = word | Self.high
    return (~(lanes &- 0x2121_2121_2121_2121) & ~word & Self.high) | (word & Self.high)
  }

  /// The run of non-whitespace starting at `start` when it is all ASCII and ends at an ASCII
  /// whitespace byte at least eight bytes before the end of the text: its end, and whether it
  /// is letters only. Nil sends the run to the byte-at-a-time scan (a multi-byte scalar, a
  /// control character, or the text's last bytes).
  @inline(__always)
  static func scan(
    _ base: UnsafePointer<UInt8>, from start: Int, count: Int, flags: UnsafeMutablePointer<UInt16>
  ) -> (end: Int, letters: Bool)? {
    var position = start
    var others: UInt64 = 0
    while position &+ 8 <= count {
      let word = UInt64(littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self))
      let stop = stops(word)
      if stop != 0 {
        let bytes = stop.trailingZeroBitCount &>> 3
        let end = position &+ bytes
        let byte = base[end]
        guard byte < 0x80, flags[Int(byte)] & AsciiFlag.space != 0 else { return nil }
        others |= ~letters(word) & Self.high & firstBytes(bytes)
        return (end, others == 0)
      }
      others |= ~letters(word) & Self.high
      position &+= 8
    }
    return nil
  }
}

// MARK: - Tables

/// Bits of `SplitterTables.asciiFlags`.
enum AsciiFlag {
  static let space: UInt16 = 1 << 0
  static let prefix: UInt16 = 1 << 1
  static let suffix: UInt16 = 1 << 2
  /// Can start an infix.
  static let infix: UInt16 = 1 << 3
  static let digit: UInt16 = 1 << 4
  /// A letter or digit.
  static let alnum: UInt16 = 1 << 5
  /// A word character (`\w`): letter, digit or `_`.
  static let word: UInt16 = 1 << 6
  /// Anything that may make a run more than one token: affixes, infixes, `+`, `.`, digits.
  static let needsRules: UInt16 = 1 << 7
}

/// The splitter's character classes, built once from the generated `WordTables`.
final class SplitterTables: @unchecked Sendable {
  static let shared = SplitterTables()

  let alpha = ScalarSet(ranges: WordTables.alpha)
  let alphaLower = ScalarSet(ranges: WordTables.alphaLower)
  let alphaUpper = ScalarSet(ranges: WordTables.alphaUpper)
  let lowerOrQuote = ScalarSet(ranges: WordTables.alphaLower + WordTables.quotes)
  let upperOrQuote = ScalarSet(ranges: WordTables.alphaUpper + WordTables.quotes)
  let icons = ScalarSet(ranges: WordTables.icons)
  let prefixes = ScalarSet(ranges: WordTables.prefixes)
  let suffixes = ScalarSet(ranges: WordTables.suffixes)
  let periodAfter = ScalarSet(ranges: WordTables.periodAfter)
  let exceptions = ExceptionTable(list: WordTables.exceptions)
  let unitsAndCurrencies: ByteStringSet
  let maxUnitLength: Int
  /// `AsciiFlag` bits of each ASCII byte (128 entries, immutable, never freed: the tables live
  /// as long as the process).
  let asciiFlags: UnsafeMutablePointer<UInt16>
  /// A bit per scalar of the Basic Multilingual Plane: set when some rule tests for it (see
  /// `mayCut`). Immutable and never freed, like `asciiFlags`.
  private let ruleScalars: UnsafeMutablePointer<UInt64>

  private init() {
    let units = (WordTables.units + "\n" + WordTables.currencies).split(separator: "\n").map { Array($0.utf8) }
    unitsAndCurrencies = ByteStringSet(units)
    maxUnitLength = units.map(\.count).max() ?? 0
    var flags = [UInt16](repeating: 0, count: 128)
    for byte in 0..<128 {
      let value = UInt32(byte)
      var flag: UInt16 = 0
      if PythonText.isSpace(value) { flag |= AsciiFlag.space }
      if prefixes.contains(value) { flag |= AsciiFlag.prefix }
      if suffixes.contains(value) { flag |= AsciiFlag.suffix }
      if Array(".,-+*^:<>=/~").contains(Character(Unicode.Scalar(UInt8(byte)))) { flag |= AsciiFlag.infix }
      if (0x30...0x39).contains(byte) { flag |= AsciiFlag.digit }
      if (0x30...0x39).contains(byte) || alpha.contains(value) { flag |= AsciiFlag.alnum }
      if flag & AsciiFlag.alnum != 0 || byte == 0x5F { flag |= AsciiFlag.word }
      if flag & (AsciiFlag.prefix | AsciiFlag.suffix | AsciiFlag.infix | AsciiFlag.digit) != 0 {
        flag |= AsciiFlag.needsRules
      }
      flags[byte] = flag
    }
    asciiFlags = .allocate(capacity: 128)
    asciiFlags.initialize(from: flags, count: 128)
    // Every scalar that a prefix, suffix or infix rule tests for by class or by value (the
    // hyphens, `’` of `’s`, and `…`), from the ranges: no pass over the plane at start-up.
    let classes = WordTables.prefixes + WordTables.suffixes + WordTables.icons
    var ranges = stride(from: 0, to: classes.count - 1, by: 2).map { (first: classes[$0], last: classes[$0 + 1]) }
    ranges += [0x2013, 0x2014, 0x2019, 0x2026].map { (first: UInt32($0), last: UInt32($0)) }
    ruleScalars = ScalarBitmap.make(ranges: ranges)
  }

  /// Whether a prefix, suffix or infix rule can apply to the non-ASCII scalar `value`.
  /// Scalars beyond the Basic Multilingual Plane always count as possible.
  @inline(__always)
  func mayCut(_ value: UInt32) -> Bool {
    guard value < 0x10000 else { return true }
    return ScalarBitmap.test(ruleScalars, value)
  }
}

/// A small set of byte strings (units, currency signs), looked up by hash.
struct ByteStringSet: Sendable {
  private let bytes: [UInt8]
  /// (start, length) of each string in `bytes`.
  private let strings: [(start: Int, length: Int)]
  private let slots: [Int32]
  private let mask: Int

  init(_ list: [[UInt8]]) {
    var bytes: [UInt8] = []
    var strings: [(start: Int, length: Int)] = []
    for string in list where !string.isEmpty {
      strings.append((bytes.count, string.count))
      bytes.append(contentsOf: string)
    }
    var capacity = 16
    while capacity < strings.count * 4 { capacity *= 2 }
    var slots = [Int32](repeating: -1, count: capacity)
    bytes.withUnsafeBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      for (index, string) in strings.enumerated() {
        var slot = Int(truncatingIfNeeded: FastHash.hash(base + string.start, string.length)) & (capacity - 1)
        while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
        slots[slot] = Int32(index)
      }
    }
    self.bytes = bytes
    self.strings = strings
    self.slots = slots
    self.mask = capacity - 1
  }

  /// Whether the `count` bytes at `start` are one of the strings.
  func contains(_ start: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var slot = Int(truncatingIfNeeded: FastHash.hash(start, count)) & mask
    return bytes.withUnsafeBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      while true {
        let index = Int(slots[slot])
        if index < 0 { return false }
        let string = strings[index]
        if string.length == count, QualityText.bytesEqual(base + string.start, start, count) { return true }
        slot = (slot + 1) & mask
      }
    }
  }
}
