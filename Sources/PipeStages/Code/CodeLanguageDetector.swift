import PipeCore

/// Names the programming language of a source file from its path and its text.
///
/// The rules, first match wins:
/// 1. **file name**: `Makefile`, `Dockerfile`, `CMakeLists.txt`, `Gemfile`, `.bashrc`, ...
/// 2. **extension**: a table of about 250 extensions. An ambiguous one (`.h`: C, C++ or
///    Objective-C; `.m`: Objective-C or MATLAB; `.pl`: Perl or Prolog; `.inc`) is settled by
///    the `#!` line or the content scores of its candidates. An `.html` file whose text has no
///    HTML in it (source code extracted from a rendered page) falls through to the next rules.
/// 3. **shebang**: `#!/usr/bin/env python3`, `#!/bin/sh`, `#!/usr/bin/perl -w`, ...
/// 4. **modeline**: `-*- mode: ruby -*-` or `vim: set ft=lua:`.
/// 5. **content**: weighted patterns (`CodeContentScorer`), plus a strict JSON parse for
///    texts that start with `{` or `[`. The best-scoring language wins if its score reaches
///    `minContentScore`; the bar rises with the share of lines that read like prose and for
///    mostly non-ASCII texts, so natural-language text comes out unknown.
///
/// Only the first `maxBytes` of the text are scanned (Vim modelines are also looked for in the
/// last lines of the whole text).
public struct CodeLanguageDetector: Sendable {
  /// Which rule decided.
  public enum Source: String, Sendable, CaseIterable {
    /// A well-known file name.
    case filename
    /// The file extension.
    case fileExtension = "extension"
    /// The `#!` line.
    case shebang
    /// An Emacs or Vim modeline.
    case modeline
    /// The text itself.
    case content
  }

  /// A detected language and the rule that decided it.
  public struct Detection: Sendable, Equatable, CustomStringConvertible {
    /// The language.
    public var language: ProgrammingLanguage
    /// The rule that named it.
    public var source: Source
    /// The content score of `language` when the content decided, else 0.
    public var score: Double

    /// Creates a detection.
    public init(language: ProgrammingLanguage, source: Source, score: Double = 0) {
      self.language = language
      self.source = source
      self.score = score
    }

    /// `python (extension)`.
    public var description: String { "\(language.rawValue) (\(source.rawValue))" }
  }

  /// The content score another candidate of an ambiguous extension needs to beat the first.
  static let minAlternativeScore = 8.0

  /// The default `minContentScore`.
  public static let defaultMinContentScore = 7.0

  /// Bytes of text scanned.
  public var maxBytes: Int
  /// The lowest content score that names a language.
  public var minContentScore: Double
  /// Whether the content may name a language when the path, shebang and modelines say nothing.
  public var usesContent: Bool

  /// Creates a detector.
  public init(
    maxBytes: Int = 16 * 1024, minContentScore: Double = Self.defaultMinContentScore, usesContent: Bool = true
  ) {
    self.maxBytes = maxBytes
    self.minContentScore = minContentScore
    self.usesContent = usesContent
  }

  /// The language of a text, or `nil` when no rule names one.
  public func detect(path: String?, text: String) -> Detection? {
    var text = text
    return text.withUTF8 { detect(path: path, text: $0) }
  }

  /// The language of the UTF-8 `text` found at `path` (which may be `nil` or empty).
  public func detect(path: String?, text: UnsafeBufferPointer<UInt8>) -> Detection? {
    let head = UnsafeBufferPointer(rebasing: text[..<min(text.count, maxBytes)])
    var analysis = Analysis(head: head, full: text, detector: self)

    if let path, !path.isEmpty, let verdict = Self.classify(path: path) {
      switch verdict {
      case .filename(let language):
        return Detection(language: language, source: .filename)
      case .fileExtension(let candidates):
        if candidates.count == 1, let language = candidates.first {
          // A page of source extracted from HTML (rustdoc's `*.rs.html`): trust the text if it
          // names another language.
          if language == .html, !analysis.looksLikeMarkup(), let content = analysis.contentDetection(),
            content.language != .html
          {
            return content
          }
          return Detection(language: language, source: .fileExtension)
        }
        if let language = Self.shebangLanguage(firstLine: analysis.firstLine), candidates.contains(language) {
          return Detection(language: language, source: .shebang)
        }
        return Detection(language: analysis.best(among: candidates), source: .fileExtension)
      }
    }
    if let language = Self.shebangLanguage(firstLine: analysis.firstLine) {
      return Detection(language: language, source: .shebang)
    }
    if let language = Self.modelineLanguage(lines: analysis.firstLines, lastLines: analysis.lastLines) {
      return Detection(language: language, source: .modeline)
    }
    guard usesContent else { return nil }
    return analysis.contentDetection()
  }

  /// Content scores of every language, by canonical name, for tests and tuning.
  public func contentScores(_ text: String) -> [ProgrammingLanguage: Double] {
    var text = text
    return text.withUTF8 { bytes in
      let head = UnsafeBufferPointer(rebasing: bytes[..<min(bytes.count, maxBytes)])
      let scores = CodeContentScorer.shared.scores(head)
      var result: [ProgrammingLanguage: Double] = [:]
      for (index, score) in scores.enumerated() where score > 0 {
        result[CodeContentScorer.languages[index]] = score
      }
      return result
    }
  }
}

// MARK: - Analysis of one text

extension CodeLanguageDetector {
  /// What the rules need to know about one text, computed when first asked for.
  struct Analysis {
    let head: UnsafeBufferPointer<UInt8>
    let full: UnsafeBufferPointer<UInt8>
    let detector: CodeLanguageDetector
    private var cachedScores: [Double]?

    init(head: UnsafeBufferPointer<UInt8>, full: UnsafeBufferPointer<UInt8>, detector: CodeLanguageDetector) {
      self.head = head
      self.full = full
      self.detector = detector
    }

    /// The first line, without a byte-order mark.
    var firstLine: Substring { firstLines.first ?? "" }

    /// Up to the first five lines.
    var firstLines: [Substring] {
      var start = 0
      if head.count >= 3, head[0] == 0xEF, head[1] == 0xBB, head[2] == 0xBF { start = 3 }
      let prefix = UnsafeBufferPointer(rebasing: head[start..<min(head.count, start + 2048)])
      let text = String(decoding: prefix, as: UTF8.self)
      return Array(text.split(separator: "\n", maxSplits: 5, omittingEmptySubsequences: false).prefix(5))
    }

    /// Up to the last five lines of the whole text.
    var lastLines: [Substring] {
      guard full.count > 2048 else {
        // Short texts: the first lines already cover the end.
        let text = String(decoding: full, as: UTF8.self)
        return Array(text.split(separator: "\n", omittingEmptySubsequences: false).suffix(5))
      }
      let text = String(decoding: UnsafeBufferPointer(rebasing: full[(full.count - 1024)...]), as: UTF8.self)
      return Array(text.split(separator: "\n", omittingEmptySubsequences: false).suffix(5))
    }

    /// Content scores of every language.
    mutating func scores() -> [Double] {
      if let cachedScores { return cachedScores }
      var scores = CodeContentScorer.shared.scores(head)
      // A text that opens like a JSON document but did not parse (cut short, or a JSON
      // lines file) gets a head start.
      if opensLikeJSON, let json = CodeContentScorer.languageIndex[.json] { scores[json] += 30 }
      cachedScores = scores
      return scores
    }

    /// Whether the text has HTML or XML markup.
    mutating func looksLikeMarkup() -> Bool {
      let scores = scores()
      let html = scores[CodeContentScorer.languageIndex[.html] ?? 0]
      let xml = scores[CodeContentScorer.languageIndex[.xml] ?? 0]
      return html + xml >= 16
    }

    /// The first candidate, unless another one scores higher and at least `minAlternativeScore`
    /// (a Perl data table in a `.pl` file must not become Prolog on one stray `:- `).
    mutating func best(among candidates: [ProgrammingLanguage]) -> ProgrammingLanguage {
      let scores = scores()
      var best = candidates[0]
      var bestScore = scores[CodeContentScorer.languageIndex[best] ?? 0]
      for candidate in candidates.dropFirst() {
        let score = scores[CodeContentScorer.languageIndex[candidate] ?? 0]
        if score > bestScore, score >= CodeLanguageDetector.minAlternativeScore {
          best = candidate
          bestScore = score
        }
      }
      return best
    }

    /// The content's verdict, or `nil` when no language is convincing.
    mutating func contentDetection() -> Detection? {
      if isJSONDocument { return Detection(language: .json, source: .content, score: 100) }
      let scores = scores()
      guard let bestIndex = scores.indices.max(by: { scores[$0] < scores[$1] }) else { return nil }
      let best = scores[bestIndex]
      guard best > 0, best >= requiredScore() else { return nil }
      return Detection(language: CodeContentScorer.languages[bestIndex], source: .content, score: best)
    }

    /// The score a language needs here: `minContentScore`, raised for prose-like texts.
    ///
    /// The factors were fitted on about 2,400 labelled source files and 1,500 prose documents
    /// (man pages, READMEs, translated strings): each line that reads like prose raises the bar
    /// (a C man page quotes a prototype or two but is mostly sentences), and so does a text that
    /// is mostly non-ASCII (code is mostly ASCII even with comments in another script).
    func requiredScore() -> Double {
      let shape = TextShape(head)
      var required = detector.minContentScore * (1 + 60 * max(0, shape.proseLineRatio - 0.05))
      if shape.nonASCIIRatio > 0.3 { required *= 3 }
      return required
    }

    /// Whether the whole text is one JSON object or array (checked up to 1 MB).
    var isJSONDocument: Bool {
      guard full.count <= 1 << 20, let first = full.first(where: { !Self.isSpace($0) }),
        first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
      else { return false }
      guard let value = try? JSONValue.parse(Array(full)) else { return false }
      switch value {
      case .object(let object): return !object.isEmpty
      case .array(let array): return !array.isEmpty
      default: return false
      }
    }

    /// Whether the text starts with `{"`, `[{`, `[[` or `["` (spaces allowed between).
    var opensLikeJSON: Bool {
      var seen: [UInt8] = []
      for byte in head where !Self.isSpace(byte) {
        seen.append(byte)
        if seen.count == 2 { break }
      }
      guard seen.count == 2 else { return false }
      switch (seen[0], seen[1]) {
      case (UInt8(ascii: "{"), UInt8(ascii: "\"")), (UInt8(ascii: "["), UInt8(ascii: "{")),
        (UInt8(ascii: "["), UInt8(ascii: "[")), (UInt8(ascii: "["), UInt8(ascii: "\"")):
        return true
      default:
        return false
      }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
      byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
  }

  /// Character and line statistics that tell code from prose.
  struct TextShape {
    /// Non-ASCII scalars per non-space scalar.
    var nonASCIIRatio: Double
    /// Lines that read like prose per non-blank line (plus ten): five or more words, mostly lowercase
    /// letters, none of the symbols code is made of (`=<>{}[];_$@\\|&^~`), outside comments and
    /// docstrings (`/* */`, `"""`, Perl POD) and not starting with a comment marker. License
    /// headers and doc comments are prose inside code; they must not make a source file look
    /// like a document.
    var proseLineRatio: Double

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
      var nonSpace = 0
      var nonASCII = 0
      var lines = 0
      var proseLines = 0
      var line = LineState()
      var inBlockComment = false
      var inDocstring = false
      var inPOD = false
      var quoteRun = 0
      var previous: UInt8 = 0
      var commentAtLineStart = false

      func endLine() {
        guard line.nonSpace > 0 else { return }
        lines += 1
        if line.starts("=cut") {
          inPOD = false
        } else if line.startsPOD {
          inPOD = true
        }
        let inComment = commentAtLineStart || inBlockComment || inDocstring || inPOD || line.starts("=")
        if !inComment, line.isProse { proseLines += 1 }
      }

      for byte in bytes {
        if byte == 0x0A {
          endLine()
          line = LineState()
          commentAtLineStart = inBlockComment || inDocstring || inPOD
          previous = byte
          quoteRun = 0
          continue
        }
        line.add(byte)
        if byte == UInt8(ascii: "*"), previous == UInt8(ascii: "/"), !inDocstring {
          inBlockComment = true
        } else if byte == UInt8(ascii: "/"), previous == UInt8(ascii: "*") {
          inBlockComment = false
        }
        if byte == UInt8(ascii: "\""), !inBlockComment {
          quoteRun += 1
          if quoteRun == 3 {
            inDocstring.toggle()
            quoteRun = 0
          }
        } else {
          quoteRun = 0
        }
        previous = byte
        switch byte {
        case 0x20, 0x09, 0x0D, 0x80..<0xC0:
          continue  // space, or a continuation byte counted with its lead byte
        case 0xC0...:
          nonASCII += 1
          nonSpace += 1
        default:
          nonSpace += 1
        }
      }
      endLine()
      nonASCIIRatio = Double(nonASCII) / Double(max(nonSpace, 1))
      // Ten extra lines in the denominator: one prose-like line in a five-line snippet says
      // little, five in a five-line paragraph say a lot.
      proseLineRatio = Double(proseLines) / Double(lines + 10)
    }

    /// What one line is made of so far.
    private struct LineState {
      var nonSpace = 0
      var letters = 0
      var words = 0
      var uppercase = 0
      var codeSymbols = 0
      var inWord = false
      /// The first four non-space bytes.
      var head: [UInt8] = []
      var last: UInt8 = 0

      mutating func add(_ byte: UInt8) {
        let isSpace = byte == 0x20 || byte == 0x09 || byte == 0x0D
        if isSpace {
          inWord = false
          return
        }
        if head.count < 4 { head.append(byte) }
        nonSpace += 1
        last = byte
        // Letters, including every byte of a non-ASCII scalar.
        switch byte {
        case UInt8(ascii: "="), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "{"), UInt8(ascii: "}"),
          UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ";"), UInt8(ascii: "_"), UInt8(ascii: "$"),
          UInt8(ascii: "@"), UInt8(ascii: "\\"), UInt8(ascii: "|"), UInt8(ascii: "&"), UInt8(ascii: "^"),
          UInt8(ascii: "~"):
          codeSymbols += 1
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
          uppercase += 1
        default:
          break
        }
        let lower = byte | 0x20
        if (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || byte >= 0x80 {
          letters += 1
          if !inWord {
            words += 1
            inWord = true
          }
        } else if byte != UInt8(ascii: "'") && byte != UInt8(ascii: "-") {
          inWord = false
        }
      }

      func starts(_ prefix: String) -> Bool { head.starts(with: prefix.utf8) }

      /// `=head1`, `=pod`, `=item`: a POD command paragraph.
      var startsPOD: Bool {
        head.count >= 2 && head[0] == UInt8(ascii: "=") && (head[1] | 0x20) >= UInt8(ascii: "a")
          && (head[1] | 0x20) <= UInt8(ascii: "z")
      }

      var isProse: Bool {
        guard words >= 5, codeSymbols == 0, letters * 10 >= nonSpace * 8, uppercase * 2 < letters,
          let first = head.first
        else { return false }
        switch first {
        case UInt8(ascii: "/"), UInt8(ascii: "#"), UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: ";"),
          UInt8(ascii: "%"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "!"), UInt8(ascii: "<"):
          return false
        default:
          break
        }
        switch last {
        case UInt8(ascii: ";"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "("), UInt8(ascii: ")"):
          return false
        default:
          return true
        }
      }
    }
  }
}
