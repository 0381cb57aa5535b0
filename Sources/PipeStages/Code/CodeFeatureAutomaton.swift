/// Finds many short ASCII patterns in one pass over UTF-8 bytes (Aho-Corasick), with the
/// anchoring rules the content features need.
///
/// A pattern that starts (ends) with an identifier character matches only where the text has
/// no identifier character just before (after) it, so `def ` does not match inside `undef `
/// and `std::` not inside `mystd::`. Likewise a pattern that starts (ends) with punctuation
/// does not match right after (before) the same character, so `!!` does not match inside
/// `!!!!!!` nor `===` inside a `=====` underline. A line-start pattern matches only after a
/// newline and optional indentation. Non-ASCII bytes count as identifier characters (they are letters
/// more often than not) and no pattern spans them.
struct CodeFeatureAutomaton: Sendable {
  /// One pattern to find.
  struct Pattern: Sendable {
    /// The ASCII bytes.
    var bytes: [UInt8]
    /// Whether it must start a line (after indentation).
    var lineStart: Bool
    /// Whether occurrences inside `/* … */` comments are ignored (HTML tags in Javadoc).
    var outsideBlockComments = false
  }

  /// `transitions[state * 128 + byte]`: the full goto function, failure links folded in.
  private let transitions: [Int32]
  /// Patterns recognized in each state (its own and those of its failure chain):
  /// `outputs[outputStart[state]..<outputStart[state + 1]]`.
  private let outputStart: [Int32]
  private let outputs: [Int32]
  /// Per pattern: length, and whether it must start a line / check its left / right edge.
  private let lengths: [Int32]
  private let lineStart: [Bool]
  private let outsideBlockComments: [Bool]
  private let checksLeft: [Bool]
  private let checksRight: [Bool]
  /// Per pattern: its first and last byte when they are punctuation (else 0), which must not
  /// repeat just outside the match.
  private let leftPunctuation: [UInt8]
  private let rightPunctuation: [UInt8]

  /// The number of patterns.
  var patternCount: Int { lengths.count }

  /// Builds the automaton. Patterns must be non-empty ASCII.
  init(_ patterns: [Pattern]) {
    precondition(patterns.allSatisfy { !$0.bytes.isEmpty && $0.bytes.allSatisfy { $0 < 0x80 } })
    // The trie, with -1 for a missing edge.
    var trie: [Int32] = Array(repeating: -1, count: 128)
    var terminal: [[Int32]] = [[]]
    for (index, pattern) in patterns.enumerated() {
      var state = 0
      for byte in pattern.bytes {
        let slot = state * 128 + Int(byte)
        if trie[slot] < 0 {
          trie[slot] = Int32(terminal.count)
          terminal.append([])
          trie.append(contentsOf: repeatElement(-1, count: 128))
        }
        state = Int(trie[slot])
      }
      terminal[state].append(Int32(index))
    }
    // Breadth-first: failure links, the full goto function and merged outputs.
    let stateCount = terminal.count
    var fail = [Int32](repeating: 0, count: stateCount)
    var merged = terminal
    var queue: [Int32] = []
    queue.reserveCapacity(stateCount)
    for byte in 0..<128 {
      if trie[byte] < 0 {
        trie[byte] = 0
      } else {
        queue.append(trie[byte])
      }
    }
    var head = 0
    while head < queue.count {
      let state = Int(queue[head])
      head += 1
      merged[state] += merged[Int(fail[state])]
      for byte in 0..<128 {
        let slot = state * 128 + byte
        let target = trie[slot]
        let fallback = trie[Int(fail[state]) * 128 + byte]
        if target < 0 {
          trie[slot] = fallback
        } else {
          fail[Int(target)] = fallback
          queue.append(target)
        }
      }
    }
    transitions = trie
    var starts: [Int32] = [0]
    var flat: [Int32] = []
    for list in merged {
      flat += list
      starts.append(Int32(flat.count))
    }
    outputStart = starts
    outputs = flat
    lengths = patterns.map { Int32($0.bytes.count) }
    lineStart = patterns.map(\.lineStart)
    outsideBlockComments = patterns.map(\.outsideBlockComments)
    checksLeft = patterns.map { Self.isIdentifier($0.bytes[0]) }
    checksRight = patterns.map { Self.isIdentifier($0.bytes[$0.bytes.count - 1]) }
    leftPunctuation = patterns.map { Self.isPunctuation($0.bytes[0]) ? $0.bytes[0] : 0 }
    rightPunctuation = patterns.map {
      Self.isPunctuation($0.bytes[$0.bytes.count - 1]) ? $0.bytes[$0.bytes.count - 1] : 0
    }
  }

  /// Whether `byte` is ASCII punctuation (not a letter, digit, `_`, space or control).
  static func isPunctuation(_ byte: UInt8) -> Bool {
    byte > 0x20 && byte < 0x7F && !isIdentifier(byte)
  }

  /// Whether `byte` can be part of an identifier (non-ASCII bytes count).
  @inline(__always)
  static func isIdentifier(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), 0x80...0xFF:
      return true
    default:
      return false
    }
  }

  /// Adds 1 to `counts[pattern]` for every anchored occurrence of each pattern in `text`.
  func count(in text: UnsafeBufferPointer<UInt8>, into counts: UnsafeMutableBufferPointer<Int32>) {
    transitions.withUnsafeBufferPointer { transitions in
      outputStart.withUnsafeBufferPointer { outputStart in
        outputs.withUnsafeBufferPointer { outputs in
          var state = 0
          let count = text.count
          var inBlockComment = false
          var previous: UInt8 = 0
          for index in 0..<count {
            let byte = text[index]
            if byte >= 0x80 {
              state = 0
              previous = byte
              continue
            }
            if byte == UInt8(ascii: "*"), previous == UInt8(ascii: "/") {
              inBlockComment = true
            } else if byte == UInt8(ascii: "/"), previous == UInt8(ascii: "*") {
              inBlockComment = false
            }
            previous = byte
            state = Int(transitions[state &* 128 &+ Int(byte)])
            let first = Int(outputStart[state])
            let last = Int(outputStart[state &+ 1])
            guard first < last else { continue }
            for slot in first..<last {
              let pattern = Int(outputs[slot])
              if inBlockComment, outsideBlockComments[pattern] { continue }
              if accepts(pattern, endingAt: index, in: text) { counts[pattern] &+= 1 }
            }
          }
        }
      }
    }
  }

  /// Whether the occurrence of `pattern` whose last byte is at `end` satisfies its anchors.
  @inline(__always)
  private func accepts(_ pattern: Int, endingAt end: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
    let start = end + 1 - Int(lengths[pattern])
    if checksRight[pattern], end + 1 < text.count, Self.isIdentifier(text[end + 1]) { return false }
    if checksLeft[pattern], start > 0, Self.isIdentifier(text[start - 1]) { return false }
    let right = rightPunctuation[pattern]
    if right != 0, end + 1 < text.count, text[end + 1] == right { return false }
    let left = leftPunctuation[pattern]
    if left != 0, start > 0, text[start - 1] == left { return false }
    if lineStart[pattern] {
      var index = start - 1
      while index >= 0 {
        let byte = text[index]
        if byte == UInt8(ascii: "\n") { break }
        guard byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") else { return false }
        index -= 1
      }
    }
    return true
  }
}
