import Testing

@testable import PipeStages

/// Reused scratch (the splitter's cache of run splits, the Gopher filter's pooled buffers and
/// its pruned top n-gram counts) must never change a result.
@Suite struct SplitReuseTests {
  static let texts = [
    "Dr. Smith's 10am meeting, e.g. today (U.S.A.)! See https://example.com/a-b, then f(x):) and os.path.join(a,b).",
    "int main(void) { return foo(bar, baz); } /* 3+4 */ x->y == z; a...b ...and end... 10km $100 100% C++",
    "state-of-the-art x.Y 'quoted' \"dq\" Mr.Smith can't won't I'd they're 1.2.3 [1] [edit] ¿Qué? «non» 日本語です",
  ]

  @Test func aReusedSplitterSplitsLikeAFreshOne() {
    var reused = EnglishWordSplitter()
    // Twice round, so the second pass reads every run from the cache.
    for _ in 0..<2 {
      for text in Self.texts {
        var text = text
        text.withUTF8 { bytes in
          var fresh = EnglishWordSplitter()
          let expected = Words.split(bytes, using: &fresh)
          #expect(Words.split(bytes, using: &reused) == expected)
        }
      }
    }
  }

  @Test func prunedTopNGramCountsMatchAFullCount() {
    // Word n-grams with repeats of every length, and ties.
    let words = "a b c a b d a b c e f a b c a x y x y x y c a b".split(separator: " ").map(String.init)
    var text = words.joined(separator: " ")
    text.withUTF8 { bytes in
      var spans: [WordSpan] = []
      var start = 0
      for word in words {
        spans.append(WordSpan(start: start, end: start + word.utf8.count))
        start += word.utf8.count + 1
      }
      let hashes = NGramHashes()
      spans.withUnsafeBufferPointer {
        hashes.measure(bytes, $0, hashing: true, stopWords: StopWords([]), minStopWords: 0)
      }
      let table = HashTable64(expected: 64)
      for n in 2...6 {
        table.removeAll(expected: words.count)
        let top = hashes.mostFrequent(n, using: table)
        // The most frequent n-gram, the first seen among equals, counted in full.
        var counts: [[String]: Int] = [:]
        var firsts: [[String]: Int] = [:]
        for index in 0...(words.count - n) {
          let gram = Array(words[index..<(index + n)])
          counts[gram, default: 0] += 1
          if firsts[gram] == nil { firsts[gram] = index }
        }
        let best = counts.max { a, b in
          a.value != b.value ? a.value < b.value : (firsts[a.key] ?? 0) > (firsts[b.key] ?? 0)
        }
        #expect(top.count == best?.value)
        #expect(top.first == best.flatMap { firsts[$0.key] })
      }
    }
  }
}
