/// Scores a text for every language from weighted literal patterns (`featureGroups`), in one
/// pass over its UTF-8 bytes.
///
/// A language's score is the sum over its patterns of `weight × min(occurrences, countCap)`:
/// the cap keeps one pattern repeated a hundred times (`NULL` in a C file, `SELECT` in a dump)
/// from outvoting many different ones.
struct CodeContentScorer: Sendable {
  /// The scorer built from `featureGroups`; building it takes a few milliseconds, once.
  static let shared = CodeContentScorer()

  /// Occurrences of one pattern counted at most.
  static let countCap: Int32 = 3

  /// Languages by index, as in `scores(_:)`.
  static let languages = ProgrammingLanguage.allCases

  /// The index of each language in `languages`.
  static let languageIndex: [ProgrammingLanguage: Int] = Dictionary(
    uniqueKeysWithValues: languages.enumerated().map { ($1, $0) })

  private let automaton: CodeFeatureAutomaton
  /// Votes of pattern `p`: `voteLanguages[voteStart[p]..<voteStart[p + 1]]` with `voteWeights`.
  private let voteStart: [Int]
  private let voteLanguages: [Int]
  private let voteWeights: [Double]

  init(groups: [FeatureGroup] = Self.featureGroups) {
    var patterns: [CodeFeatureAutomaton.Pattern] = []
    var starts = [0]
    var languages: [Int] = []
    var weights: [Double] = []
    for group in groups {
      let markupOnly = group.weights.allSatisfy { Self.markupLanguages.contains($0.0) }
      for spelling in group.patterns {
        for var pattern in Self.expand(spelling) {
          pattern.outsideBlockComments = markupOnly
          patterns.append(pattern)
          for (language, weight) in group.weights {
            languages.append(Self.languageIndex[language] ?? 0)
            weights.append(weight)
          }
          starts.append(languages.count)
        }
      }
    }
    automaton = CodeFeatureAutomaton(patterns)
    voteStart = starts
    voteLanguages = languages
    voteWeights = weights
  }

  /// Languages whose patterns do not count inside `/* … */` comments: Javadoc, PHPDoc and
  /// JSDoc are full of HTML and Markdown.
  static let markupLanguages: Set<ProgrammingLanguage> = [.html, .xml, .markdown]

  /// The patterns one table entry stands for: `(?i)` adds the lowercase spelling, `^` anchors.
  static func expand(_ spelling: String) -> [CodeFeatureAutomaton.Pattern] {
    var text = Substring(spelling)
    var lowercaseToo = false
    if text.hasPrefix("(?i)") {
      lowercaseToo = true
      text = text.dropFirst(4)
    }
    var lineStart = false
    if text.hasPrefix("^") {
      lineStart = true
      text = text.dropFirst()
    }
    var spellings = [String(text)]
    if lowercaseToo, text.lowercased() != String(text) { spellings.append(text.lowercased()) }
    return spellings.map { CodeFeatureAutomaton.Pattern(bytes: Array($0.utf8), lineStart: lineStart) }
  }

  /// The patterns found in `text` with their capped counts and votes, for tuning and tests.
  func explain(_ text: UnsafeBufferPointer<UInt8>) -> [(pattern: String, count: Int, votes: String)] {
    var spellings: [String] = []
    for group in Self.featureGroups {
      for spelling in group.patterns {
        for pattern in Self.expand(spelling) {
          spellings.append((pattern.lineStart ? "^" : "") + String(decoding: pattern.bytes, as: UTF8.self))
        }
      }
    }
    var result: [(pattern: String, count: Int, votes: String)] = []
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: automaton.patternCount) { counts in
      counts.initialize(repeating: 0)
      automaton.count(in: text, into: counts)
      for pattern in 0..<counts.count where counts[pattern] > 0 {
        let votes = (voteStart[pattern]..<voteStart[pattern + 1]).map {
          "\(Self.languages[voteLanguages[$0]].rawValue)+\(voteWeights[$0])"
        }
        result.append((spellings[pattern], Int(counts[pattern]), votes.joined(separator: " ")))
      }
    }
    return result
  }

  /// The score of every language (indexed like `languages`) for `text`.
  func scores(_ text: UnsafeBufferPointer<UInt8>) -> [Double] {
    var scores = [Double](repeating: 0, count: Self.languages.count)
    withUnsafeTemporaryAllocation(of: Int32.self, capacity: automaton.patternCount) { counts in
      counts.initialize(repeating: 0)
      automaton.count(in: text, into: counts)
      for pattern in 0..<counts.count where counts[pattern] > 0 {
        let times = Double(min(counts[pattern], Self.countCap))
        for vote in voteStart[pattern]..<voteStart[pattern + 1] {
          scores[voteLanguages[vote]] += voteWeights[vote] * times
        }
      }
    }
    return scores
  }
}
