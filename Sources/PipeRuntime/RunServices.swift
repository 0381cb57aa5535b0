import Foundation
import PipeCore
import PipeIO
import PipeLLM
import PipeManifest
import Synchronization

/// What a run lends its stages through `StageContext.services`: the LLM client pool, whose
/// cache is the manifest's `llm_cache` table. Each task gets the pool scoped to a cache of its
/// own, so the answers it receives go into its ledger (and, as they arrive, into a journal
/// beside it, so a killed task keeps every call it paid for).
final class RunServices: Sendable {
  let cache: RunLLMCache
  private let pool: LLMClientPool

  /// - Parameter llmShare: how many processes share each LLM endpoint's limits.
  init(manifest: Manifest, llmShare: Int = 1) {
    cache = RunLLMCache(manifest: manifest)
    pool = LLMClientPool(cache: cache, limitShare: llmShare)
  }

  /// The services of one task, and its cache (for its ledger).
  func forTask(journal: String) -> (StageServices, TaskLLMCache) {
    let taskCache = TaskLLMCache(run: cache, journal: journal)
    var services = StageServices()
    services.register(pool.scoped(cache: taskCache), as: LLMClientPool.self)
    return (services, taskCache)
  }
}

/// The run's answers: those in the manifest, and those this process's tasks received and the
/// manifest does not have yet.
final class RunLLMCache: LLMCache {
  private let manifest: Manifest
  private let received = Mutex<[String: LLMCacheEntry]>([:])

  init(manifest: Manifest) {
    self.manifest = manifest
  }

  func lookup(key: String) throws -> CachedResponse? {
    if let entry = received.withLock({ $0[key] }) { return Self.response(entry) }
    return try manifest.llmCacheEntry(key: key).map(Self.response)
  }

  /// Stores directly (only for stores made outside any task).
  func store(key: String, response: CachedResponse) throws {
    let entry = Self.entry(key: key, response)
    remember(entry)
    try manifest.storeLLMCacheEntry(entry)
  }

  func remember(_ entry: LLMCacheEntry) {
    received.withLock { $0[entry.key] = entry }
  }

  static func response(_ entry: LLMCacheEntry) -> CachedResponse {
    CachedResponse(
      endpointName: entry.endpoint, model: entry.model, path: entry.path, requestBody: entry.request,
      responseBody: entry.response, promptTokens: entry.promptTokens, completionTokens: entry.completionTokens,
      latencySeconds: entry.latencySeconds)
  }

  static func entry(key: String, _ response: CachedResponse) -> LLMCacheEntry {
    LLMCacheEntry(
      key: key, endpoint: response.endpointName, model: response.model, path: response.path,
      request: response.requestBody, response: response.responseBody, promptTokens: response.promptTokens,
      completionTokens: response.completionTokens, latencySeconds: response.latencySeconds,
      createdAt: Date().timeIntervalSince1970)
  }
}

/// One task's cache: lookups go to the run's; each answer received is appended to the task's
/// journal at once (a line of JSON, so a kill loses nothing paid for) and kept for its ledger.
final class TaskLLMCache: LLMCache {
  private let run: RunLLMCache
  let journal: String
  private let state = Mutex<(entries: [LLMCacheEntry], fd: Int32)>(([], -1))

  init(run: RunLLMCache, journal: String) {
    self.run = run
    self.journal = journal
  }

  deinit {
    state.withLock { state in
      if state.fd >= 0 { close(state.fd) }
    }
  }

  func lookup(key: String) throws -> CachedResponse? {
    try run.lookup(key: key)
  }

  func store(key: String, response: CachedResponse) throws {
    let entry = RunLLMCache.entry(key: key, response)
    let line = TaskLedger.journalLine(entry)
    try state.withLock { state in
      if state.fd < 0 {
        try createDirectories((journal as NSString).deletingLastPathComponent)
        state.fd = open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard state.fd >= 0 else {
          throw PipeError(.io, "cannot open the LLM answer journal: \(String(cString: strerror(errno)))", file: journal)
        }
      }
      let fd = state.fd
      try line.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        var done = 0
        while done < raw.count {
          let n = write(fd, base + done, raw.count - done)
          if n < 0 {
            if errno == EINTR { continue }
            throw PipeError(
              .io, "cannot write the LLM answer journal: \(String(cString: strerror(errno)))", file: journal)
          }
          done += n
        }
      }
      state.entries.append(entry)
    }
    run.remember(entry)
  }

  /// The answers received so far.
  var entries: [LLMCacheEntry] { state.withLock { $0.entries } }

  /// Reads a journal a killed task left: every complete line (a last line cut short by the
  /// kill is ignored).
  static func read(journal: String) -> [LLMCacheEntry] {
    guard let data = FileManager.default.contents(atPath: journal) else { return [] }
    var entries: [LLMCacheEntry] = []
    for line in data.split(separator: 0x0A) {
      guard let object = (try? JSONValue.parse([UInt8](line)))?.objectValue,
        let entry = TaskLedger.decodeEntry(object)
      else { continue }
      entries.append(entry)
    }
    return entries
  }
}
