import PipeCore
import PipeManifest

/// What a run lends its stages through `StageContext.services`.
enum RunServices {
  static func make(manifest: Manifest) -> StageServices {
    StageServices()
  }
}
