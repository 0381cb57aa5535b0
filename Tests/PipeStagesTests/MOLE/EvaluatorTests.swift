import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// Training, scoring, artifacts and the quality targets on the sample fixture.
struct EvaluatorTests {
  /// A small, fast configuration for debug builds.
  static let config = EvaluatorConfig(
    features: FeatureConfig(hashBits: 16), epochs: 4, learningRate: 0.2, heldOutFraction: 0.3)
  static let seed: UInt64 = 11

  static let prose = TestCorpus.samples.filter { $0.kind == "prose" }
  static let proseHeldOut = prose.filter { TrainingSplit.isHeldOut(group: $0.id, fraction: 0.3, seed: seed) }
  static let pairs = TestCorpus.pairs(prose, scenario: .webArticle)

  /// Trained once per test run and shared.
  static let model: Evaluator? = try? Evaluator.train(
    scenario: .webArticle, pairs: pairs, labels: [], config: config, seed: seed)

  @Test func fixtureIsLoaded() {
    #expect(TestCorpus.samples.count == 340)
    #expect(Self.pairs.count > 1300)
    #expect(Self.proseHeldOut.count > 60)
  }

  @Test func meetsPairwiseTargetsOnHeldOutSamples() throws {
    let report = try #require(Self.model).report
    Verbose.print("samples: \(report.facets.map { "\($0.facet) \($0.accuracy ?? 0)" })")
    for facet in report.facets {
      let accuracy = try #require(facet.accuracy)
      let target = facet.facet == "coherence" ? 0.75 : 0.9
      #expect(accuracy >= target, "\(facet.facet): \(accuracy) on \(facet.heldOutPairs) held-out pairs")
      #expect(facet.heldOutPairs > 50)
    }
  }

  @Test func twiceDegradedScoresBelowOnceDegraded() throws {
    var scorer = try #require(Self.model).makeScorer()
    var below = 0.0
    var count = 0
    // Three facet orders per document, so the share rests on a few hundred triples.
    for document in Self.proseHeldOut {
      for draw in 0..<3 {
        let id = document.id + "#\(draw)"
        let once = TestCorpus.degrade(document.text, id: id, count: 1, scenario: .webArticle)
        let twice = TestCorpus.degrade(document.text, id: id, count: 2, scenario: .webArticle)
        guard once.applied == 1, twice.applied == 2 else { continue }
        // The same draws, so `twice` is `once` degraded in one more facet.
        count += 1
        below += PairOutcome.credit(scorer.score(once.text).overall, scorer.score(twice.text).overall)
      }
    }
    Verbose.print("monotonicity on samples: \(below / Double(count)) of \(count) triples")
    #expect(count > 150)
    #expect(below / Double(count) >= 0.9, "\(below) of \(count)")
  }

  /// Labels as in the project's notes (5 − facets degraded + noise). With 30 labels and about 200
  /// training documents one split can go either way, so the means over four splits (seeds 1–4)
  /// are compared; on the bench corpus the gap is clear on one split (see the bench test).
  @Test func jointTrainingBeatsSupervisedOnlyWithFewLabels() throws {
    var jointSum = 0.0
    var supervisedSum = 0.0
    for seed: UInt64 in 1...4 {
      let isHeldOut = { (document: TestDocument) in
        TrainingSplit.isHeldOut(group: document.id, fraction: 0.3, seed: seed)
      }
      let training = Self.prose.filter { !isHeldOut($0) }
      let heldOut = Self.prose.filter(isHeldOut)
      let fewLabels = Array(TestCorpus.labels(training, scenario: .webArticle, salt: "train").prefix(30))
      // Four labelled variants per held-out document: a few hundred texts keep Spearman steady.
      let heldOutLabels = (0..<4).flatMap {
        TestCorpus.labels(heldOut, scenario: .webArticle, salt: "held-out-\($0)")
      }
      // Without character n-grams, which do not change the comparison (see NOTES.md): this
      // test trains eight models, and they are a fifth of the debug build's time.
      var joint = Self.config
      joint.features.characterOrders = []
      joint.supervisedWeight = 0.5
      var supervised = joint
      supervised.contrastiveWeight = 0
      let labels = fewLabels + heldOutLabels
      let jointModel = try Evaluator.train(
        scenario: .webArticle, pairs: Self.pairs, labels: labels, config: joint, seed: seed)
      let supervisedModel = try Evaluator.train(
        scenario: .webArticle, pairs: Self.pairs, labels: labels, config: supervised, seed: seed)
      #expect(jointModel.report.trainingLabels == 30)
      #expect(jointModel.report.heldOutLabels == heldOutLabels.count)
      jointSum += try #require(jointModel.report.labelSpearman)
      supervisedSum += try #require(supervisedModel.report.labelSpearman)
    }
    Verbose.print("samples, 30 labels, mean of 4 splits: joint \(jointSum / 4), supervised-only \(supervisedSum / 4)")
    #expect(jointSum > supervisedSum, "joint \(jointSum / 4), supervised-only \(supervisedSum / 4)")
  }

  /// A model trained on labels alone has percentiles (from its labelled texts), so
  /// keepTopFraction keeps a share rather than everything.
  @Test func labelsOnlyModelHasPercentiles() throws {
    let labels = TestCorpus.labels(Array(Self.prose.prefix(80)), scenario: .webArticle, salt: "percentiles")
    var config = EvaluatorConfig(features: FeatureConfig(hashBits: 12), epochs: 2, heldOutFraction: 0)
    config.contrastiveWeight = 0
    let model = try Evaluator.train(scenario: .webArticle, pairs: [], labels: labels, config: config, seed: 3)
    let threshold = model.overallThreshold(keepingTopFraction: 0.5)
    let scores = labels.map { model.score($0.text).overall }
    #expect(threshold.isFinite)
    let above = scores.filter { $0 >= threshold }.count
    #expect(above > labels.count / 4 && above < labels.count * 3 / 4, "\(above) of \(labels.count)")
  }

  /// Per-group percentiles survive the artifact, and each group's threshold keeps about the
  /// share asked of that group's documents.
  @Test func groupPercentilesRoundTripAndKeepTheirShare() throws {
    let model = try #require(Self.model)
    let documents = Self.prose.enumerated().map { (group: $0.offset % 3 == 0 ? "a" : "b", text: $0.element.text) }
    let grouped = model.measuringGroups(field: "language", documents: documents, minimumDocuments: 20)
    #expect(grouped.groups == ["a", "b"])
    let loaded = try Evaluator(decoding: grouped.encoded())
    #expect(loaded.groupField == "language")
    #expect(loaded.groups == ["a", "b"])
    #expect(loaded.overallThreshold(keepingTopFraction: 0.5, inGroup: "c") == nil)
    for group in ["a", "b"] {
      let threshold = try #require(loaded.overallThreshold(keepingTopFraction: 0.7, inGroup: group))
      let members = documents.filter { $0.group == group }
      let kept = members.filter { loaded.score($0.text).overall >= threshold }.count
      let share = Double(kept) / Double(members.count)
      #expect(share > 0.6 && share < 0.8, "\(group): \(share)")
    }
    // Too few documents: no percentiles of its own.
    let sparse = model.measuringGroups(field: "language", documents: Array(documents.prefix(10)), minimumDocuments: 20)
    #expect(sparse.groups.isEmpty)
    // An evaluator without groups encodes as before (no group header, no extra arrays).
    #expect(try Evaluator(decoding: model.encoded()).groupField == nil)
  }

  /// Without word features and character n-grams, two texts of the same shape (the same
  /// function words, content words of the same lengths) score the same; the setting survives
  /// the artifact.
  @Test func shapeOnlyFeaturesIgnoreTheVocabulary() throws {
    let config = EvaluatorConfig(
      features: FeatureConfig(hashBits: 12, characterOrders: [], wordFeatures: false), epochs: 2, heldOutFraction: 0)
    let model = try Evaluator.train(
      scenario: .webArticle, pairs: Array(Self.pairs.prefix(400)), labels: [], config: config, seed: 3)
    let loaded = try Evaluator(decoding: model.encoded())
    #expect(loaded.config.features.wordFeatures == false)
    let first = "The river runs past the old mill. It turns the wheel all day."
    let second = "The stone sits past the old farm. It moves the cloud all day."
    #expect(loaded.score(first) == loaded.score(second))
    let lexical = try #require(Self.model)
    #expect(lexical.score(first) != lexical.score(second))
  }

  /// overallFromPairs false leaves the overall head to the labels (another model than the
  /// default joint one, the same facet training) and survives the artifact.
  @Test func overallHeadFromLabelsOnly() throws {
    let labels = TestCorpus.labels(Array(Self.prose.prefix(60)), scenario: .webArticle, salt: "overall")
    var config = EvaluatorConfig(features: FeatureConfig(hashBits: 12), epochs: 2, heldOutFraction: 0)
    let pairs = Array(Self.pairs.prefix(300))
    let joint = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: labels, config: config, seed: 3)
    config.overallFromPairs = false
    let split = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: labels, config: config, seed: 3)
    let loaded = try Evaluator(decoding: split.encoded())
    #expect(loaded.config.overallFromPairs == false)
    #expect(try Evaluator(decoding: joint.encoded()).config.overallFromPairs == true)
    let text = Self.proseHeldOut[0].text
    #expect(loaded.score(text) == split.score(text))
    #expect(split.score(text).overall != joint.score(text).overall)
    // Without labels the flag changes nothing: the pairs are all the overall head has.
    var unlabelled = config
    unlabelled.supervisedWeight = 0
    let a = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: [], config: unlabelled, seed: 3)
    unlabelled.overallFromPairs = true
    let b = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: [], config: unlabelled, seed: 3)
    #expect(a.score(text) == b.score(text))
  }

  @Test func trainingIsDeterministicUnderTheSeed() throws {
    let pairs = Array(Self.pairs.prefix(200))
    let config = EvaluatorConfig(features: FeatureConfig(hashBits: 12), epochs: 2)
    let first = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: [], config: config, seed: 5)
    let second = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: [], config: config, seed: 5)
    let other = try Evaluator.train(scenario: .webArticle, pairs: pairs, labels: [], config: config, seed: 6)
    #expect(first.encoded() == second.encoded())
    #expect(first.encoded() != other.encoded())
  }

  @Test func artifactRoundTripsAndScoresTheSame() throws {
    let model = try #require(Self.model)
    let bytes = model.encoded()
    let loaded = try Evaluator(decoding: bytes)
    #expect(loaded.encoded() == bytes)
    #expect(loaded.scenario == model.scenario)
    #expect(loaded.config == model.config)
    #expect(loaded.report == model.report)
    for document in Self.proseHeldOut.prefix(10) {
      #expect(loaded.score(document.text) == model.score(document.text))
    }
  }

  @Test func artifactOfAnotherVersionIsRejectedWithAFix() throws {
    var bytes = try #require(Self.model).encoded()
    bytes[8] = 2
    let error = #expect(throws: PipeError.self) { try Evaluator(decoding: bytes) }
    #expect(error?.code == .input)
    #expect(error?.message.contains("version 2") == true)
    #expect(error?.message.contains("Retrain") == true)
  }

  @Test func corruptOrForeignArtifactsAreRejected() throws {
    var bytes = try #require(Self.model).encoded()
    bytes[bytes.count / 2] ^= 0xFF
    let corrupt = #expect(throws: PipeError.self) { try Evaluator(decoding: bytes) }
    #expect(corrupt?.message.contains("checksum") == true)
    let foreign = #expect(throws: PipeError.self) { try Evaluator(decoding: Array("{\"not\":\"a model\"}".utf8)) }
    #expect(foreign?.message.contains("PIPEMOLE") == true)
    #expect(throws: PipeError.self) { try Evaluator(decoding: Array(bytes.prefix(100))) }
  }

  @Test func invalidTrainingInputsAreConfigErrors() {
    let pair = CounterfactualPair(group: "a", original: "One. Two.", counterfactual: "Two. One.", facet: "charm")
    let unknown = #expect(throws: PipeError.self) {
      try Evaluator.train(scenario: .webArticle, pairs: [pair], labels: [], config: EvaluatorConfig(), seed: 1)
    }
    #expect(unknown?.message.contains("charm") == true)
    var config = EvaluatorConfig()
    config.features.hashBits = 30
    #expect(throws: PipeError.self) {
      try Evaluator.train(scenario: .webArticle, pairs: [], labels: [], config: config, seed: 1)
    }
    var labelsOnly = EvaluatorConfig(heldOutFraction: 0)
    labelsOnly.contrastiveWeight = 0
    #expect(throws: PipeError.self) {
      try Evaluator.train(scenario: .webArticle, pairs: [], labels: [], config: labelsOnly, seed: 1)
    }
  }

  @Test func scoresBecomeMetadataAndThresholds() throws {
    let model = try #require(Self.model)
    let score = model.score(PerturbationTests.article)
    #expect(score.facets.count == 5)
    let value = model.metadataValue(of: score).objectValue
    #expect(value?.keys == ["overall", "coherence", "informativeness", "fluency", "redundancy", "noise"])
    let half = model.overallThreshold(keepingTopFraction: 0.5)
    let most = model.overallThreshold(keepingTopFraction: 0.9)
    #expect(most < half)
    var scorer = model.makeScorer()
    let record = Record(id: "r", text: PerturbationTests.article)
    #expect(scorer.score(record) == score)
  }

  @Test func gateNamesTheFacetThatFailed() throws {
    let gate = try QualityGate(scenario: .webArticle, minimumOverall: 0, minimumFacets: ["noise": -1, "coherence": -2])
    #expect(gate.dropReason(for: QualityScore(overall: 1, facets: [0, 0, 0, 0, 0])) == nil)
    #expect(gate.dropReason(for: QualityScore(overall: -1, facets: [-3, 0, 0, 0, -3])) == "low_quality_coherence")
    #expect(gate.dropReason(for: QualityScore(overall: 1, facets: [0, 0, 0, 0, -3])) == "low_quality_noise")
    #expect(gate.dropReason(for: QualityScore(overall: -1, facets: [0, 0, 0, 0, 0])) == "low_quality_overall")
    #expect(throws: PipeError.self) { try QualityGate(scenario: .webArticle, minimumFacets: ["charm": 0]) }
  }

  @Test func codeScenarioTrainsOnCode() throws {
    let code = TestCorpus.samples.filter { $0.kind == "code" }
    let pairs = TestCorpus.pairs(code, scenario: .code)
    let model = try Evaluator.train(
      scenario: .code, pairs: pairs, labels: [], config: Self.config, seed: Self.seed)
    Verbose.print("samples code: \(model.report.facets.map { "\($0.facet) \($0.accuracy ?? 0)" })")
    for facet in model.report.facets {
      let accuracy = try #require(facet.accuracy)
      #expect(accuracy >= 0.8, "\(facet.facet): \(accuracy) on \(facet.heldOutPairs) pairs")
    }
  }
}
