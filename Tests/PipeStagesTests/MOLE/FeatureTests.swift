import Testing

@testable import PipeStages

/// The hashed and dense features.
struct FeatureTests {
  private func extract(_ text: String, config: FeatureConfig = FeatureConfig(hashBits: 14)) -> FeatureExtractor {
    var extractor = FeatureExtractor(config: config)
    var copy = text
    copy.withUTF8 { extractor.extract($0) }
    return extractor
  }

  private func sparse(_ extractor: FeatureExtractor) -> [Int32: Float] {
    var result: [Int32: Float] = [:]
    for position in 0..<extractor.touchedCount {
      let slot = extractor.touched[position]
      result[slot] = extractor.values[Int(slot)]
    }
    return result
  }

  @Test func sparseVectorIsUnitLengthAndReusedBuffersStartClean() {
    var extractor = FeatureExtractor(config: FeatureConfig(hashBits: 14))
    var long = PerturbationTests.article
    long.withUTF8 { extractor.extract($0) }
    var short = "A short text about rivers."
    short.withUTF8 { extractor.extract($0) }
    let reused = sparse(extractor)
    #expect(reused == sparse(extract("A short text about rivers.")))
    let norm = reused.values.reduce(0) { $0 + $1 * $1 }
    #expect(abs(norm - 1) < 1e-5)
    #expect(extract("").touchedCount == 0)
  }

  @Test func cohesionFeaturesSeeSentenceOrder() {
    let ordered = """
      Rice needs water. Water comes from the river. The river floods in spring. Spring floods bring silt. \
      Silt makes the fields rich.
      """
    let shuffled =
      "Spring floods bring silt. Rice needs water. Silt makes the fields rich. The river floods in spring. "
      + "Water comes from the river."
    let a = extract(ordered).dense
    let b = extract(shuffled).dense
    #expect(a[DenseFeature.adjacentOverlap.rawValue] > b[DenseFeature.adjacentOverlap.rawValue])
    #expect(a[DenseFeature.disconnectedPairs.rawValue] < b[DenseFeature.disconnectedPairs.rawValue])
    // The bag of words is the same, so only order-sensitive features can tell them apart.
    let noOrder = FeatureConfig(hashBits: 14, characterOrders: [], orderFeatures: false)
    #expect(sparse(extract(ordered, config: noOrder)) == sparse(extract(shuffled, config: noOrder)))
  }

  @Test func repetitionAndBoilerplateFeaturesRespond() {
    let text = "The river rises in the hills. It flows to the sea."
    let repeated = text + " The river rises in the hills."
    let noisy = text + "\nClick here to subscribe to our newsletter!"
    #expect(extract(repeated).dense[DenseFeature.duplicateSegments.rawValue] > 0)
    #expect(extract(text).dense[DenseFeature.duplicateSegments.rawValue] == 0)
    #expect(
      extract(noisy).dense[DenseFeature.boilerplateRate.rawValue]
        > extract(text).dense[DenseFeature.boilerplateRate.rawValue])
    #expect(extract("    indented\n    code\nflat").dense[DenseFeature.indentedLines.rawValue] > 0.6)
  }
}
