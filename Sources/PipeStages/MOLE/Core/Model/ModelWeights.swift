/// The parameters of a linear multi-head evaluator and the arithmetic that reads them.
///
/// Each head's raw score is `bias + Σ sparse·w + Σ dense·w + Σ bin·w`: the hashed sparse
/// vector, the standardised dense features (scaled by `denseInputScale`), and a one-hot bin
/// of each standardised dense feature (a piecewise-constant term, so a dense feature can act
/// non-linearly at the cost of one weight per bin). During training a last column is the
/// shared body that every head adds; `folded()` adds it into the heads for scoring.
struct ModelWeights: Sendable, Equatable {
  /// Bins per dense feature: half standard deviations from −3 to +3.
  static let binCount = 12
  /// The weight of the standardised dense features relative to the unit-norm sparse vector.
  static let denseInputScale: Float = 0.2
  /// The value of an active bin.
  static let binValue: Float = 0.2
  /// Standardised dense features are clipped to ±this.
  static let denseClip: Float = 4
  /// The number of dense features.
  static let denseCount = DenseFeature.allCases.count

  /// The number of heads: one per facet, then the overall head.
  let heads: Int
  /// Weights per feature: `heads`, or `heads + 1` while training (the last is the shared body).
  let columns: Int
  /// The number of hashed slots.
  let dimension: Int
  /// `dimension × columns`, feature-major so one feature's weights share a cache line.
  var sparse: [Float]
  /// `denseCount × columns`.
  var denseLinear: [Float]
  /// `denseCount × binCount × columns`.
  var denseBins: [Float]
  /// One per head.
  var bias: [Float]
  /// Mean of each raw dense feature over the training texts.
  var denseMean: [Float]
  /// Standard deviation of each raw dense feature (at least 1e-3).
  var denseDeviation: [Float]

  /// Zero weights.
  init(heads: Int, columns: Int, dimension: Int) {
    self.heads = heads
    self.columns = columns
    self.dimension = dimension
    sparse = [Float](repeating: 0, count: dimension * columns)
    denseLinear = [Float](repeating: 0, count: Self.denseCount * columns)
    denseBins = [Float](repeating: 0, count: Self.denseCount * Self.binCount * columns)
    bias = [Float](repeating: 0, count: heads)
    denseMean = [Float](repeating: 0, count: Self.denseCount)
    denseDeviation = [Float](repeating: 1, count: Self.denseCount)
  }

  /// Weights with the shared body added into every head, for scoring.
  func folded() -> ModelWeights {
    guard columns == heads + 1 else { return self }
    var result = ModelWeights(heads: heads, columns: heads, dimension: dimension)
    func fold(_ source: [Float], into target: inout [Float], rows: Int) {
      for row in 0..<rows {
        let shared = source[row * columns + heads]
        for head in 0..<heads { target[row * heads + head] = source[row * columns + head] + shared }
      }
    }
    fold(sparse, into: &result.sparse, rows: dimension)
    fold(denseLinear, into: &result.denseLinear, rows: Self.denseCount)
    fold(denseBins, into: &result.denseBins, rows: Self.denseCount * Self.binCount)
    result.bias = bias
    result.denseMean = denseMean
    result.denseDeviation = denseDeviation
    return result
  }

  /// The model inputs derived from the raw dense features: scaled values and active bins.
  struct DenseInput {
    var values: [Float] = [Float](repeating: 0, count: ModelWeights.denseCount)
    var bins: [Int] = [Int](repeating: 0, count: ModelWeights.denseCount)
  }

  /// Standardises `raw` into `input`.
  @inline(__always)
  func prepare(dense raw: [Float], into input: inout DenseInput) {
    for feature in 0..<Self.denseCount {
      var z = (raw[feature] - denseMean[feature]) / denseDeviation[feature]
      z = min(max(z, -Self.denseClip), Self.denseClip)
      input.values[feature] = z * Self.denseInputScale
      input.bins[feature] = min(max(Int(((z + 3) * 2).rounded(.down)), 0), Self.binCount - 1)
    }
  }

  /// The sparse weights of folded heads, padded to 8 columns per slot so one slot's weights
  /// are one aligned 32-byte block; `nil` with more than 8 heads (the general path is used).
  func paddedSparse() -> [Float]? {
    guard heads <= 8, columns == heads else { return nil }
    var table = [Float](repeating: 0, count: dimension * 8)
    sparse.withUnsafeBufferPointer { source in
      table.withUnsafeMutableBufferPointer { target in
        for slot in 0..<dimension {
          for head in 0..<heads { target[slot * 8 + head] = source[slot * heads + head] }
        }
      }
    }
    return table
  }

  /// Writes every head's raw score into `scores`. Only for folded weights; `padded` is
  /// `paddedSparse()`, passed in so it is built once per evaluator rather than per call.
  @inline(__always)
  func scores(
    values: UnsafePointer<Float>, touched: UnsafePointer<Int32>, touchedCount: Int, dense: DenseInput,
    padded: [Float]?, into scores: UnsafeMutablePointer<Float>
  ) {
    let heads = self.heads
    if let padded {
      // Eight running sums in registers (the compiler turns them into one vector): writing
      // through `scores` at each step would serialise the loop on memory.
      var (a0, a1, a2, a3, a4, a5, a6, a7): (Float, Float, Float, Float, Float, Float, Float, Float) =
        (0, 0, 0, 0, 0, 0, 0, 0)
      padded.withUnsafeBufferPointer { table in
        guard let base = table.baseAddress else { return }
        for position in 0..<touchedCount {
          let slot = Int(touched[position])
          let value = values[slot]
          let row = base + slot &* 8
          a0 += value * row[0]
          a1 += value * row[1]
          a2 += value * row[2]
          a3 += value * row[3]
          a4 += value * row[4]
          a5 += value * row[5]
          a6 += value * row[6]
          a7 += value * row[7]
        }
      }
      let totals = (a0, a1, a2, a3, a4, a5, a6, a7)
      withUnsafeBytes(of: totals) { raw in
        for head in 0..<heads { scores[head] = bias[head] + raw.load(fromByteOffset: head * 4, as: Float.self) }
      }
    } else {
      for head in 0..<heads { scores[head] = bias[head] }
      sparse.withUnsafeBufferPointer { buffer in
        guard let weights = buffer.baseAddress else { return }
        for position in 0..<touchedCount {
          let slot = Int(touched[position])
          let value = values[slot]
          let row = weights + slot * heads
          for head in 0..<heads { scores[head] += value * row[head] }
        }
      }
    }
    for feature in 0..<Self.denseCount {
      let value = dense.values[feature]
      let linear = feature * heads
      let bin = (feature * Self.binCount + dense.bins[feature]) * heads
      for head in 0..<heads {
        scores[head] += value * denseLinear[linear + head] + Self.binValue * denseBins[bin + head]
      }
    }
  }
}
