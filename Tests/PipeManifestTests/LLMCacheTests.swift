import Dispatch
import Foundation
import Testing

@testable import PipeManifest

struct LLMCacheTests {
  static func entry(_ key: String, response: String = #"{"choices":[]}"#, endpoint: String = "local") -> LLMCacheEntry {
    LLMCacheEntry(
      key: key, endpoint: endpoint, model: "smollm2", path: "chat/completions", request: "{}", response: response,
      promptTokens: 12, completionTokens: 30, latencySeconds: 0.5, createdAt: 1_000)
  }

  @Test func storesLooksUpAndReplaces() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    #expect(try manifest.llmCacheEntry(key: "k1") == nil)
    try manifest.storeLLMCacheEntry(Self.entry("k1", response: "first"))
    try manifest.storeLLMCacheEntry(Self.entry("k1", response: "second"))
    #expect(try manifest.llmCacheEntry(key: "k1") == Self.entry("k1", response: "second"))
    // Resetting a stage's tasks does not touch the cache: a rerun reuses paid calls.
    let runID = try Fixture.startRun(manifest)
    try Fixture.recordStage(manifest, "generate", position: 0)
    try Fixture.runTask(manifest, stage: "generate", shard: 0, runID: runID)
    try manifest.resetTasks(stage: "generate")
    #expect(try manifest.llmCacheEntry(key: "k1")?.response == "second")
    try manifest.close()
    // And it survives reopening.
    let reopened = try Manifest.openReadOnly(path: dir.manifestPath)
    #expect(try reopened.llmCacheEntry(key: "k1")?.completionTokens == 30)
    try reopened.close()
  }

  @Test func concurrentStoresFromWorkerThreadsAllLand() throws {
    let dir = try TemporaryDirectory()
    let manifest = try Manifest(path: dir.manifestPath)
    DispatchQueue.concurrentPerform(iterations: 64) { index in
      try? manifest.storeLLMCacheEntry(Self.entry("key-\(index)", endpoint: index % 2 == 0 ? "a" : "b"))
    }
    let summary = try manifest.llmCacheSummary()
    #expect(summary.map(\.endpoint) == ["a", "b"])
    #expect(summary.map(\.responses) == [32, 32])
    #expect(summary.first?.completionTokens == 32 * 30)
    try manifest.close()
  }
}
