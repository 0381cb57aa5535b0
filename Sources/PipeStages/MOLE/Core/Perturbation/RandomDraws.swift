import PipeCore

// Draws written out here instead of `Int.random(in:using:)` and `shuffle(using:)`: the standard
// library does not promise that those consume the generator the same way in every release,
// and counterfactuals must be byte-identical across toolchains for a given seed.
extension SeededRNG {
  /// A uniform integer in `0..<bound` (`bound` > 0), by multiply-high (Lemire), without the
  /// rejection step: the bias is below 2^-40 for any bound used here.
  @inline(__always)
  mutating func below(_ bound: Int) -> Int {
    Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
  }

  /// A uniform double in `0..<1` with 53 random bits.
  @inline(__always)
  mutating func unit() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// `true` with probability `probability`.
  @inline(__always)
  mutating func chance(_ probability: Double) -> Bool {
    unit() < probability
  }

  /// Shuffles `values` in place (Fisher–Yates, from the back).
  mutating func shuffle<T>(_ values: inout [T]) {
    var index = values.count - 1
    while index > 0 {
      let other = below(index + 1)
      values.swapAt(index, other)
      index -= 1
    }
  }

  /// `count` distinct indices of `0..<population`, in increasing order.
  mutating func sample(_ count: Int, of population: Int) -> [Int] {
    var indices = Array(0..<population)
    let take = min(count, population)
    for position in 0..<take {
      indices.swapAt(position, position + below(population - position))
    }
    return indices[0..<take].sorted()
  }
}
