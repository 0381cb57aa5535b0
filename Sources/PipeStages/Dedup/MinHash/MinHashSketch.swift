import PipeCore

/// A MinHash signature of `size` values per document, and one 64-bit key per band of its first
/// `bands x rows` values.
///
/// Two algorithms fill the signature; for both, the chance that two documents agree on one
/// value equals the Jaccard similarity of their shingle sets, which is what LSH banding needs
/// (agreeing on all `rows` values of some band makes two documents candidates):
///
/// - `permutations`: datatrove's. Value `j` is the minimum over shingles `x` of
///   `(a_j * x + b_j) mod 2^64 mod (2^61 - 1)` (numpy's uint64 arithmetic wraps before the
///   modulo, so this is exactly datatrove's formula), with `a_j`, `b_j` drawn from `seed`.
///   It costs `bands x rows` multiply-adds per shingle.
/// - `fast` (fast similarity sketching, after Dahlgaard, Knudsen and Thorup, "Fast Similarity
///   Sketching", FOCS 2017): in round `r = 0, 1, ...` every shingle visits one bin (its bins
///   over the rounds are `start + r * step mod k` with `step` coprime to `k`, so it visits
///   every bin once in `k` rounds) with the value `r * 2^52 + hash_r(x) / 2^12`; a bin keeps
///   its minimum. Once every bin holds a value after round `r`, later rounds (larger values)
///   cannot change any bin, so the loop stops: about `max(1, k ln k / n)` rounds for `n`
///   distinct shingles, one hash per shingle and round instead of `k`. Each bin is still the
///   minimum of independent random values over the shingles that reach it first, and shingles
///   are interchangeable, so two documents agree on a bin with probability equal to their
///   Jaccard similarity, as with `k` permutations.
public struct MinHashSketcher: Sendable {
  /// The signature algorithm.
  public enum Algorithm: String, Sendable, CaseIterable {
    /// Fast similarity sketching: one hash per shingle and round.
    case fast
    /// datatrove's `k` universal-hash permutations.
    case permutations
  }

  /// Bands in the LSH index.
  public let bands: Int
  /// Values per band.
  public let rows: Int
  /// The algorithm.
  public let algorithm: Algorithm
  /// Values per signature: at least `bands x rows` (the values past the bands only sharpen the
  /// estimate of the similarity when candidates are verified).
  public let size: Int

  /// The seed of the hash functions.
  let seed: UInt64
  /// Permutation parameters (`permutations`).
  private let multipliers: [UInt64]
  private let offsets: [UInt64]
  /// Per-round hash seeds (`fast`).
  private let roundSeeds: [UInt64]
  /// The residues coprime to `size`: the possible steps between a shingle's bins (`fast`).
  private let steps: [UInt32]

  /// The largest supported `bands x rows`: rounds are kept in the top 12 bits of a value.
  public static let maxSize = 4096
  static let mersenne: UInt64 = (1 << 61) - 1

  /// Creates a sketcher of `size` values (`bands * rows` when nil); `bands * rows <= size <= maxSize`.
  public init(bands: Int, rows: Int, size: Int? = nil, seed: UInt64, algorithm: Algorithm) {
    let k = size ?? bands * rows
    precondition(bands >= 1 && rows >= 1 && bands * rows <= k && k <= Self.maxSize, "bands x rows out of range")
    self.bands = bands
    self.rows = rows
    self.size = k
    self.algorithm = algorithm
    self.seed = seed
    var rng = SeededRNG(seed: seed)
    var multipliers: [UInt64] = []
    var offsets: [UInt64] = []
    var roundSeeds: [UInt64] = []
    for _ in 0..<k {
      multipliers.append(1 + rng.next() % (Self.mersenne - 1))
      offsets.append(rng.next() % Self.mersenne)
      roundSeeds.append(rng.next())
    }
    self.multipliers = multipliers
    self.offsets = offsets
    self.roundSeeds = roundSeeds
    self.steps = (0..<UInt32(k)).filter { Self.gcd($0, UInt32(k)) == 1 }
  }

  private static func gcd(_ a: UInt32, _ b: UInt32) -> UInt32 {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
  }

  // MARK: - Signatures

  /// The signature of a set given as shingle hashes (repeats allowed); `nil` when empty.
  public func signature(of shingles: [UInt64]) -> [UInt64]? {
    var state = State(self)
    shingles.withUnsafeBufferPointer { state.add($0, isLast: true) }
    return state.finish(replay: { body in shingles.withUnsafeBufferPointer { body($0) } })
  }

  /// Band keys of a signature: one 64-bit hash per band of its `rows` values and the band index.
  public func bandKeys(of signature: [UInt64]) -> [UInt64] {
    var keys: [UInt64] = []
    keys.reserveCapacity(bands)
    for band in 0..<bands {
      var hash = MinHashMix.mix(seed ^ (UInt64(band) &* 0x9E37_79B9_7F4A_7C15) ^ 0x6261_6E64)
      for row in 0..<rows {
        hash = MinHashMix.mix(hash ^ signature[band * rows + row])
      }
      keys.append(hash)
    }
    return keys
  }

  /// The signature being built for one document. Shingles arrive in chunks; a document that
  /// fits in one chunk (nearly all) is sketched from that chunk. For `fast`, a longer document
  /// runs round 0 chunk by chunk; if a bin is still empty, the later rounds run on its distinct
  /// shingles (there are few), or in the (1e-13) case of many, replay the text once per round.
  struct State {
    let sketcher: MinHashSketcher
    var values: [UInt64]
    var filledBins = 0
    var chunks = 0
    /// The distinct shingles of a multi-chunk document while there are few (`fast`): if round
    /// 0 leaves a bin empty, the document has few distinct shingles, and the later rounds run
    /// on these instead of replaying the text once per round.
    var distinct: Set<UInt64>? = []

    /// Past this many distinct shingles, round 0 leaves a bin empty with chance below 1e-13.
    static let distinctLimit = 4096

    init(_ sketcher: MinHashSketcher) {
      self.sketcher = sketcher
      values = [UInt64](repeating: .max, count: sketcher.size)
    }

    /// Adds the next chunk of shingles; `isLast` when no chunk follows.
    mutating func add(_ shingles: UnsafeBufferPointer<UInt64>, isLast: Bool) {
      guard !shingles.isEmpty else { return }
      chunks += 1
      switch sketcher.algorithm {
      case .permutations:
        addPermuted(shingles)
      case .fast:
        roundZero(shingles)
        if chunks == 1 && isLast {
          if filledBins < sketcher.size { laterRounds(shingles) }
        } else if distinct != nil {
          for shingle in shingles { distinct?.insert(shingle) }
          if let count = distinct?.count, count > Self.distinctLimit { distinct = nil }
        }
      }
    }

    /// Finishes the signature (`nil` when no shingle came); `replay` streams the document's
    /// shingles again, for a `fast` sketch of a multi-chunk document with empty bins.
    mutating func finish(replay: ((UnsafeBufferPointer<UInt64>) -> Void) -> Void) -> [UInt64]? {
      guard chunks > 0 else { return nil }
      if sketcher.algorithm == .fast && filledBins < sketcher.size {
        if let distinct {
          // Sorted so the work does not depend on the set's iteration order (the result does not).
          Array(distinct).sorted().withUnsafeBufferPointer { laterRounds($0) }
        } else {
          replayRounds(replay)
        }
      }
      return values
    }

    private mutating func addPermuted(_ shingles: UnsafeBufferPointer<UInt64>) {
      let k = sketcher.size
      let prime = MinHashSketcher.mersenne
      sketcher.multipliers.withUnsafeBufferPointer { a in
        sketcher.offsets.withUnsafeBufferPointer { b in
          values.withUnsafeMutableBufferPointer { mins in
            for x in shingles {
              for j in 0..<k {
                // (a x + b) wraps at 2^64 as in numpy, then mod 2^61 - 1 by folding.
                let v = a[j] &* x &+ b[j]
                var r = (v & prime) &+ (v >> 61)
                if r >= prime { r &-= prime }
                mins[j] = min(mins[j], r)
              }
            }
          }
        }
      }
    }

    /// The value of a shingle in a round: the round in the top 12 bits, then 52 hash bits.
    /// Shingle hashes are already uniform, so round 0 uses the shingle's own bits.
    @inline(__always)
    private static func value(_ shingle: UInt64, round: Int, seed: UInt64) -> UInt64 {
      UInt64(round) << 52 | MinHashMix.mix(shingle ^ seed) >> 12
    }

    /// A shingle's bin in round 0 (from its high bits) and the step between its bins in later
    /// rounds (from its low bits).
    @inline(__always)
    private static func start(_ shingle: UInt64, size: Int, steps: UnsafeBufferPointer<UInt32>) -> (
      bin: UInt32, step: UInt32
    ) {
      let bin = UInt32(truncatingIfNeeded: ((shingle >> 32) &* UInt64(size)) >> 32)
      let step = steps[Int(((shingle & 0xFFFF_FFFF) &* UInt64(steps.count)) >> 32)]
      return (bin, step)
    }

    private mutating func roundZero(_ shingles: UnsafeBufferPointer<UInt64>) {
      let size = UInt64(sketcher.size)
      filledBins = values.withUnsafeMutableBufferPointer { mins in
        // Branch-free minimum: whether a shingle lowers its bin is a coin flip early in a
        // document, which a branch mispredicts half the time.
        for x in shingles {
          let bin = Int(truncatingIfNeeded: ((x >> 32) &* size) >> 32)
          mins[bin] = min(mins[bin], x >> 12)
        }
        // Values are below 2^52, so a bin is filled exactly when it no longer holds `.max`.
        var filled = 0
        for value in mins where value != .max { filled += 1 }
        return filled
      }
    }

    /// Rounds 1, 2, ... over one chunk until every bin holds a value.
    private mutating func laterRounds(_ shingles: UnsafeBufferPointer<UInt64>) {
      let size = sketcher.size
      let k = UInt32(size)
      let seeds = sketcher.roundSeeds
      let steps = sketcher.steps
      var filled = filledBins
      // Each shingle's current bin and its step, interleaved.
      withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 2 * shingles.count) { walk in
        steps.withUnsafeBufferPointer { steps in
          for (index, x) in shingles.enumerated() {
            let (bin, step) = Self.start(x, size: size, steps: steps)
            walk[2 * index] = bin
            walk[2 * index + 1] = step
          }
        }
        values.withUnsafeMutableBufferPointer { mins in
          var round = 1
          while filled < size && round < size {
            let seed = seeds[round]
            // Every value of this round is at least `floor` and every value of an earlier round
            // is below it, so a bin filled before this round keeps its value: only the bins
            // still empty need the shingle's value (most bins are filled after round zero).
            let floor = UInt64(round) << 52
            for index in 0..<shingles.count {
              var bin = walk[2 * index] &+ walk[2 * index + 1]
              if bin >= k { bin &-= k }
              walk[2 * index] = bin
              let old = mins[Int(bin)]
              if old < floor { continue }
              let v = Self.value(shingles[index], round: round, seed: seed)
              filled &+= old == .max ? 1 : 0
              mins[Int(bin)] = min(old, v)
            }
            round += 1
          }
        }
      }
      filledBins = filled
    }

    /// Rounds 1, 2, ... for a document streamed in several chunks: each round streams it again.
    private mutating func replayRounds(_ replay: ((UnsafeBufferPointer<UInt64>) -> Void) -> Void) {
      let size = sketcher.size
      let k = UInt64(size)
      var mins = values
      values = []
      var filled = filledBins
      var round = 1
      sketcher.steps.withUnsafeBufferPointer { steps in
        while filled < size && round < size {
          let seed = sketcher.roundSeeds[round]
          let shift = UInt64(round)
          // As in `laterRounds`: bins filled in an earlier round keep their values.
          let floor = shift << 52
          replay { shingles in
            for x in shingles {
              let (bin0, step) = Self.start(x, size: size, steps: steps)
              let bin = Int((UInt64(bin0) + shift * UInt64(step) % k) % k)
              let old = mins[bin]
              if old < floor { continue }
              let v = Self.value(x, round: round, seed: seed)
              if v < old {
                if old == .max { filled += 1 }
                mins[bin] = v
              }
            }
          }
          round += 1
        }
      }
      values = mins
      filledBins = filled
    }
  }
}
