import PipeCore

/// The rules for code facets. Each returns the degraded bytes or `nil` when it does not apply.
enum CodeRules {
  /// Share of distinct identifiers renamed by `obscureIdentifiers` (at least one).
  static let renameRate = 0.6
  /// Share of error-raising lines removed by `insertCorrectnessMarkers`.
  static let removeErrorHandlingRate = 0.7

  // MARK: - Documentation

  /// The code without comments and docstrings; lines left blank by the removal go too.
  static func stripComments(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    let comments = CodeScanner(bytes).regions.filter(\.isComment).map(\.range)
    guard !comments.isEmpty else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var next = 0  // the first comment that may overlap the current line
    CodeScanner.forEachLine(bytes) { line in
      var kept: [UInt8] = []
      var cursor = line.lowerBound
      var touched = false
      while next < comments.count && comments[next].upperBound <= line.lowerBound { next += 1 }
      var probe = next
      while probe < comments.count && comments[probe].lowerBound < line.upperBound {
        // Every comment reaching here overlaps the line (or, for an empty line, encloses it).
        let cut = comments[probe].clamped(to: line)
        touched = true
        if cut.lowerBound > cursor { kept.append(bytes, cursor..<cut.lowerBound) }
        cursor = max(cursor, cut.upperBound)
        probe += 1
      }
      if cursor < line.upperBound { kept.append(bytes, cursor..<line.upperBound) }
      let hasBreak = line.upperBound < bytes.count
      if touched {
        while let last = kept.last, last == 0x20 || last == 0x09 || last == 0x0D { kept.removeLast() }
        if kept.isEmpty { return }
      }
      out.append(contentsOf: kept)
      if hasBreak { out.append(0x0A) }
    }
    return out
  }

  // MARK: - Readability

  /// Identifiers renamed to `v1`, `v2`… (outside strings, comments and import lines) and
  /// indentation removed when the code is indented.
  static func obscureIdentifiers(_ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG) -> [UInt8]? {
    let scanner = CodeScanner(bytes)
    var occurrences: [(range: Range<Int>, hash: UInt64)] = []
    var allNames = Set<UInt64>()
    var region = 0
    var indentation: [Range<Int>] = []
    var lines = 0
    CodeScanner.forEachLine(bytes) { line in
      var start = line.lowerBound
      while start < line.upperBound && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
      guard start < line.upperBound else { return }
      lines += 1
      if start > line.lowerBound { indentation.append(line.lowerBound..<start) }
      let content = UnsafeBufferPointer(rebasing: bytes[start..<line.upperBound])
      let isImport = ["import ", "from ", "use ", "package ", "#", "require", "extern crate"].contains {
        content.starts(with: $0.utf8)
      }
      var index = start
      while index < line.upperBound {
        while region < scanner.regions.count && scanner.regions[region].range.upperBound <= index { region += 1 }
        if region < scanner.regions.count && scanner.regions[region].range.contains(index) {
          index = scanner.regions[region].range.upperBound
          continue
        }
        guard isIdentifierByte(bytes[index]) else {
          index += 1
          continue
        }
        var end = index + 1
        while end < line.upperBound && isIdentifierByte(bytes[end]) { end += 1 }
        let hash = MoleWords.hash(bytes, start: index, end: end)
        allNames.insert(hash)
        let startsWithDigit = (0x30...0x39).contains(bytes[index])
        if !isImport && !startsWithDigit && end - index >= 3
          && WordLists.flags.flags(of: hash) & WordFlagTable.codeKeyword == 0
        {
          occurrences.append((index..<end, hash))
        }
        index = end
      }
    }
    var edits: [(range: Range<Int>, with: [UInt8])] = []
    var distinct: [UInt64] = []
    var seen = Set<UInt64>()
    for occurrence in occurrences where seen.insert(occurrence.hash).inserted { distinct.append(occurrence.hash) }
    if !distinct.isEmpty {
      var renamed: [UInt64: [UInt8]] = [:]
      var counter = 0
      let forced = generator.below(distinct.count)
      for (position, hash) in distinct.enumerated() where generator.chance(renameRate) || position == forced {
        var name: [UInt8]
        repeat {
          counter += 1
          name = Array("v\(counter)".utf8)
        } while name.withUnsafeBufferPointer { allNames.contains(MoleWords.hash($0, start: 0, end: $0.count)) }
        renamed[hash] = name
      }
      for occurrence in occurrences {
        if let name = renamed[occurrence.hash] { edits.append((occurrence.range, name)) }
      }
    }
    // Flatten only code that is indented, so the change is a visible loss of structure.
    if indentation.count * 5 >= lines {
      edits += indentation.map { ($0, []) }
    }
    guard !edits.isEmpty else { return nil }
    return Edits.apply(bytes, edits)
  }

  @inline(__always)
  private static func isIdentifierByte(_ byte: UInt8) -> Bool {
    (byte &- 0x61) < 26 || (byte &- 0x41) < 26 || (byte &- 0x30) < 10 || byte == 0x5F
  }

  // MARK: - Correctness markers

  /// TODO/FIXME notes and commented-out copies of code lines inserted, and most lines that
  /// assert or raise removed.
  static func insertCorrectnessMarkers(
    _ bytes: UnsafeBufferPointer<UInt8>, using generator: inout SeededRNG
  ) -> [UInt8]? {
    let scanner = CodeScanner(bytes)
    let family = scanner.family
    // Lines that start inside a comment or a string are left alone: a note there would be
    // part of the string, not a marker.
    var codeLines: [(line: Range<Int>, indent: Range<Int>, content: Range<Int>)] = []
    var region = 0
    CodeScanner.forEachLine(bytes) { line in
      var start = line.lowerBound
      while start < line.upperBound && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
      guard start < line.upperBound else { return }
      let regions = scanner.regions
      while region < regions.count && regions[region].range.upperBound <= line.lowerBound { region += 1 }
      if region < regions.count && regions[region].range.lowerBound < line.lowerBound { return }
      codeLines.append((line, line.lowerBound..<start, start..<line.upperBound))
    }
    guard !codeLines.isEmpty else { return nil }
    var edits: [(range: Range<Int>, with: [UInt8])] = []
    func note(_ text: [UInt8], before target: Int) {
      var inserted: [UInt8] = []
      inserted.append(bytes, codeLines[target].indent)
      inserted.append(family.commentPrefix)
      inserted.append(contentsOf: text)
      inserted.append(0x0A)
      let at = codeLines[target].line.lowerBound
      edits.append((at..<at, inserted))
    }
    for _ in 0..<min(4, 1 + codeLines.count / 20) {
      note(
        Array(Phrases.correctnessMarkers[generator.below(Phrases.correctnessMarkers.count)].utf8),
        before: generator.below(codeLines.count))
    }
    if codeLines.count >= 2 {
      for _ in 0..<min(3, 1 + codeLines.count / 30) {
        let copied = codeLines[generator.below(codeLines.count)].content
        note(Array(UnsafeBufferPointer(rebasing: bytes[copied])), before: generator.below(codeLines.count))
      }
    }
    for entry in codeLines {
      let content = UnsafeBufferPointer(rebasing: bytes[entry.content])
      guard Phrases.errorHandlingOpeners.contains(where: { content.starts(with: $0.utf8) }) else { continue }
      guard generator.chance(removeErrorHandlingRate) else { continue }
      let end = entry.line.upperBound < bytes.count ? entry.line.upperBound + 1 : entry.line.upperBound
      edits.append((entry.line.lowerBound..<end, []))
    }
    return Edits.apply(bytes, edits)
  }
}
