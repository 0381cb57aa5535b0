import PipeCore

extension Evaluator {
  /// Trains an evaluator on counterfactual pairs and (optionally) labelled texts.
  ///
  /// Groups (documents) are split into training and held-out sides by a hash of the group and
  /// the seed; the model is trained on the training side only, and `report` measures it on
  /// the held-out side. Training is single-threaded SGD in a fixed order drawn from `seed`,
  /// so the same inputs, configuration and seed give byte-identical `encoded()` artifacts.
  ///
  /// - Parameters:
  ///   - scenario: the facets; every pair's `facet` must name one of them.
  ///   - pairs: (original, counterfactual) pairs, for example from `Perturbation`.
  ///   - labels: texts with known overall scores; may be empty.
  ///   - config: features, loss weights and schedule.
  ///   - seed: the split and the example order.
  /// - Throws: `PipeError(.config)` for an invalid configuration, an unknown facet, or
  ///   nothing to train on.
  public static func train(
    scenario: Scenario, pairs: [CounterfactualPair], labels: [LabelledText], config: EvaluatorConfig, seed: UInt64
  ) throws -> Evaluator {
    try validate(config)
    var trainer = try Trainer(scenario: scenario, pairs: pairs, labels: labels, config: config, seed: seed)
    return trainer.run()
  }

  private static func validate(_ config: EvaluatorConfig) throws {
    func check(_ condition: Bool, _ message: String) throws {
      if !condition { throw PipeError(.config, "evaluator: \(message)") }
    }
    try check((10...24).contains(config.features.hashBits), "hashBits must be in 10...24")
    try check(config.features.characterOrders.allSatisfy { (2...5).contains($0) }, "character orders must be in 2...5")
    try check(config.epochs >= 1, "epochs must be at least 1")
    try check(config.learningRate > 0 && config.learningRate.isFinite, "learningRate must be positive")
    try check(config.margin >= 0, "margin must not be negative")
    try check(config.contrastiveWeight >= 0 && config.supervisedWeight >= 0, "loss weights must not be negative")
    try check(config.contrastiveWeight > 0 || config.supervisedWeight > 0, "one loss weight must be positive")
    try check((0..<1).contains(config.heldOutFraction), "heldOutFraction must be in 0..<1")
  }
}

/// One training run: the split, the SGD loop and the held-out report.
private struct Trainer {
  /// A document with its counterfactuals.
  struct Document {
    var group: String
    var original: String
    var counterfactuals: [(facet: Int, text: String)]
    var isHeldOut: Bool
  }

  /// A cached sparse vector with its model inputs.
  struct Example {
    var slots: [Int32] = []
    var values: [Float] = []
    var dense = ModelWeights.DenseInput()
    /// The raw dense features (kept only in the feature cache, before standardisation).
    var rawDense: [Float] = []
  }

  let scenario: Scenario
  let config: EvaluatorConfig
  let seed: UInt64
  let facetCount: Int
  let overallHead: Int
  let sharedColumn: Int
  var documents: [Document] = []
  var trainingLabels: [LabelledText] = []
  var heldOutLabels: [LabelledText] = []
  var weights: ModelWeights
  var extractor: FeatureExtractor

  init(scenario: Scenario, pairs: [CounterfactualPair], labels: [LabelledText], config: EvaluatorConfig, seed: UInt64)
    throws
  {
    self.scenario = scenario
    self.config = config
    self.seed = seed
    facetCount = scenario.facets.count
    overallHead = facetCount
    sharedColumn = facetCount + 1
    weights = ModelWeights(heads: facetCount + 1, columns: facetCount + 2, dimension: 1 << config.features.hashBits)
    extractor = FeatureExtractor(config: config.features)

    var facetIndex: [String: Int] = [:]
    for (index, facet) in scenario.facets.enumerated() { facetIndex[facet.name] = index }
    // Documents in first-seen order; the dictionary is only for lookup, never iterated.
    var documentIndex: [String: Int] = [:]
    for pair in pairs {
      guard let facet = facetIndex[pair.facet] else {
        throw PipeError(
          .config, "evaluator: pair facet \(pair.facet) is not a facet of scenario \(scenario.name)")
      }
      let key = pair.group + "\u{0}" + hexString(XXH64.hash(pair.original))
      if let index = documentIndex[key] {
        documents[index].counterfactuals.append((facet, pair.counterfactual))
      } else {
        documentIndex[key] = documents.count
        documents.append(
          Document(
            group: pair.group, original: pair.original, counterfactuals: [(facet, pair.counterfactual)],
            isHeldOut: isHeldOut(pair.group)))
      }
    }
    for label in labels {
      if isHeldOut(label.group) { heldOutLabels.append(label) } else { trainingLabels.append(label) }
    }
    let hasPairs = documents.contains { !$0.isHeldOut }
    if config.contrastiveWeight > 0 && !hasPairs && trainingLabels.isEmpty {
      throw PipeError(.config, "evaluator: no training pairs or labels after the held-out split; give more data")
    }
    if config.contrastiveWeight == 0 && trainingLabels.isEmpty {
      throw PipeError(.config, "evaluator: contrastiveWeight is 0, so training needs labels; none are left")
    }
  }

  /// Whether `group` is on the held-out side.
  func isHeldOut(_ group: String) -> Bool {
    TrainingSplit.isHeldOut(group: group, fraction: config.heldOutFraction, seed: seed)
  }

  // MARK: - Training

  mutating func run() -> Evaluator {
    var order = documents.indices.filter { !documents[$0].isHeldOut }
    let trainingPairs = order.reduce(0) { $0 + documents[$1].counterfactuals.count }
    let usesPairs = config.contrastiveWeight > 0 && trainingPairs > 0
    // Extract every training text once when that fits in memory; the dense statistics are
    // then computed from the cache instead of a separate pass.
    var cache = usesPairs ? cachedExamples(order) : []
    if cache.isEmpty {
      fitDenseStatistics(includingPairs: usesPairs)
    } else {
      fitDenseStatistics(cache.flatMap { $0.map(\.rawDense) })
      for documentIndex in order {
        for position in cache[documentIndex].indices {
          weights.prepare(dense: cache[documentIndex][position].rawDense, into: &cache[documentIndex][position].dense)
        }
      }
    }
    var labelExamples = trainingLabels.map { example(for: $0.text) }
    if !trainingLabels.isEmpty && config.supervisedWeight > 0 {
      weights.bias[overallHead] = Float(trainingLabels.map(\.score).reduce(0, +) / Double(trainingLabels.count))
    }
    var generator = SeededRNG(seed: seed ^ 0x4D4F_4C45_5452_4149)
    let usesLabels = config.supervisedWeight > 0 && !labelExamples.isEmpty
    // Without labels the overall head has nothing else to learn from.
    let overallFromPairs = config.overallFromPairs || !usesLabels
    // As many label steps as pair steps per epoch, so λ_sup and λ_con weigh the two mean
    // losses whatever the number of labels; at least ten passes over the labels, so training
    // on labels alone (or on few pairs) still converges.
    let labelStepsPerEpoch = usesLabels ? max(10 * labelExamples.count, trainingPairs) : 0
    var labelOrder = Array(labelExamples.indices)
    var labelCursor = labelOrder.count
    var pairLosses: [Double] = []
    var labelLosses: [Double] = []
    var original = Example()
    var counterfactual = Example()

    for epoch in 0..<config.epochs {
      let rate = Float(config.learningRate / (1 + Double(epoch)).squareRoot())
      var pairLoss = 0.0
      var pairSteps = 0
      var labelLoss = 0.0
      var labelSteps = 0
      var labelCredit = 0.0
      func labelStep(_ generator: inout SeededRNG) {
        if labelCursor == labelOrder.count {
          generator.shuffle(&labelOrder)
          labelCursor = 0
        }
        let index = labelOrder[labelCursor]
        labelCursor += 1
        labelLoss += regressionStep(
          labelExamples[index], target: Float(trainingLabels[index].score),
          rate: rate * Float(config.supervisedWeight))
        labelSteps += 1
      }
      generator.shuffle(&order)
      if usesPairs {
        for documentIndex in order {
          if cache.isEmpty {
            fill(&original, from: documents[documentIndex].original)
          } else {
            original = cache[documentIndex][0]
          }
          var cfOrder = Array(documents[documentIndex].counterfactuals.indices)
          generator.shuffle(&cfOrder)
          for cfIndex in cfOrder {
            let (facet, text) = documents[documentIndex].counterfactuals[cfIndex]
            if cache.isEmpty {
              fill(&counterfactual, from: text)
            } else {
              counterfactual = cache[documentIndex][cfIndex + 1]
            }
            let step = rate * Float(config.contrastiveWeight)
            pairLoss += pairStep(original, counterfactual, head: facet, rate: step)
            pairSteps += 1
            if overallFromPairs {
              pairLoss += pairStep(original, counterfactual, head: overallHead, rate: step)
              pairSteps += 1
            }
            if usesLabels {
              labelCredit += Double(labelStepsPerEpoch) / Double(trainingPairs)
              while labelCredit >= 1 {
                labelStep(&generator)
                labelCredit -= 1
              }
            }
          }
        }
      }
      while labelSteps < labelStepsPerEpoch { labelStep(&generator) }
      pairLosses.append(pairSteps > 0 ? pairLoss / Double(pairSteps) : 0)
      labelLosses.append(labelSteps > 0 ? labelLoss / Double(labelSteps) : 0)
    }
    labelExamples = []
    return finish(pairLosses: pairLosses, labelLosses: labelLosses, usesLabels: usesLabels)
  }

  /// The most memory the features of all training texts may take to be extracted once and
  /// kept, rather than extracted again in every epoch (same values either way).
  static let featureCacheBytes = 256 << 20

  /// The examples of each training document (original, then counterfactuals), indexed like
  /// `documents`; empty when they would not fit in `featureCacheBytes`.
  mutating func cachedExamples(_ training: [Int]) -> [[Example]] {
    let texts = training.reduce(0) { $0 + 1 + documents[$1].counterfactuals.count }
    var sampled = 0
    var slots = 0
    var probe = Example()
    for documentIndex in training.prefix(50) {
      fill(&probe, from: documents[documentIndex].original)
      slots += probe.slots.count
      sampled += 1
    }
    // 8 bytes per slot (index and value) plus the dense inputs and array headers.
    let estimate = texts * (slots / max(sampled, 1) * 8 + 512)
    guard estimate <= Self.featureCacheBytes else { return [] }
    var cache = [[Example]](repeating: [], count: documents.count)
    for documentIndex in training {
      let texts = [documents[documentIndex].original] + documents[documentIndex].counterfactuals.map(\.text)
      cache[documentIndex] = texts.map { text in
        var result = example(for: text)
        result.rawDense = extractor.dense
        return result
      }
    }
    return cache
  }

  /// Means and deviations of the raw dense features in `rows`.
  mutating func fitDenseStatistics(_ rows: [[Float]]) {
    var sums = [Double](repeating: 0, count: ModelWeights.denseCount)
    var squares = [Double](repeating: 0, count: ModelWeights.denseCount)
    for row in rows {
      for (feature, value) in row.enumerated() {
        sums[feature] += Double(value)
        squares[feature] += Double(value) * Double(value)
      }
    }
    setDenseStatistics(sums: sums, squares: squares, count: Double(rows.count))
  }

  mutating func setDenseStatistics(sums: [Double], squares: [Double], count: Double) {
    guard count > 0 else { return }
    for feature in 0..<ModelWeights.denseCount {
      let mean = sums[feature] / count
      let variance = max(squares[feature] / count - mean * mean, 0)
      weights.denseMean[feature] = Float(mean)
      weights.denseDeviation[feature] = Float(max(variance.squareRoot(), 1e-3))
    }
  }

  /// Means and deviations of the raw dense features over (up to 20,000) training texts; the
  /// pairs' texts count only when the pairs are trained on, so a labels-only model sees nothing
  /// but its labels.
  mutating func fitDenseStatistics(includingPairs: Bool) {
    var texts: [String] = []
    for document in documents where includingPairs && !document.isHeldOut {
      texts.append(document.original)
      texts.append(contentsOf: document.counterfactuals.map(\.text))
    }
    texts.append(contentsOf: trainingLabels.map(\.text))
    let stride = max(1, texts.count / 20_000)
    var sums = [Double](repeating: 0, count: ModelWeights.denseCount)
    var squares = [Double](repeating: 0, count: ModelWeights.denseCount)
    var count = 0.0
    for index in Swift.stride(from: 0, to: texts.count, by: stride) {
      var text = texts[index]
      text.withUTF8 { extractor.extract($0) }
      for (feature, value) in extractor.dense.enumerated() {
        sums[feature] += Double(value)
        squares[feature] += Double(value) * Double(value)
      }
      count += 1
    }
    setDenseStatistics(sums: sums, squares: squares, count: count)
  }

  mutating func example(for text: String) -> Example {
    var result = Example()
    fill(&result, from: text)
    return result
  }

  /// Extracts `text` into `example`, reusing its arrays.
  mutating func fill(_ example: inout Example, from text: String) {
    var copy = text
    copy.withUTF8 { extractor.extract($0) }
    let count = extractor.touchedCount
    example.slots.removeAll(keepingCapacity: true)
    example.values.removeAll(keepingCapacity: true)
    example.slots.append(contentsOf: extractor.touched[0..<count])
    for position in 0..<count { example.values.append(extractor.values[Int(extractor.touched[position])]) }
    weights.prepare(dense: extractor.dense, into: &example.dense)
  }

  /// The raw score of `head` (with the shared body) for `example`.
  func score(_ example: Example, head: Int) -> Float {
    let columns = weights.columns
    let shared = sharedColumn
    var total = weights.bias[head]
    weights.sparse.withUnsafeBufferPointer { sparse in
      example.slots.withUnsafeBufferPointer { slots in
        example.values.withUnsafeBufferPointer { values in
          for position in 0..<slots.count {
            let row = Int(slots[position]) * columns
            total += values[position] * (sparse[row + head] + sparse[row + shared])
          }
        }
      }
    }
    for feature in 0..<ModelWeights.denseCount {
      let linear = feature * columns
      let bin = (feature * ModelWeights.binCount + example.dense.bins[feature]) * columns
      total +=
        example.dense.values[feature] * (weights.denseLinear[linear + head] + weights.denseLinear[linear + shared])
      total += ModelWeights.binValue * (weights.denseBins[bin + head] + weights.denseBins[bin + shared])
    }
    return total
  }

  /// Adds `step` times the example's features to `head` and to the shared body.
  mutating func update(_ example: Example, head: Int, step: Float) {
    let columns = weights.columns
    let shared = sharedColumn
    weights.sparse.withUnsafeMutableBufferPointer { sparse in
      example.slots.withUnsafeBufferPointer { slots in
        example.values.withUnsafeBufferPointer { values in
          for position in 0..<slots.count {
            let row = Int(slots[position]) * columns
            let delta = step * values[position]
            sparse[row + head] += delta
            sparse[row + shared] += delta
          }
        }
      }
    }
    for feature in 0..<ModelWeights.denseCount {
      let linear = feature * columns
      let delta = step * example.dense.values[feature]
      weights.denseLinear[linear + head] += delta
      weights.denseLinear[linear + shared] += delta
      let bin = (feature * ModelWeights.binCount + example.dense.bins[feature]) * columns
      weights.denseBins[bin + head] += step * ModelWeights.binValue
      weights.denseBins[bin + shared] += step * ModelWeights.binValue
    }
  }

  /// One hinge step on a pair for `head`; returns the pair's loss before the step.
  mutating func pairStep(_ original: Example, _ counterfactual: Example, head: Int, rate: Float) -> Double {
    let gap = score(original, head: head) - score(counterfactual, head: head)
    let margin = Float(config.margin)
    guard gap < margin else { return 0 }
    update(original, head: head, step: rate)
    update(counterfactual, head: head, step: -rate)
    return Double(margin - gap)
  }

  /// One squared-error step of the overall head towards `target`; returns the squared error
  /// before the step.
  mutating func regressionStep(_ example: Example, target: Float, rate: Float) -> Double {
    let error = score(example, head: overallHead) - target
    // Clipped so one far-off label early in training cannot throw the weights away.
    let clipped = min(max(error, -4), 4)
    update(example, head: overallHead, step: -rate * clipped)
    weights.bias[overallHead] -= rate * clipped
    return Double(error * error)
  }

  // MARK: - Calibration and report

  mutating func finish(pairLosses: [Double], labelLosses: [Double], usesLabels: Bool) -> Evaluator {
    let folded = weights.folded()
    let heads = facetCount + 1
    var offsets = [Float](repeating: 0, count: heads)
    var scales = [Float](repeating: 1, count: heads)
    func evaluator(_ percentiles: [Float], _ report: TrainingReport) -> Evaluator {
      Evaluator(
        scenario: scenario, config: config, report: report, weights: folded, calibrationOffset: offsets,
        calibrationScale: scales, overallPercentiles: percentiles)
    }

    // Standardise each head on (up to 5,000) training originals; the overall head keeps the
    // label scale when labels trained it.
    var scorer = evaluator([], emptyReport()).makeScorer()
    // The training originals; a model trained on labels alone has none, so its labelled texts
    // stand in (without them keepTopFraction would have no percentiles and keep everything).
    var originals = documents.filter { !$0.isHeldOut }.map(\.original)
    if originals.isEmpty { originals = trainingLabels.map(\.text) }
    let stride = max(1, originals.count / 5000)
    var rawScores: [[Float]] = Array(repeating: [], count: heads)
    for index in Swift.stride(from: 0, to: originals.count, by: stride) {
      let score = scorer.score(originals[index])
      for head in 0..<facetCount { rawScores[head].append(Float(score.facets[head])) }
      rawScores[facetCount].append(Float(score.overall))
    }
    for head in 0..<heads where !rawScores[head].isEmpty {
      if head == overallHead && usesLabels { continue }
      let values = rawScores[head]
      let mean = values.reduce(0, +) / Float(values.count)
      let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(values.count)
      offsets[head] = mean
      scales[head] = 1 / max(variance.squareRoot(), 1e-6)
    }

    let overall = rawScores[overallHead].map { ($0 - offsets[overallHead]) * scales[overallHead] }.sorted()
    let percentiles = Evaluator.percentiles(of: overall)
    let report = heldOutReport(
      evaluator(percentiles, emptyReport()), pairLosses: pairLosses, labelLosses: labelLosses)
    return evaluator(percentiles, report)
  }

  func emptyReport() -> TrainingReport {
    TrainingReport(
      facets: [], overallAccuracy: nil, trainingGroups: 0, heldOutGroups: 0, trainingLabels: 0, heldOutLabels: 0,
      labelSpearman: nil, pairLossPerEpoch: [], labelLossPerEpoch: [])
  }

  func heldOutReport(_ evaluator: Evaluator, pairLosses: [Double], labelLosses: [Double]) -> TrainingReport {
    var scorer = evaluator.makeScorer()
    var trainingPairs = [Int](repeating: 0, count: facetCount)
    var heldOutPairs = [Int](repeating: 0, count: facetCount)
    var correct = [Double](repeating: 0, count: facetCount)
    var ties = [Int](repeating: 0, count: facetCount)
    var overallCorrect = [Double](repeating: 0, count: facetCount)
    var trainingGroups = Set<String>()
    var heldOutGroups = Set<String>()
    for document in documents {
      if !document.isHeldOut {
        trainingGroups.insert(document.group)
        for (facet, _) in document.counterfactuals { trainingPairs[facet] += 1 }
        continue
      }
      heldOutGroups.insert(document.group)
      let original = scorer.score(document.original)
      for (facet, text) in document.counterfactuals {
        let degraded = scorer.score(text)
        heldOutPairs[facet] += 1
        correct[facet] += PairOutcome.credit(original.facets[facet], degraded.facets[facet])
        if original.facets[facet] == degraded.facets[facet] { ties[facet] += 1 }
        overallCorrect[facet] += PairOutcome.credit(original.overall, degraded.overall)
      }
    }
    let facets = (0..<facetCount).map { facet in
      let count = heldOutPairs[facet]
      return TrainingReport.FacetResult(
        facet: scenario.facets[facet].name, trainingPairs: trainingPairs[facet], heldOutPairs: count,
        accuracy: count > 0 ? correct[facet] / Double(count) : nil, ties: ties[facet],
        overallAccuracy: count > 0 ? overallCorrect[facet] / Double(count) : nil)
    }
    let totalHeldOut = heldOutPairs.reduce(0, +)
    let predictions = heldOutLabels.map { scorer.score($0.text).overall }
    return TrainingReport(
      facets: facets,
      overallAccuracy: totalHeldOut > 0 ? overallCorrect.reduce(0, +) / Double(totalHeldOut) : nil,
      trainingGroups: trainingGroups.count, heldOutGroups: heldOutGroups.count, trainingLabels: trainingLabels.count,
      heldOutLabels: heldOutLabels.count,
      labelSpearman: RankCorrelation.spearman(predictions, heldOutLabels.map(\.score)),
      pairLossPerEpoch: pairLosses, labelLossPerEpoch: labelLosses)
  }
}

/// Scoring one (original, counterfactual) comparison.
enum PairOutcome {
  /// 1 when the original scores higher, 0.5 on a tie, 0 otherwise: the credit used for
  /// pairwise accuracy.
  static func credit(_ original: Double, _ counterfactual: Double) -> Double {
    original > counterfactual ? 1 : (original == counterfactual ? 0.5 : 0)
  }
}
