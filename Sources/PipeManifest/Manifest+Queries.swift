public import PipeCore

extension Manifest {
  /// Dropped records summed per stage and reason, ordered by stage position, then count
  /// (largest first), then reason.
  ///
  /// - Parameter stage: only this stage's counts, when given.
  public func dropCounts(stage: String? = nil) throws -> [DropCount] {
    try withConnection("cannot read the drop counts") { db in
      let filter = stage == nil ? "" : "WHERE t.stage_id = ?"
      return try db.query(
        """
        SELECT t.stage_id, d.reason, SUM(d.count) AS total
        FROM task_drop_counts d
        JOIN tasks t ON t.id = d.task_id
        JOIN stages s ON s.id = t.stage_id
        \(filter)
        GROUP BY t.stage_id, d.reason
        ORDER BY MIN(s.position), t.stage_id, total DESC, d.reason
        """,
        stage.map { [.text($0)] } ?? []
      ) { DropCount(stage: $0.text(0), reason: $0.text(1), count: $0.int(2)) }
    }
  }

  /// Stage counters summed per (stage, name), ordered by stage position then name.
  public func counters(stage: String? = nil) throws -> [StageCounter] {
    try withConnection("cannot read the stage counters") { db in
      let filter = stage == nil ? "" : "WHERE t.stage_id = ?"
      return try db.query(
        """
        SELECT t.stage_id, c.name, SUM(c.value)
        FROM task_counters c
        JOIN tasks t ON t.id = c.task_id
        JOIN stages s ON s.id = t.stage_id
        \(filter)
        GROUP BY t.stage_id, c.name
        ORDER BY MIN(s.position), t.stage_id, c.name
        """,
        stage.map { [.text($0)] } ?? []
      ) { StageCounter(stage: $0.text(0), name: $0.text(1), value: $0.int(2)) }
    }
  }

  /// The mixture plans of done planning tasks, by stage in pipeline order, groups by name.
  public func mixturePlans() throws -> [(stage: String, groups: [PlannedGroup])] {
    let rows = try withConnection("cannot read the mixture plans") { db in
      try db.query(
        """
        SELECT t.stage_id, g.group_name, g.records, g.tokens_available, g.tokens_targeted, g.rate, g.share_before,
          g.share_after
        FROM task_mixture_groups g
        JOIN tasks t ON t.id = g.task_id
        JOIN stages s ON s.id = t.stage_id
        WHERE t.status = 'done'
        ORDER BY s.position, t.stage_id, g.group_name
        """
      ) { row in
        (
          row.text(0),
          PlannedGroup(
            name: row.text(1), records: row.int(2), tokensAvailable: row.int(3), tokensTargeted: row.double(4),
            rate: row.double(5), shareBefore: row.double(6), shareAfter: row.double(7))
        )
      }
    }
    var plans: [(stage: String, groups: [PlannedGroup])] = []
    for (stage, group) in rows {
      if plans.last?.stage == stage {
        plans[plans.count - 1].groups.append(group)
      } else {
        plans.append((stage, [group]))
      }
    }
    return plans
  }

  /// Where a record came from and what every stage decided about it, in pipeline order.
  ///
  /// Both lookups go through the indexes on `record_id`, which every run builds when it ends,
  /// so the cost does not grow with the size of the run; a manifest left by a killed run has
  /// no indexes until the next run ends, and the lookups scan.
  ///
  /// - Parameter recordID: the record's id.
  /// - Returns: an empty history when the manifest knows nothing about the id.
  public func provenance(recordID: String) throws -> RecordHistory {
    try withConnection("cannot read the provenance of record '\(recordID)'") { db in
      let origins = try db.query(
        """
        SELECT t.stage_id, t.shard, src.value, o.line
        FROM record_origins o
        JOIN tasks t ON t.id = o.task_id
        JOIN stages s ON s.id = t.stage_id
        JOIN strings src ON src.id = o.source_id
        WHERE o.record_id = ?
        ORDER BY s.position, t.stage_id, t.shard, o.seq
        """,
        [.text(recordID)]
      ) { RecordHistory.Origin(stage: $0.text(0), shard: $0.int(1), sourcePath: $0.text(2), line: $0.int(3)) }
      let verdicts = try db.query(
        """
        SELECT t.stage_id, t.shard, v.kind, r.value, v.detail
        FROM record_verdicts v
        JOIN tasks t ON t.id = v.task_id
        JOIN stages s ON s.id = t.stage_id
        LEFT JOIN strings r ON r.id = v.reason_id
        WHERE v.record_id = ?
        ORDER BY s.position, t.stage_id, t.shard, v.seq
        """,
        [.text(recordID)]
      ) { row in
        RecordHistory.Verdict(
          stage: row.text(0), shard: row.int(1),
          kind: try self.decode(VerdictKind.self, row.text(2), in: "record_verdicts"),
          reason: row.optionalText(3), detail: row.optionalText(4))
      }
      return RecordHistory(origins: origins, verdicts: verdicts)
    }
  }

  /// The artifacts of a stage's done tasks, by shard, then name.
  public func artifacts(stage: String) throws -> [ArtifactRow] {
    try withConnection("cannot read the artifacts of stage '\(stage)'") { db in
      try db.query(
        """
        SELECT a.name, a.path, a.bytes, a.checksum, a.shard, a.deleted_at
        FROM artifacts a JOIN tasks t ON t.id = a.task_id
        WHERE t.stage_id = ?
        ORDER BY t.shard, a.name
        """,
        [.text(stage)]
      ) {
        ArtifactRow(
          name: $0.text(0), path: $0.text(1), bytes: $0.int(2), checksum: $0.optionalText(3), shard: $0.optionalInt(4),
          deletedAt: $0.optionalDouble(5))
      }
    }
  }

  /// The artifacts of one task, by name.
  public func artifacts(stage: String, shard: Int) throws -> [ArtifactRow] {
    try withConnection("cannot read the artifacts of task \(stage)[\(shard)]") { db in
      try db.query(
        """
        SELECT a.name, a.path, a.bytes, a.checksum, a.shard, a.deleted_at
        FROM artifacts a JOIN tasks t ON t.id = a.task_id
        WHERE t.stage_id = ? AND t.shard = ?
        ORDER BY a.name
        """,
        [.text(stage), .int(shard)]
      ) {
        ArtifactRow(
          name: $0.text(0), path: $0.text(1), bytes: $0.int(2), checksum: $0.optionalText(3), shard: $0.optionalInt(4),
          deletedAt: $0.optionalDouble(5))
      }
    }
  }

  /// Every artifact of every task, by the task's stage and shard.
  public func allArtifacts() throws -> [(stage: String, shard: Int, artifact: ArtifactRow)] {
    try withConnection("cannot read the artifacts") { db in
      try db.query(
        """
        SELECT t.stage_id, t.shard, a.name, a.path, a.bytes, a.checksum, a.shard, a.deleted_at
        FROM artifacts a JOIN tasks t ON t.id = a.task_id
        ORDER BY t.stage_id, t.shard, a.name
        """
      ) {
        (
          $0.text(0), $0.int(1),
          ArtifactRow(
            name: $0.text(2), path: $0.text(3), bytes: $0.int(4), checksum: $0.optionalText(5),
            shard: $0.optionalInt(6), deletedAt: $0.optionalDouble(7))
        )
      }
    }
  }
}
