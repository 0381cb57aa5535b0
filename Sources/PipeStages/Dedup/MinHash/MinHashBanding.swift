import Foundation

/// The LSH banding of a MinHash signature: `bands` bands of `rows` values each.
///
/// Two documents with Jaccard similarity `s` agree on one signature value with chance `s`, so
/// they share all values of some band, and become candidates, with chance
/// `P(s) = 1 - (1 - s^rows)^bands`. Bands and rows are derived from a threshold `t` and the
/// signature size as datasketch's `MinHashLSH` does: among all `(bands, rows)` with
/// `bands * rows <= size`, the one minimizing
///
///     falsePositiveWeight * ∫₀ᵗ P(s) ds  +  falseNegativeWeight * ∫ₜ¹ (1 - P(s)) ds
///
/// (the area of the S-curve above the threshold's left, and missing on its right). Ties go to
/// fewer bands, then fewer rows.
public struct MinHashBanding: Sendable, Hashable, CustomStringConvertible {
  /// Bands in the LSH index.
  public let bands: Int
  /// Signature values per band.
  public let rows: Int

  /// Creates a banding.
  public init(bands: Int, rows: Int) {
    self.bands = bands
    self.rows = rows
  }

  /// `bands x rows`.
  public var description: String { "\(bands) x \(rows)" }

  /// The chance that two documents of Jaccard similarity `similarity` become candidates.
  public func candidateProbability(_ similarity: Double) -> Double {
    1 - Self.power(1 - Self.power(similarity, rows), bands)
  }

  /// `x` to a positive integer power by squaring: the search below evaluates the S-curve a few
  /// hundred thousand times, and `pow` made it a tenth of a small run.
  static func power(_ x: Double, _ n: Int) -> Double {
    var (result, base, exponent) = (1.0, x, n)
    while exponent > 0 {
      if exponent & 1 == 1 { result *= base }
      base *= base
      exponent >>= 1
    }
    return result
  }

  /// The weights when candidates are verified against the threshold: a candidate below it
  /// costs one comparison and is not linked, a pair above it that never becomes a candidate is
  /// a duplicate kept. So missing pairs weighs 19 times more than extra candidates.
  public static let verifiedFalsePositiveWeight = 0.05
  /// datasketch's weights, for unverified candidates: every candidate is linked.
  public static let unverifiedFalsePositiveWeight = 0.5

  /// The banding of a signature of `size` values that minimizes the weighted error around
  /// `threshold` (see the type's documentation); `falseNegativeWeight` is `1 - falsePositiveWeight`.
  public static func optimal(threshold: Double, size: Int, falsePositiveWeight: Double) -> MinHashBanding {
    precondition(size >= 1 && threshold > 0 && threshold < 1, "size >= 1 and threshold in (0, 1)")
    var best = MinHashBanding(bands: 1, rows: 1)
    var bestError = Double.infinity
    for bands in 1...size {
      for rows in 1...(size / bands) {
        let banding = MinHashBanding(bands: bands, rows: rows)
        let falsePositives = integrate(from: 0, to: threshold) { banding.candidateProbability($0) }
        let falseNegatives = integrate(from: threshold, to: 1) { 1 - banding.candidateProbability($0) }
        let error = falsePositiveWeight * falsePositives + (1 - falsePositiveWeight) * falseNegatives
        // A relative margin, so rounding in the last bits cannot decide between two bandings.
        if error < bestError * (1 - 1e-12) {
          best = banding
          bestError = error
        }
      }
    }
    return best
  }

  /// Simpson's rule on 256 intervals: the curves are smooth, and the result only ranks bandings.
  static func integrate(from a: Double, to b: Double, _ f: (Double) -> Double) -> Double {
    let intervals = 256
    let h = (b - a) / Double(intervals)
    var sum = f(a) + f(b)
    for index in 1..<intervals {
      sum += (index % 2 == 1 ? 4 : 2) * f(a + Double(index) * h)
    }
    return sum * h / 3
  }
}
