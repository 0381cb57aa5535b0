internal import Foundation
internal import PipeCore

extension Manifest {
  /// Records a stage of the current pipeline, inserting or updating its row.
  ///
  /// When the stage is new or its fingerprint changed, its old tasks and everything hanging off
  /// them (drop counts, provenance, artifacts) are deleted in the same transaction, so no task of
  /// an older version of the stage can be mistaken for a current one. When only the task count
  /// shrank, the tasks past the new count are deleted.
  ///
  /// - Parameters:
  ///   - id: the stage id.
  ///   - op: the op with its version.
  ///   - position: the stage's topological index.
  ///   - inputs: upstream stage ids or pipeline input names.
  ///   - configJSON: the canonical config.
  ///   - fingerprint: the stage fingerprint.
  ///   - taskCount: the number of tasks.
  /// - Returns: true when the stage is new or its fingerprint changed.
  @discardableResult
  public func recordStage(
    id: String, op: String, position: Int, inputs: [String], configJSON: String, fingerprint: String, taskCount: Int
  ) throws -> Bool {
    let inputsJSON = try Self.encodeList(inputs)
    return try write("cannot record stage '\(id)'") { db in
      let stored = try db.queryFirst("SELECT fingerprint FROM stages WHERE id = ?", [.text(id)]) { $0.text(0) }
      let changed = stored != fingerprint
      if changed {
        // Cascades to drop counts, provenance and artifacts through the foreign keys.
        try db.run("DELETE FROM tasks WHERE stage_id = ?", [.text(id)])
      } else {
        try db.run("DELETE FROM tasks WHERE stage_id = ? AND shard >= ?", [.text(id), .int(taskCount)])
      }
      // An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, and the cascade would
      // take the stage's tasks with it even when nothing changed.
      try db.run(
        """
        INSERT INTO stages (id, op, position, inputs, config_json, fingerprint, task_count)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET
          op = excluded.op, position = excluded.position, inputs = excluded.inputs,
          config_json = excluded.config_json, fingerprint = excluded.fingerprint, task_count = excluded.task_count
        """,
        [
          .text(id), .text(op), .int(position), .text(inputsJSON), .text(configJSON), .text(fingerprint),
          .int(taskCount),
        ])
      return changed
    }
  }

  /// Every recorded stage, in topological order.
  public func stages() throws -> [StageRow] {
    try withConnection("cannot read the stages") { db in
      try db.query(
        "SELECT id, op, position, inputs, config_json, fingerprint, task_count FROM stages ORDER BY position, id"
      ) { row in
        StageRow(
          id: row.text(0), op: row.text(1), position: row.int(2),
          inputs: try self.decodeList(row.text(3), stage: row.text(0)),
          configJSON: row.text(4), fingerprint: row.text(5), taskCount: row.int(6))
      }
    }
  }

  /// Deletes the stages that are no longer in the pipeline, with their tasks and everything
  /// hanging off them.
  ///
  /// - Parameter ids: the ids of the stages to keep.
  public func removeStages(notIn ids: [String]) throws {
    let keep = try Self.encodeList(ids)
    try write("cannot remove old stages") { db in
      // json_each binds any number of ids as one parameter.
      try db.run("DELETE FROM stages WHERE id NOT IN (SELECT value FROM json_each(?))", [.text(keep)])
    }
  }

  // MARK: - Lists as JSON

  /// A JSON array of strings: readable in the sqlite3 shell and usable with `json_each`.
  static func encodeList(_ list: [String]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return String(decoding: try encoder.encode(list), as: UTF8.self)
  }

  private func decodeList(_ text: String, stage: String) throws -> [String] {
    do {
      return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    } catch {
      throw PipeError(
        .manifest, "stage '\(stage)' has inputs that are not a JSON array of strings: \(text)", file: path)
    }
  }
}
