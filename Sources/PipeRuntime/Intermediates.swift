import Foundation
import PipeCore
import PipeIO
import PipeManifest
import Synchronization

/// With `"keepIntermediates": false`, deletes each intermediate file once every task that
/// reads it is done: a materialized stage's kept records (read by the chain after a global
/// algorithm's steps, by a step that reads every record, by the export) and a global
/// algorithm's intermediate artifacts (keys, signatures, edges). Results (a stage nothing
/// reads), rejects and kept artifacts (clusters, plans, trained models) stay.
///
/// The manifest records each deletion before the file goes, so a done task whose file was
/// deleted on purpose is told apart from a damaged run directory, and a later run that needs
/// the file again recomputes it from the nearest data that was kept.
final class Intermediates: Sendable {
  private enum Files: Hashable {
    /// A record row's kept-records shard.
    case output(TaskKey)
    /// The intermediate artifacts of a stage's collect pass and steps.
    case artifacts(String)
  }

  private let plan: Plan
  private let manifest: Manifest
  private let state: Mutex<[Files: Set<TaskKey>]>

  /// Tracks the files of `plan`; `toRun` are the tasks this run will run (until they are
  /// done, what they read or write stays).
  init(plan: Plan, manifest: Manifest, toRun: Set<TaskKey>) {
    self.plan = plan
    self.manifest = manifest
    var pending: [Files: Set<TaskKey>] = [:]
    for (producer, readers) in plan.readers {
      var waiting = Set(readers).intersection(toRun)
      if let task = plan.rows[producer]?.task, toRun.contains(task) { waiting.insert(task) }
      pending[.output(producer)] = waiting
    }
    for (stage, readers) in plan.artifactReaders {
      var waiting = Set(readers).intersection(toRun)
      for row in plan.rows.values where row.stage?.id == stage && toRun.contains(row.task) {
        if case .collect = row.work { waiting.insert(row.task) }
        if case .step = row.work { waiting.insert(row.task) }
      }
      pending[.artifacts(stage)] = waiting
    }
    state = Mutex(pending)
  }

  /// Deletes what no task of this run needs any more (at the start of the run).
  func sweep() throws {
    let ready = state.withLock { pending in pending.filter { $0.value.isEmpty }.map(\.key) }
    for files in ready { try delete(files) }
  }

  /// `task` is done: deletes the files whose last reader it was.
  func finished(_ task: TaskKey) throws {
    let ready = state.withLock { pending -> [Files] in
      var found: [Files] = []
      for (files, waiting) in pending where waiting.contains(task) {
        var left = waiting
        left.remove(task)
        pending[files] = left
        if left.isEmpty { found.append(files) }
      }
      return found
    }
    for files in ready { try delete(files) }
  }

  private func delete(_ files: Files) throws {
    let now = Date().timeIntervalSince1970
    switch files {
    case .output(let key):
      guard let row = try manifest.task(stage: key.stage, shard: key.shard), row.status == .done,
        row.outputDeletedAt == nil, let path = row.outputPath
      else { return }
      try manifest.markOutputDeleted(stage: key.stage, shard: key.shard, at: now)
      try removeItemIfPresent(path)
    case .artifacts(let stage):
      guard let locations = plan.artifacts.locations[stage] else { return }
      var steps: [String: [String]] = [:]  // step -> intermediate artifact names
      for (name, location) in locations where location.spec.isIntermediate {
        steps[location.step, default: []].append(name)
      }
      for (step, names) in steps {
        for artifact in try manifest.artifacts(stage: step) where artifact.deletedAt == nil {
          let isIntermediate = names.contains { name in
            artifact.name == name || artifact.name == RunLayout.artifactFileName(name, index: artifact.shard)
          }
          guard isIntermediate else { continue }
          try manifest.markArtifactDeleted(path: artifact.path, at: now)
          try removeItemIfPresent(artifact.path)
        }
      }
    }
  }
}
