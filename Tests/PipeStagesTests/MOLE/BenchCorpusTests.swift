import Foundation
import PipeCore
import Testing

@testable import PipeStages

/// The targets on the bench corpus (20,000 documents): run with
/// `PIPE_MOLE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter BenchCorpusTests`
/// (about two minutes in release; a debug build takes far longer and skips the speed check).
/// The MoleBench executable prints the same figures with more detail.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PIPE_MOLE_BENCH"] == "1", "set PIPE_MOLE_BENCH=1"))
struct BenchCorpusTests {
  static let directory =
    ProcessInfo.processInfo.environment["PIPE_MOLE_BENCH_DIR"] ?? "/work/shared/bench/data/small"
  static let seed: UInt64 = 7
  static let config = EvaluatorConfig()

  /// Prose documents, grouped by duplicate cluster (a planted copy sits with its original on
  /// one side of the split).
  static let all: [TestDocument] = (try? TestCorpus.loadShards(in: directory + "/shards")) ?? []
  static let prose = all.filter { $0.kind != "code" }

  static let clusters: [String: String] = {
    guard let text = try? String(contentsOfFile: directory + "/ground_truth.jsonl", encoding: .utf8) else { return [:] }
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") {
      guard let object = (try? JSONValue.parse(String(line)))?.objectValue, let id = object["id"]?.stringValue,
        let original = object["dup_of"]?.stringValue
      else { continue }
      result[id] = original
    }
    return result
  }()

  static func group(_ document: TestDocument) -> String { clusters[document.id] ?? document.id }

  static func isHeldOut(_ document: TestDocument) -> Bool {
    TrainingSplit.isHeldOut(group: group(document), fraction: config.heldOutFraction, seed: seed)
  }

  static let pairs: [CounterfactualPair] = TestCorpus.pairs(prose, scenario: .webArticle).map { pair in
    var grouped = pair
    grouped.group = clusters[pair.group] ?? pair.group
    return grouped
  }

  static let heldOutLabels: [LabelledText] = TestCorpus.labels(
    Array(prose.filter(isHeldOut).prefix(2000)), scenario: .webArticle, salt: "held-out"
  ).map { label in
    var grouped = label
    grouped.group = clusters[label.group] ?? label.group
    return grouped
  }

  static let model: Evaluator? = try? Evaluator.train(
    scenario: .webArticle, pairs: pairs, labels: heldOutLabels, config: config, seed: seed)

  @Test func pairwiseAccuracyMeetsTheTargets() throws {
    #expect(Self.prose.count > 10_000)
    let report = try #require(Self.model).report
    for facet in report.facets {
      let accuracy = try #require(facet.accuracy)
      print("bench \(facet.facet): \(accuracy) on \(facet.heldOutPairs) held-out pairs (\(facet.ties) ties)")
      #expect(accuracy >= (facet.facet == "coherence" ? 0.75 : 0.9))
    }
  }

  @Test func scoresAreMonotone() throws {
    var scorer = try #require(Self.model).makeScorer()
    var below = 0.0
    var count = 0
    for document in Self.prose where Self.isHeldOut(document) {
      let once = TestCorpus.degrade(document.text, id: document.id, count: 1, scenario: .webArticle)
      let twice = TestCorpus.degrade(document.text, id: document.id, count: 2, scenario: .webArticle)
      guard once.applied == 1, twice.applied == 2 else { continue }
      count += 1
      below += PairOutcome.credit(scorer.score(once.text).overall, scorer.score(twice.text).overall)
    }
    print("bench monotonicity: \(below / Double(count)) of \(count)")
    #expect(below / Double(count) >= 0.9)
  }

  @Test(arguments: [30, 100])
  func jointBeatsSupervisedOnlyWithFewLabels(labelCount: Int) throws {
    let training = Self.prose.filter { !Self.isHeldOut($0) }
    let fewLabels = Array(
      TestCorpus.labels(Array(training.prefix(5 * labelCount)), scenario: .webArticle, salt: "train")
        .prefix(labelCount))
    var joint = Self.config
    joint.supervisedWeight = 0.5
    var supervised = joint
    supervised.contrastiveWeight = 0
    let labels = fewLabels + Self.heldOutLabels
    let jointModel = try Evaluator.train(
      scenario: .webArticle, pairs: Self.pairs, labels: labels, config: joint, seed: Self.seed)
    let supervisedModel = try Evaluator.train(
      scenario: .webArticle, pairs: Self.pairs, labels: labels, config: supervised, seed: Self.seed)
    let jointSpearman = try #require(jointModel.report.labelSpearman)
    let supervisedSpearman = try #require(supervisedModel.report.labelSpearman)
    print("bench \(labelCount) labels: joint \(jointSpearman), supervised-only \(supervisedSpearman)")
    #expect(jointSpearman > supervisedSpearman)
  }

  @Test func scoringIsFastEnough() throws {
    let model = try #require(Self.model)
    var scorer = model.makeScorer()
    // Every document (prose and code), timed in this thread's CPU time: the other tests of
    // the suite train models in parallel in the same process.
    let texts = Self.all.map(\.text)
    var checksum = 0.0
    let start = threadCPUSeconds()
    for text in texts { checksum += scorer.score(text).overall }
    let seconds = threadCPUSeconds() - start
    let rate = Double(texts.count) / seconds
    print("bench scoring: \(Int(rate)) documents per CPU second (checksum \(checksum))")
    #if !DEBUG
      #expect(rate >= 20_000)
    #endif
  }
}

/// CPU time of the calling thread.
private func threadCPUSeconds() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
