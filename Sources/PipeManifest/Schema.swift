/// The manifest schema as an ordered, append-only list of migrations.
///
/// `PRAGMA user_version` records the last migration applied. A migration that has shipped is never
/// edited: a change to the schema is a new migration at the end of the list (GRDB's
/// `DatabaseMigrator`), so every manifest ever written can be brought up to date. The tables and
/// columns are documented for users in `docs/manifest.md`; keep the two in step.
enum Schema {
  /// One step of the schema.
  struct Migration {
    /// The `user_version` after this migration; versions start at 1 and increase by 1.
    let version: Int
    /// The statements that make the change.
    let sql: String
  }

  /// Every migration, oldest first.
  static let migrations: [Migration] = [
    Migration(version: 1, sql: v1),
    Migration(version: 2, sql: v2),
    Migration(version: 3, sql: v3),
    Migration(version: 4, sql: v4),
    Migration(version: 5, sql: v5),
    Migration(version: 6, sql: v6),
    Migration(version: 7, sql: v7),
    Migration(version: 8, sql: v8),
  ]

  /// The version a fully migrated manifest has.
  static var latestVersion: Int { migrations.last?.version ?? 0 }

  /// Brings the database up to `latestVersion`, one transaction per migration.
  ///
  /// The version is read inside the write transaction, so two processes opening a new manifest
  /// at once cannot both apply the same migration.
  ///
  /// - Throws: `SchemaError.newer` when the file was written by a newer `pipe`.
  static func migrate(_ connection: Connection) throws {
    for migration in migrations {
      try connection.transaction {
        let current = try connection.userVersion()
        if current > latestVersion {
          throw SchemaError.newer(found: current, known: latestVersion)
        }
        guard current < migration.version else { return }
        if current == 0, try connection.queryFirst("SELECT count(*) FROM sqlite_schema", row: { $0.int(0) }) != 0 {
          // Someone else's database: adding our tables to it would be worse than stopping.
          throw SchemaError.notAManifest
        }
        try connection.execute(migration.sql)
        try connection.execute("PRAGMA user_version = \(migration.version)")
      }
    }
  }

  /// Checks a database opened read-only: it must be a manifest this build understands.
  static func validate(_ connection: Connection) throws {
    let version = try connection.userVersion()
    if version == 0 { throw SchemaError.notAManifest }
    if version > latestVersion { throw SchemaError.newer(found: version, known: latestVersion) }
    if version < latestVersion { throw SchemaError.older(found: version, known: latestVersion) }
  }

  // MARK: - v1

  /// Version 1: runs, stages, tasks, drop counts, provenance, artifacts, meta.
  ///
  /// Design choices that matter for speed and size (a run holds millions of provenance rows):
  /// - Per-task rows (`task_drop_counts`, `record_origins`, `record_verdicts`, `artifacts`) are
  ///   keyed by the integer `task_id` first and are `WITHOUT ROWID`, so a task's rows sit together
  ///   in the table's own b-tree: replacing them on retry is one range delete, and no second index
  ///   by task is needed. `ON DELETE CASCADE` removes them with their task, and tasks with their stage.
  /// - Source paths and drop reasons repeat on every row, so they are interned in `strings` and
  ///   stored as integers; record ids are mostly unique and are stored as they are.
  /// - `origins`, `verdicts` and `drop_counts` are views that join the ids back into readable text
  ///   for the `sqlite3` shell.
  static let v1 = """
    CREATE TABLE meta (
      key   TEXT NOT NULL PRIMARY KEY,
      value TEXT NOT NULL
    );

    CREATE TABLE runs (
      id            INTEGER PRIMARY KEY,
      pipeline_name TEXT NOT NULL,
      pipeline_path TEXT NOT NULL,
      pipeline_json TEXT NOT NULL,
      seed          TEXT NOT NULL,
      workers       INTEGER NOT NULL,
      command       TEXT NOT NULL,
      status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
      error         TEXT,
      started_at    REAL NOT NULL,
      finished_at   REAL
    );

    CREATE TABLE stages (
      id          TEXT NOT NULL PRIMARY KEY,
      op          TEXT NOT NULL,
      position    INTEGER NOT NULL,
      inputs      TEXT NOT NULL,
      config_json TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      task_count  INTEGER NOT NULL CHECK (task_count >= 0)
    );

    CREATE TABLE tasks (
      id               INTEGER PRIMARY KEY,
      stage_id         TEXT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
      shard            INTEGER NOT NULL CHECK (shard >= 0),
      input            TEXT NOT NULL,
      status           TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
      attempt          INTEGER NOT NULL DEFAULT 0,
      fingerprint      TEXT NOT NULL,
      run_id           INTEGER REFERENCES runs (id),
      started_at       REAL,
      finished_at      REAL,
      duration_seconds REAL,
      records_in       INTEGER NOT NULL DEFAULT 0,
      records_kept     INTEGER NOT NULL DEFAULT 0,
      records_dropped  INTEGER NOT NULL DEFAULT 0,
      records_emitted  INTEGER NOT NULL DEFAULT 0,
      bytes_in         INTEGER NOT NULL DEFAULT 0,
      output_path      TEXT,
      output_bytes     INTEGER NOT NULL DEFAULT 0,
      checksum         TEXT,
      rejects_path     TEXT,
      error            TEXT,
      error_file       TEXT,
      error_line       INTEGER,
      UNIQUE (stage_id, shard)
    );
    CREATE INDEX tasks_by_run ON tasks (run_id);

    CREATE TABLE strings (
      id    INTEGER PRIMARY KEY,
      value TEXT NOT NULL UNIQUE
    );

    CREATE TABLE task_drop_counts (
      task_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      reason  TEXT NOT NULL,
      count   INTEGER NOT NULL CHECK (count >= 0),
      PRIMARY KEY (task_id, reason)
    ) WITHOUT ROWID;

    CREATE TABLE record_origins (
      task_id   INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      seq       INTEGER NOT NULL,
      record_id TEXT NOT NULL,
      source_id INTEGER NOT NULL REFERENCES strings (id),
      line      INTEGER NOT NULL,
      PRIMARY KEY (task_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX record_origins_by_record ON record_origins (record_id);

    CREATE TABLE record_verdicts (
      task_id   INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      seq       INTEGER NOT NULL,
      record_id TEXT NOT NULL,
      kind      TEXT NOT NULL CHECK (kind IN ('kept', 'modified', 'dropped', 'emitted')),
      reason_id INTEGER REFERENCES strings (id),
      detail    TEXT,
      PRIMARY KEY (task_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX record_verdicts_by_record ON record_verdicts (record_id);

    CREATE TABLE artifacts (
      task_id  INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      name     TEXT NOT NULL,
      path     TEXT NOT NULL,
      bytes    INTEGER NOT NULL,
      checksum TEXT,
      shard    INTEGER,
      PRIMARY KEY (task_id, name)
    ) WITHOUT ROWID;

    CREATE VIEW origins AS
      SELECT o.record_id, t.stage_id AS stage, t.shard, s.value AS source_path, o.line
      FROM record_origins o
      JOIN tasks t ON t.id = o.task_id
      JOIN strings s ON s.id = o.source_id;

    CREATE VIEW verdicts AS
      SELECT v.record_id, t.stage_id AS stage, t.shard, v.kind, r.value AS reason, v.detail
      FROM record_verdicts v
      JOIN tasks t ON t.id = v.task_id
      LEFT JOIN strings r ON r.id = v.reason_id;

    CREATE VIEW drop_counts AS
      SELECT t.stage_id AS stage, d.reason, SUM(d.count) AS count
      FROM task_drop_counts d
      JOIN tasks t ON t.id = d.task_id
      GROUP BY t.stage_id, d.reason;
    """

  // MARK: - v2

  /// Version 2: named counters a stage adds to during a task (for example decontamination hits
  /// per benchmark), beside its drop counts; same keying as `task_drop_counts`.
  static let v2 = """
    CREATE TABLE task_counters (
      task_id INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      name    TEXT NOT NULL,
      value   INTEGER NOT NULL,
      PRIMARY KEY (task_id, name)
    ) WITHOUT ROWID;

    CREATE VIEW counters AS
      SELECT t.stage_id AS stage, c.name, SUM(c.value) AS value
      FROM task_counters c JOIN tasks t ON t.id = c.task_id
      GROUP BY t.stage_id, c.name;
    """

  // MARK: - v3

  /// Version 3: the mixture plan a planning task made, one row per group, tied to the task
  /// (replaced when it reruns); `mixture_plans` names the stage.
  static let v3 = """
    CREATE TABLE task_mixture_groups (
      task_id          INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      group_name       TEXT NOT NULL,
      records          INTEGER NOT NULL,
      tokens_available INTEGER NOT NULL,
      tokens_targeted  REAL NOT NULL,
      rate             REAL NOT NULL,
      share_before     REAL NOT NULL,
      share_after      REAL NOT NULL,
      PRIMARY KEY (task_id, group_name)
    ) WITHOUT ROWID;

    CREATE VIEW mixture_plans AS
      SELECT t.stage_id AS stage, g.group_name, g.records, g.tokens_available, g.tokens_targeted, g.rate,
        g.share_before, g.share_after
      FROM task_mixture_groups g JOIN tasks t ON t.id = g.task_id
      WHERE t.status = 'done';
    """

  // MARK: - v4

  /// Version 4: the LLM request cache. Keyed by a hash of the request (base URL, model,
  /// endpoint path, messages or prompt, sampling parameters, seed), so a resumed or repeated
  /// run never sends the same request twice. Not tied to tasks: a rerun stage reuses it.
  static let v4 = """
    CREATE TABLE llm_cache (
      key               TEXT PRIMARY KEY,
      endpoint          TEXT NOT NULL,
      model             TEXT NOT NULL,
      path              TEXT NOT NULL,
      request           TEXT NOT NULL,
      response          TEXT NOT NULL,
      prompt_tokens     INTEGER,
      completion_tokens INTEGER,
      latency_seconds   REAL NOT NULL,
      created_at        REAL NOT NULL
    ) WITHOUT ROWID;
    """

  // MARK: - v5

  /// Version 5: `record_verdicts` rebuilt with the same columns, keys and index, and its `kind`
  /// check spelled as comparisons instead of `IN (...)`.
  ///
  /// SQLite (3.40) evaluates a CHECK's `IN` list of constants by building a temporary b-tree for
  /// every row inserted: about 30,000 instructions a row, two thirds of what a verdict cost,
  /// zeroing two fresh pages each time. Comparisons are a few instructions. A CHECK cannot be
  /// changed in place, so the table is copied (SQLite's documented "make other kinds of table
  /// schema changes" procedure); the `verdicts` view names the table, so it is dropped first and
  /// made again after the rename.
  static let v5 = """
    DROP VIEW verdicts;

    CREATE TABLE record_verdicts_v5 (
      task_id   INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
      seq       INTEGER NOT NULL,
      record_id TEXT NOT NULL,
      kind      TEXT NOT NULL CHECK (kind = 'kept' OR kind = 'modified' OR kind = 'dropped' OR kind = 'emitted'),
      reason_id INTEGER REFERENCES strings (id),
      detail    TEXT,
      PRIMARY KEY (task_id, seq)
    ) WITHOUT ROWID;
    INSERT INTO record_verdicts_v5 (task_id, seq, record_id, kind, reason_id, detail)
      SELECT task_id, seq, record_id, kind, reason_id, detail FROM record_verdicts ORDER BY task_id, seq;
    DROP TABLE record_verdicts;
    ALTER TABLE record_verdicts_v5 RENAME TO record_verdicts;
    CREATE INDEX record_verdicts_by_record ON record_verdicts (record_id);

    CREATE VIEW verdicts AS
      SELECT v.record_id, t.stage_id AS stage, t.shard, v.kind, r.value AS reason, v.detail
      FROM record_verdicts v
      JOIN tasks t ON t.id = v.task_id
      LEFT JOIN strings r ON r.id = v.reason_id;
    """

  // MARK: - v6

  /// The `record_id` lookup indexes stop being kept up to date row by row: a run drops them
  /// while it writes and builds them in one sorted pass when it ends
  /// (`Manifest.buildRecordLookupIndexes`). Kept row by row (random ids into a b-tree) they
  /// cost 0.5 s of a 9.5 s Gopher + C4 run over 200,000 documents; building both afterwards
  /// from the same 400,000 rows took 0.1 s.
  static let v6 = """
    DROP INDEX IF EXISTS record_origins_by_record;
    DROP INDEX IF EXISTS record_verdicts_by_record;
    """

  // MARK: - v7

  /// `tasks.decide_seconds`: the part of a task's time spent in the stage's own decisions
  /// (`process` calls), apart from reading, parsing, writing and bookkeeping. It tells a slow
  /// stage from a slow disk, and is what compares with another tool's per-step timers.
  static let v7 = """
    ALTER TABLE tasks ADD COLUMN decide_seconds REAL;
    """
}

// MARK: - v8

extension Schema {
  /// Version 8, the open engine (fused record chains, task ledgers, `pipe verify`,
  /// `"keepIntermediates": false`):
  /// - `tasks.rejects_bytes` and `tasks.rejects_checksum`: what `pipe verify` checks the rejects
  ///   shard against (the output shard already had `output_bytes` and `checksum`);
  /// - `tasks.chain`: the task a row was done in: stages fused into one pass over a shard are
  ///   separate rows (own counts, rejects, provenance) of one task, named by its first row;
  /// - `tasks.kind`: what the row is: `records` (a stage's decisions on a shard), `collect` (a
  ///   pass over a shard for a global algorithm), `step` (a step over artifacts) or `export`;
  /// - `tasks.output_deleted_at` and `artifacts.deleted_at`: when an intermediate file was
  ///   deleted after its last reader finished, so a done task whose file is gone by design is
  ///   told apart from a damaged run directory.
  static let v8 = """
    ALTER TABLE tasks ADD COLUMN rejects_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN rejects_checksum TEXT;
    ALTER TABLE tasks ADD COLUMN chain TEXT;
    ALTER TABLE tasks ADD COLUMN kind TEXT;
    ALTER TABLE tasks ADD COLUMN output_deleted_at REAL;
    ALTER TABLE artifacts ADD COLUMN deleted_at REAL;
    """
}

/// Why a database is not a manifest this build can use.
enum SchemaError: Error, Sendable {
  /// `user_version` is 0: an empty or foreign SQLite file.
  case notAManifest
  /// Written by a newer `pipe` whose schema this build does not know.
  case newer(found: Int, known: Int)
  /// Older than this build's schema, seen by a read-only open, which cannot migrate.
  case older(found: Int, known: Int)

}
