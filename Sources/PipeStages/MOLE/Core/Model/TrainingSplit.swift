internal import PipeCore

/// The train/held-out split that `Evaluator.train` uses, for building evaluation sets (for
/// example labelled texts) on the same side as the pairs of their documents.
public enum TrainingSplit {
  /// Whether `group` falls on the held-out side for `seed` and `fraction`.
  public static func isHeldOut(group: String, fraction: Double, seed: UInt64) -> Bool {
    let position = Double(mixHash(XXH64.hash(group), seed) >> 11) * 0x1.0p-53
    return position < fraction
  }
}
