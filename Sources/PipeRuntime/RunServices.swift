import Foundation
import PipeCore
import PipeLLM
import PipeManifest

/// What a run lends its stages through `StageContext.services`.
enum RunServices {
  static func make(manifest: Manifest) -> StageServices {
    var services = StageServices()
    services.register(LLMClientPool(cache: ManifestLLMCache(manifest: manifest)), as: LLMClientPool.self)
    return services
  }
}

/// The LLM request cache in the run's manifest (table `llm_cache`): answers are stored the
/// moment they arrive, so a killed run keeps every call it paid for.
struct ManifestLLMCache: LLMCache {
  let manifest: Manifest

  func lookup(key: String) throws -> CachedResponse? {
    try manifest.llmCacheEntry(key: key).map { entry in
      CachedResponse(
        endpointName: entry.endpoint, model: entry.model, path: entry.path, requestBody: entry.request,
        responseBody: entry.response, promptTokens: entry.promptTokens, completionTokens: entry.completionTokens,
        latencySeconds: entry.latencySeconds)
    }
  }

  func store(key: String, response: CachedResponse) throws {
    try manifest.storeLLMCacheEntry(
      LLMCacheEntry(
        key: key, endpoint: response.endpointName, model: response.model, path: response.path,
        request: response.requestBody, response: response.responseBody, promptTokens: response.promptTokens,
        completionTokens: response.completionTokens, latencySeconds: response.latencySeconds,
        createdAt: Date().timeIntervalSince1970))
  }
}
