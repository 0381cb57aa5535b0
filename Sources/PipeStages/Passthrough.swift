public import PipeCore

/// `passthrough@1`: keeps every valid record unchanged.
///
/// Useful to validate, copy or reshard data, and as the benchmark of the engine itself: the
/// shared loop still parses every line, rejects malformed ones and writes zstd shards.
public struct Passthrough: RecordStage {
  /// Creates the stage.
  public init() {}

  /// Keeps the record.
  public func process(_ record: inout Record, context: StageContext) throws -> Verdict { .keep }

  /// The op descriptor.
  public static let descriptor = OpDescriptor(
    name: "passthrough", version: 1,
    summary: "keep every valid record unchanged (validate, copy, reshard; rejects malformed lines)",
    keys: [], make: { _ in .record(Passthrough()) })
}
