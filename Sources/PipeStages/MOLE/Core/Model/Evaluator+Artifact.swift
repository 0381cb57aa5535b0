import PipeCore

/// The evaluator artifact: a versioned binary file.
///
/// Layout: the 8 bytes `PIPEMOLE`; the format version (UInt32, little-endian); the length of
/// a JSON header (UInt32) and the header (canonical JSON: format name, version, scenario,
/// config, training report, array sizes, dense feature names); the weight arrays as
/// little-endian Float32 in header order; XXH64 of everything before it (UInt64). Version
/// changes whenever features or layout change, so an old artifact is never scored with
/// features it was not trained on.
extension Evaluator {
  /// The format name written in the header.
  public static let artifactFormat = "pipe.mole.evaluator"
  /// The artifact version this build writes and reads.
  public static let artifactVersion = 1

  private static let magic = Array("PIPEMOLE".utf8)

  /// The artifact bytes; the same evaluator always gives the same bytes.
  public func encoded() -> [UInt8] {
    let arrays = namedArrays()
    var header = JSONObject([
      ("format", .string(Self.artifactFormat)), ("version", .int(Int64(Self.artifactVersion))),
      ("scenario", scenarioJSON()), ("config", configJSON()), ("report", report.jsonValue),
      ("heads", .int(Int64(weights.heads))), ("dimension", .int(Int64(weights.dimension))),
      ("binCount", .int(Int64(ModelWeights.binCount))),
      ("denseFeatures", .array(DenseFeature.allCases.map { .string("\($0)") })),
    ])
    if let groupField { header["groupField"] = .string(groupField) }
    header["arrays"] = .array(
      arrays.map { .object(JSONObject([("name", .string($0.name)), ("count", .int(Int64($0.values.count)))])) })
    var headerBytes: [UInt8] = []
    JSONValue.object(header).write(to: &headerBytes, sortedKeys: true)

    var out = Self.magic
    Self.append(UInt32(Self.artifactVersion), to: &out)
    Self.append(UInt32(headerBytes.count), to: &out)
    out.append(contentsOf: headerBytes)
    for array in arrays { Self.append(array.values, to: &out) }
    let checksum = out.withUnsafeBytes { XXH64.hash($0) }
    Self.append(checksum, to: &out)
    return out
  }

  /// Loads an artifact written by `encoded()`.
  ///
  /// - Throws: `PipeError(.input)` when the bytes are not an evaluator artifact, were written
  ///   by another artifact version (retrain with this build, or score with the build that
  ///   wrote it), or are truncated or corrupt.
  public init(decoding bytes: [UInt8]) throws {
    func fail(_ message: String) -> PipeError { PipeError(.input, "evaluator artifact: \(message)") }
    guard bytes.count >= 24, Array(bytes[0..<8]) == Self.magic else {
      throw fail("not a MOLE evaluator (missing the PIPEMOLE signature)")
    }
    var reader = ByteReader(bytes: bytes, position: 8)
    let version = Int(reader.uint32())
    guard version == Self.artifactVersion else {
      throw fail(
        "format version \(version) is not supported; this build reads version \(Self.artifactVersion). "
          + "Retrain the evaluator with this build (evaluator.train), or score with the pipe version that wrote it.")
    }
    let stored = bytes[(bytes.count - 8)...].enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << (8 * $1.offset)
    }
    let computed = bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 8)])) }
    guard stored == computed else { throw fail("checksum mismatch: the file is truncated or corrupt; retrain it") }

    let headerLength = Int(reader.uint32())
    guard reader.position + headerLength <= bytes.count - 8 else { throw fail("the header is truncated") }
    let headerValue: JSONValue
    do {
      headerValue = try JSONValue.parse(Array(bytes[reader.position..<(reader.position + headerLength)]))
    } catch {
      throw fail("the header is not valid JSON (\(error))")
    }
    reader.position += headerLength
    guard let header = headerValue.objectValue, header["format"]?.stringValue == Self.artifactFormat else {
      throw fail("the header does not name the format \(Self.artifactFormat)")
    }
    let featureNames = DenseFeature.allCases.map { JSONValue.string("\($0)") }
    guard header["denseFeatures"]?.arrayValue == featureNames,
      header["binCount"]?.intValue == ModelWeights.binCount
    else {
      throw fail("its dense features differ from this build's; retrain the evaluator with this build")
    }
    let scenario = try Self.scenario(from: header["scenario"])
    let config = try Self.config(from: header["config"])
    let report = try TrainingReport(json: header["report"] ?? .null)
    guard let heads = header["heads"]?.intValue, heads == scenario.facets.count + 1,
      let dimension = header["dimension"]?.intValue, dimension == 1 << config.features.hashBits,
      let arrayList = header["arrays"]?.arrayValue
    else {
      throw fail("the header's sizes do not match its scenario and config")
    }
    var arrays: [String: [Float]] = [:]
    for entry in arrayList {
      guard let object = entry.objectValue, let name = object["name"]?.stringValue,
        let count = object["count"]?.intValue, count >= 0, reader.position + count * 4 <= bytes.count - 8
      else { throw fail("the weight arrays are truncated") }
      arrays[name] = reader.floats(count)
    }
    var weights = ModelWeights(heads: heads, columns: heads, dimension: dimension)
    func take(_ name: String, count: Int) throws -> [Float] {
      guard let values = arrays[name], values.count == count else {
        throw fail("array \(name) is missing or mis-sized")
      }
      return values
    }
    weights.sparse = try take("sparse", count: dimension * heads)
    weights.denseLinear = try take("denseLinear", count: ModelWeights.denseCount * heads)
    weights.denseBins = try take("denseBins", count: ModelWeights.denseCount * ModelWeights.binCount * heads)
    weights.bias = try take("bias", count: heads)
    weights.denseMean = try take("denseMean", count: ModelWeights.denseCount)
    weights.denseDeviation = try take("denseDeviation", count: ModelWeights.denseCount)
    let offsets = try take("calibrationOffset", count: heads)
    let scales = try take("calibrationScale", count: heads)
    let percentiles = arrays["overallPercentiles"] ?? []
    self.init(
      scenario: scenario, config: config, report: report, weights: weights, calibrationOffset: offsets,
      calibrationScale: scales, overallPercentiles: percentiles)
    if let field = header["groupField"]?.stringValue {
      groupField = field
      for (name, values) in arrays where name.hasPrefix(Self.groupArrayPrefix) {
        guard values.count == 101 else { throw fail("array \(name) is mis-sized") }
        groupPercentiles[String(name.dropFirst(Self.groupArrayPrefix.count))] = values
      }
    }
  }

  /// Per-group percentile arrays are named this prefix and the group.
  private static let groupArrayPrefix = "groupPercentiles."

  // MARK: - Pieces

  private func namedArrays() -> [(name: String, values: [Float])] {
    [
      ("sparse", weights.sparse), ("denseLinear", weights.denseLinear), ("denseBins", weights.denseBins),
      ("bias", weights.bias), ("denseMean", weights.denseMean), ("denseDeviation", weights.denseDeviation),
      ("calibrationOffset", calibrationOffset), ("calibrationScale", calibrationScale),
      ("overallPercentiles", overallPercentiles),
    ] + groups.map { (Self.groupArrayPrefix + $0, groupPercentiles[$0] ?? []) }
  }

  private func scenarioJSON() -> JSONValue {
    .object(
      JSONObject([
        ("name", .string(scenario.name)),
        (
          "facets",
          .array(
            scenario.facets.map { facet in
              .object(
                JSONObject([
                  ("name", .string(facet.name)), ("definition", .string(facet.definition)),
                  ("rule", facet.rule.map { .string($0.rawValue) } ?? .null),
                ]))
            })
        ),
      ]))
  }

  private static func scenario(from value: JSONValue?) throws -> Scenario {
    guard let object = value?.objectValue, let name = object["name"]?.stringValue,
      let facetValues = object["facets"]?.arrayValue
    else { throw PipeError(.input, "evaluator artifact: the scenario is malformed") }
    let facets = try facetValues.map { value -> Facet in
      guard let facet = value.objectValue, let facetName = facet["name"]?.stringValue,
        let definition = facet["definition"]?.stringValue
      else { throw PipeError(.input, "evaluator artifact: a facet is malformed") }
      let rule = facet["rule"]?.stringValue.flatMap(PerturbationRule.init(rawValue:))
      return Facet(name: facetName, definition: definition, rule: rule)
    }
    return try Scenario(name: name, facets: facets)
  }

  private func configJSON() -> JSONValue {
    var object = JSONObject([
      ("hashBits", .int(Int64(config.features.hashBits))),
      ("characterOrders", .array(config.features.characterOrders.map { .int(Int64($0)) })),
      ("orderFeatures", .bool(config.features.orderFeatures)), ("epochs", .int(Int64(config.epochs))),
      ("learningRate", .double(config.learningRate)), ("margin", .double(config.margin)),
      ("contrastiveWeight", .double(config.contrastiveWeight)),
      ("supervisedWeight", .double(config.supervisedWeight)), ("heldOutFraction", .double(config.heldOutFraction)),
    ])
    // Written only when off, so evaluators trained before these keys existed keep their bytes.
    if !config.features.wordFeatures { object["wordFeatures"] = .bool(false) }
    if !config.overallFromPairs { object["overallFromPairs"] = .bool(false) }
    return .object(object)
  }

  private static func config(from value: JSONValue?) throws -> EvaluatorConfig {
    guard let object = value?.objectValue, let hashBits = object["hashBits"]?.intValue,
      let orders = object["characterOrders"]?.arrayValue?.compactMap(\.intValue),
      let orderFeatures = object["orderFeatures"]?.boolValue, let epochs = object["epochs"]?.intValue,
      let learningRate = object["learningRate"]?.doubleValue, let margin = object["margin"]?.doubleValue,
      let contrastive = object["contrastiveWeight"]?.doubleValue,
      let supervised = object["supervisedWeight"]?.doubleValue,
      let heldOut = object["heldOutFraction"]?.doubleValue, (10...24).contains(hashBits)
    else { throw PipeError(.input, "evaluator artifact: the config is malformed") }
    return EvaluatorConfig(
      features: FeatureConfig(
        hashBits: hashBits, characterOrders: orders, orderFeatures: orderFeatures,
        wordFeatures: object["wordFeatures"]?.boolValue ?? true),
      epochs: epochs, learningRate: learningRate, margin: margin, contrastiveWeight: contrastive,
      supervisedWeight: supervised, heldOutFraction: heldOut,
      overallFromPairs: object["overallFromPairs"]?.boolValue ?? true)
  }

  /// Appends `values` as little-endian Float32, in bulk (a weight array has millions).
  private static func append(_ values: [Float], to out: inout [UInt8]) {
    #if _endian(little)
      values.withUnsafeBytes { out.append(contentsOf: $0) }
    #else
      for value in values { append(value.bitPattern, to: &out) }
    #endif
  }

  private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    var little = value.littleEndian
    withUnsafeBytes(of: &little) { out.append(contentsOf: $0) }
  }
}

/// Little-endian reads from a byte array; callers check bounds first.
private struct ByteReader {
  let bytes: [UInt8]
  var position: Int

  mutating func uint32() -> UInt32 {
    var value: UInt32 = 0
    for offset in 0..<4 { value |= UInt32(bytes[position + offset]) << (8 * offset) }
    position += 4
    return value
  }

  /// `count` little-endian Float32 values.
  mutating func floats(_ count: Int) -> [Float] {
    let start = position
    position += count * 4
    return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      bytes.withUnsafeBytes { raw in
        for index in 0..<count {
          let bits = raw.loadUnaligned(fromByteOffset: start + index * 4, as: UInt32.self)
          buffer[index] = Float(bitPattern: UInt32(littleEndian: bits))
        }
      }
      initialized = count
    }
  }
}
