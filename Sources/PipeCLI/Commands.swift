import Foundation
import PipeCore
import PipeIO
import PipeManifest
import PipeRuntime
import PipeStages

/// The commands, their help texts and their implementations.
enum Commands {
  static let help: [String: String] = [
    "run": """
    usage: pipe run PIPELINE.json [--run-dir DIR] [--workers N] [--force STAGE]... [--set STAGE.KEY=VALUE]...
                    [--no-progress]

    Runs a pipeline. Tasks already done with the same fingerprint (op@version, config, seed,
    inputs) are skipped; a stage whose config changed reruns with everything downstream of it.
    Consecutive record stages run as one pass over each shard; a stage's kept records are
    written only when a later step reads them again (or with "materialize": true).

      --run-dir DIR   where outputs, rejects, artifacts and the manifest go (default: runs/NAME)
      --workers N     tasks run in parallel (default: the number of cores)
      --force STAGE   rerun STAGE and its downstream even if up to date (repeatable; "export"
                      forces the final export)
      --no-progress   no progress line on stderr (it is only drawn on a terminal anyway)
      --set STAGE.KEY=VALUE
                      sets a config key of a stage for this run (repeatable); KEY may be a
                      dotted path (judge.maxTokens), VALUE is JSON, or a string when it is not
                      JSON. The run keeps the edited pipeline, so `pipe resume` continues it
      --executor E    local (default) or slurm: submit the tasks as Slurm jobs and return
                      (see "Slurm" below)

    Slurm (--executor slurm): plans as above, then submits one job array per group of tasks
    (a fused pass over shards, a step), with Slurm dependencies between them, and a final
    collect job that merges the results into the manifest. The jobs run this same binary,
    which must be at the same path on the nodes, and the run directory must be on a shared
    filesystem. Scripts and logs go to RUN_DIR/slurm/.
      --wait              block until the collect job has ended; exit 0 or 1 as a local run
      --partition P       --time T       --mem M       passed to sbatch for every job
      --cpus-per-task N   passed to sbatch, and the workers each task may use
      --max-parallel N    at most N elements of each array at once (sbatch --array=...%N)
      --tasks-per-job N   each array element runs N tasks one after another (many small shards)
      --sbatch-arg ARG    any other sbatch option, as an #SBATCH line (repeatable)

    Ctrl-C (or SIGTERM) stops starting tasks, gives the running ones a few seconds to finish,
    marks the run interrupted and says how to resume; a second Ctrl-C stops at once.

    Exit codes: 0 ok, 1 a task failed (finish with `pipe resume DIR`), 2 bad input or usage,
    130 stopped by Ctrl-C, 143 stopped by SIGTERM.
    """,
    "resume": """
    usage: pipe resume RUN_DIR [--workers N] [--no-progress] [--executor slurm [SLURM OPTIONS]]

    Finishes a failed, killed or interrupted run with the pipeline text the run was started
    with. Done tasks are kept; unfinished ones restart from their input. The result is
    byte-identical to a run that was never interrupted. With --executor slurm, submits only
    the tasks that are not done (and their downstream) as Slurm jobs; the options are those
    of `pipe run`. Exit codes as for `pipe run`.
    """,
    "task": """
    usage: pipe task RUN_DIR STAGE (--index I | --indices I,J,...) --run-id N --pipeline FILE [--workers N]

    Runs task STAGE[I] of a run, as the job scripts of `--executor slurm` do: writes its files
    and its ledger into the run directory and does not write the manifest (the collect job
    merges the ledgers). With --indices, runs the tasks one after another. Running a task again
    rewrites the same bytes. --llm-share K gives each LLM endpoint 1/K of its
    maxConcurrentRequests and requestsPerMinute (K elements of the array run at once). Exit 1 when a task failed (why is in a .failed file beside its
    ledger, and in the job's log).
    """,
    "collect": """
    usage: pipe collect RUN_DIR --pipeline FILE

    The last job of a Slurm submission: merges the task ledgers into the manifest, records why
    each task that did not finish did not (failed, or its job was cancelled), cancels the
    submission's jobs still queued, checks that every count adds up and ends the run. Exit 0
    when the run succeeded, 1 otherwise.
    """,
    "verify": """
    usage: pipe verify RUN_DIR [--json]

    Re-hashes every file a done task wrote (kept records, rejects, artifacts) and the export
    against the checksums and sizes in the manifest, and lists what differs or is missing.
    Those tasks are marked failed, so the next `pipe run` or `pipe resume` redoes exactly them
    and what reads their outputs. Files deleted on purpose (keepIntermediates: false) are not
    missing. (`pipe run` by itself notices a missing or resized file, without hashing.)

    Exit codes: 0 every file matches, 1 something differs or is missing, 2 bad usage or a run
    directory in use.
    """,
    "inspect": """
    usage: pipe inspect RUN_DIR [--stage STAGE] [--json]

    Shows one row per stage: status, tasks done/total, records in/kept/dropped, top drop
    reasons, time and throughput; then failed tasks with their errors. DECIDING is the part of
    the time spent in the stage's own decisions (the rest is reading, parsing and writing).
    Works while a run is in progress. --json prints the same as one JSON document; --stage
    lists that stage's tasks.
    """,
    "why": """
    usage: pipe why RUN_DIR RECORD_ID [--json]

    Shows where a record came from (source shard and line) and every stage's verdict on it:
    kept, modified, or dropped with the reason (for a duplicate, the id of the record kept).
    """,
    "validate": """
    usage: pipe validate PIPELINE.json

    Checks a pipeline file without running it and reports every problem with its JSON path:
    unknown keys, wrong types, out-of-range values, unknown ops, dangling inputs, cycles,
    duplicate ids, globs that match nothing. Exit 0 when valid, 2 otherwise.
    """,
    "cat": """
    usage: pipe cat SHARD [--limit N] [--text-column NAME] [--id-column NAME]
           pipe cat RUN_DIR STAGE [--rejects] [--limit N]

    Prints records as JSON lines: those of one shard (.jsonl, .jsonl.zst, or .parquet: one
    record per row, the text and id columns named by --text-column and --id-column, default
    "text" and "id", the other columns in metadata), or the output of
    a stage of a run in shard order (with --rejects, its dropped records). A stage whose
    records went straight on to the next stage in the same pass was not written; cat says so
    and how to get it ("materialize": true on the stage).
    """,
    "ops": """
    usage: pipe ops [--json]

    Lists every op with its version, a one-line description and its config keys with types,
    defaults and documentation.
    """,
    "tokenize": Tokenize.help,
  ]

  static func dispatch(_ command: String, _ arguments: [String]) throws -> CLI.ExitCode {
    switch command {
    case "run": return try run(arguments)
    case "resume": return try resume(arguments)
    case "inspect": return try Inspect.run(arguments)
    case "why": return try Why.run(arguments)
    case "validate": return try validate(arguments)
    case "verify": return try Verify.run(arguments)
    case "cat": return try cat(arguments)
    case "ops": return try ops(arguments)
    case "tokenize": return try Tokenize.run(arguments)
    case "task": return try SlurmCLI.task(arguments)
    case "collect": return try SlurmCLI.collect(arguments)
    default: throw PipeError(.usage, "unknown command \(command)")
    }
  }

  // MARK: - Loading pipelines

  /// Reads a pipeline file, applies `--set` settings to it, and validates the result once.
  static func loadPipeline(path: String, settings: [String] = []) throws -> (spec: PipelineSpec, text: String) {
    guard let data = FileManager.default.contents(atPath: path) else {
      let exists = FileManager.default.fileExists(atPath: path)
      throw PipeError(.input, exists ? "cannot read the pipeline file" : "no such pipeline file", file: path)
    }
    var text = String(decoding: data, as: UTF8.self)
    if !settings.isEmpty { text = try applySettings(settings, to: text, path: path) }
    return (try validatePipeline(text: text, bytes: Array(text.utf8), path: path), text)
  }

  static func validatePipeline(text: String, bytes: [UInt8], path: String) throws -> PipelineSpec {
    let document: JSONValue
    do {
      document = try JSONValue.parse(bytes)
    } catch {
      throw PipeError(.config, "invalid JSON at \(error.description)", file: path, line: error.line)
    }
    let absolute = RunLayout.absolute(path)
    let base = (absolute as NSString).deletingLastPathComponent
    return try PipelineLoader.validate(
      document, file: path, baseDirectory: base, registry: Ops.registry,
      expandGlob: { pattern, base in try Glob.expand(pattern, relativeTo: base) })
  }

  /// The pipeline text with `--set STAGE.KEY=VALUE` settings applied to the stages' configs.
  ///
  /// - Throws: `PipeError(.usage)` naming the setting that has no `=`, no key, or an unknown stage.
  static func applySettings(_ settings: [String], to text: String, path: String) throws -> String {
    guard var document = (try? JSONValue.parse(Array(text.utf8)))?.objectValue,
      var stages = document["stages"]?.arrayValue
    else {
      // The file's own problems first (invalid JSON at a line, say), as without --set.
      _ = try validatePipeline(text: text, bytes: Array(text.utf8), path: path)
      throw PipeError(.config, "expected an object with a \"stages\" array", file: path)
    }
    for setting in settings {
      guard let equals = setting.firstIndex(of: "=") else {
        throw PipeError(.usage, "--set \(setting): expected STAGE.KEY=VALUE")
      }
      let keyPath = setting[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
      let rawValue = String(setting[setting.index(after: equals)...])
      guard keyPath.count >= 2, !keyPath.contains(where: \.isEmpty) else {
        throw PipeError(.usage, "--set \(setting): expected STAGE.KEY=VALUE (a stage id, then a config key)")
      }
      let ids = stages.compactMap { $0.objectValue?["id"]?.stringValue }
      guard let index = stages.firstIndex(where: { $0.objectValue?["id"]?.stringValue == keyPath[0] }),
        var stage = stages[index].objectValue
      else {
        throw PipeError(
          .usage, "--set \(setting): no stage \"\(keyPath[0])\" in \(path) (stages: \(ids.joined(separator: ", ")))")
      }
      // A value that is not JSON is a string, so `--set s.field=label` needs no quotes.
      let value = (try? JSONValue.parse(Array(rawValue.utf8))) ?? .string(rawValue)
      func set(_ keys: ArraySlice<String>, in object: JSONObject) -> JSONObject {
        var object = object
        guard let key = keys.first else { return object }
        if keys.count == 1 {
          object[key] = value
        } else {
          object[key] = .object(set(keys.dropFirst(), in: object[key]?.objectValue ?? JSONObject()))
        }
        return object
      }
      stage["config"] = .object(set(keyPath.dropFirst(), in: stage["config"]?.objectValue ?? JSONObject()))
      stages[index] = .object(stage)
    }
    document["stages"] = .array(stages)
    return JSONValue.object(document).jsonText + "\n"
  }

  // MARK: - run / resume

  static func run(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(
      arguments, options: SlurmCLI.options.union(["--run-dir", "--workers", "--force", "--set"]),
      flags: SlurmCLI.flags.union(["--no-progress"]), command: "run")
    try parsed.expectPositionals(
      1...1, usage: "pipe run PIPELINE.json [--run-dir DIR] [--workers N] [--force STAGE] [--set STAGE.KEY=VALUE]")
    let path = parsed.positionals[0]
    let (spec, text) = try loadPipeline(path: path, settings: parsed.values("--set"))
    for stage in parsed.values("--force") where spec.stage(stage) == nil && stage != "export" {
      throw PipeError(.usage, "--force \(stage): no such stage in \(path)")
    }
    let runDirectory = parsed.value("--run-dir") ?? "runs/\(spec.name)"
    let workers = try parsed.int("--workers", range: 1...1024) ?? ProcessInfo.processInfo.activeProcessorCount
    let request = RunRequest(
      spec: spec, pipelinePath: RunLayout.absolute(path), pipelineText: text, runDirectory: runDirectory,
      workers: workers, forcedStages: Set(parsed.values("--force")), command: "run",
      showProgress: showsProgress(parsed), handlesInterrupts: true)
    if let slurm = try SlurmCLI.options(parsed) { return try SlurmCLI.submit(request, options: slurm) }
    return try execute(request)
  }

  static func resume(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(
      arguments, options: SlurmCLI.options.union(["--workers"]), flags: SlurmCLI.flags.union(["--no-progress"]),
      command: "resume")
    try parsed.expectPositionals(1...1, usage: "pipe resume RUN_DIR [--workers N]")
    let layout = RunLayout(root: parsed.positionals[0])
    guard FileManager.default.fileExists(atPath: layout.manifestPath) else {
      throw PipeError(.input, "no manifest here: is this a run directory made by `pipe run`?", file: layout.root)
    }
    let (pipelinePath, text): (String, String)
    do {
      // Read-write, so that a manifest from an older pipe is upgraded here: the read-only
      // commands refuse such a manifest and send the user to `pipe resume`. Opening changes
      // nothing else; a run still going on in the directory is refused below by its lock.
      let manifest = try Manifest(path: layout.manifestPath)
      defer { try? manifest.close() }
      guard let run = try manifest.latestRun() else {
        throw PipeError(.input, "the manifest records no run to resume", file: layout.manifestPath)
      }
      (pipelinePath, text) = (run.pipelinePath, run.pipelineJSON)
    }
    let spec = try validatePipeline(text: text, bytes: Array(text.utf8), path: pipelinePath)
    let workers = try parsed.int("--workers", range: 1...1024) ?? ProcessInfo.processInfo.activeProcessorCount
    let request = RunRequest(
      spec: spec, pipelinePath: pipelinePath, pipelineText: text, runDirectory: layout.root, workers: workers,
      command: "resume", showProgress: showsProgress(parsed), handlesInterrupts: true)
    if let slurm = try SlurmCLI.options(parsed) { return try SlurmCLI.submit(request, options: slurm) }
    return try execute(request)
  }

  static func showsProgress(_ parsed: Arguments) -> Bool {
    !parsed.flags.contains("--no-progress") && isatty(STDERR_FILENO) == 1
  }

  static func execute(_ request: RunRequest) throws -> CLI.ExitCode {
    let outcome = try Executor.run(request)
    let summary = try Inspect.summaryLines(runDirectory: outcome.runDirectory)
    var text = ""
    if let signal = outcome.interruptedBy {
      text += "pipe: run of \(request.spec.name) interrupted by \(Executor.signalName(signal)) after "
      text += "\(format(outcome.seconds)): \(outcome.tasksRun) task(s) done in this run, "
      text += "\(outcome.notRun.count) not finished (they run on resume)\n"
      text += summary.joined(separator: "\n") + "\n"
      text += "finish with: pipe resume \(outcome.runDirectory)\n"
      CLI.printError(String(text.dropLast()))
      return signal == SIGTERM ? .terminated : .interrupted
    }
    if outcome.succeeded {
      text += "pipe: run of \(request.spec.name) done in \(format(outcome.seconds)): "
      text += "\(outcome.tasksRun) task(s) run, \(outcome.tasksSkipped) up to date"
      if !outcome.regenerated.isEmpty {
        text += " (\(outcome.regenerated.count) of them to recompute intermediates deleted after use)"
      }
      text += "\n"
    } else {
      text += "pipe: run of \(request.spec.name) FAILED after \(format(outcome.seconds)): "
      text += "\(outcome.failures.count) task(s) failed, \(outcome.blocked.count) not run because of them\n"
    }
    text += summary.joined(separator: "\n") + "\n"
    for failure in outcome.failures {
      text += "failed: \(failure.task): \(failure.error)\n"
    }
    if !outcome.succeeded {
      text += "fix the cause, then finish with: pipe resume \(outcome.runDirectory)\n"
    }
    text += "run directory: \(outcome.runDirectory)\n"
    if let folder = outcome.outputFolder, outcome.succeeded {
      text += "output: \(folder) (\(outcome.outputRecords ?? 0) records; list in \(folder)/manifest.json)\n"
    }
    if outcome.succeeded {
      print(text, terminator: "")
    } else {
      CLI.printError(String(text.dropLast()))
    }
    return outcome.succeeded ? .success : .failure
  }

  static func format(_ seconds: Double) -> String {
    seconds < 10 ? String(format: "%.2fs", seconds) : String(format: "%.0fs", seconds)
  }

  // MARK: - validate

  static func validate(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(arguments, options: [], flags: [], command: "validate")
    try parsed.expectPositionals(1...1, usage: "pipe validate PIPELINE.json")
    let (spec, _) = try loadPipeline(path: parsed.positionals[0])
    let files = spec.inputs.reduce(0) { $0 + $1.files.count }
    print(
      "\(parsed.positionals[0]): valid: pipeline \(spec.name), \(spec.inputs.count) input(s) with \(files) shard(s), "
        + "\(spec.stages.count) stage(s): "
        + spec.stages.map { "\($0.id) (\($0.op.qualifiedName))" }.joined(separator: ", "))
    return .success
  }

  // MARK: - cat

  static func cat(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(
      arguments, options: ["--limit", "--text-column", "--id-column"], flags: ["--rejects"], command: "cat")
    let columns = ParquetColumns(
      text: parsed.value("--text-column") ?? "text", id: parsed.value("--id-column") ?? "id")
    try parsed.expectPositionals(1...2, usage: "pipe cat SHARD | pipe cat RUN_DIR STAGE [--rejects] [--limit N]")
    let limit = try parsed.int("--limit", range: 0...Int.max) ?? Int.max
    var files: [String] = []
    if parsed.positionals.count == 1 {
      files = [parsed.positionals[0]]
    } else {
      let layout = RunLayout(root: parsed.positionals[0])
      let stage = parsed.positionals[1]
      let manifest = try Manifest.openReadOnly(path: layout.manifestPath)
      defer { try? manifest.close() }
      guard try manifest.stages().contains(where: { $0.id == stage }) else {
        let known = try manifest.stages().map(\.id).filter { !$0.contains(":") }
        throw PipeError(.usage, "no stage \"\(stage)\" in this run (stages: \(known.joined(separator: ", ")))")
      }
      let tasks = try manifest.tasks(stage: stage).filter { $0.status == .done }
      if !parsed.flags.contains("--rejects") {
        try explainUnwritten(stage: stage, tasks: tasks, manifest: manifest, runDirectory: layout.root)
      }
      for task in tasks {
        let path = parsed.flags.contains("--rejects") ? task.rejectsPath : task.outputPath
        if let path { files.append(path) }
      }
    }
    var printed = 0
    let output = FileHandle.standardOutput
    var buffer: [UInt8] = []
    for file in files where printed < limit {
      let reader = try ShardReader(path: file, columns: columns)
      while printed < limit, let line = try reader.next() {
        if line.bytes.isEmpty { continue }
        buffer.append(contentsOf: line.bytes)
        buffer.append(0x0A)
        printed += 1
        if buffer.count > 1 << 20 {
          output.write(Data(buffer))
          buffer.removeAll(keepingCapacity: true)
        }
      }
    }
    output.write(Data(buffer))
    return .success
  }

  // MARK: - ops

  static func ops(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(arguments, options: [], flags: ["--json"], command: "ops")
    try parsed.expectPositionals(0...0, usage: "pipe ops [--json]")
    if parsed.flags.contains("--json") {
      let list: [JSONValue] = Ops.registry.ops.map { op in
        .object([
          "op": .string(op.qualifiedName), "summary": .string(op.summary),
          "config": .array(
            op.keys.map { key in
              .object([
                "key": .string(key.name), "type": .string(key.type.description),
                "default": key.defaultValue ?? .null, "required": .bool(key.defaultValue == nil),
                "doc": .string(key.doc),
              ])
            }),
        ])
      }
      print(JSONValue.array(list).jsonText)
      return .success
    }
    var text = ""
    for op in Ops.registry.ops {
      text += "\(op.qualifiedName)\n    \(op.summary)\n"
      for key in op.keys {
        let value = key.defaultValue.map { "default \($0.jsonText)" } ?? "required"
        text += "    \(key.name): \(key.type.description), \(value)\n        \(key.doc)\n"
      }
      text += "\n"
    }
    text += "export@1 (the pipeline's \"output\": from, path, targetShardBytes, compressionLevel)\n"
    text += "    reshards a stage's output by size and writes manifest.json with counts and SHA-256\n"
    text += "\nLLM endpoints: maxConcurrentRequests and requestsPerMinute are limits for the whole run. With\n"
    text += "--executor slurm, each array element that may run at the same time as the others of its job\n"
    text += "gets an equal share (at least one request in flight); stages whose state chains from shard to\n"
    text += "shard (Star-Agents) and training run as one job, with the whole limits.\n"
    print(text, terminator: "")
    return .success
  }
}

extension Commands {
  /// Throws a usage error that says why a stage's records are not on disk and how to get
  /// them, when they are not.
  static func explainUnwritten(stage: String, tasks: [TaskRow], manifest: Manifest, runDirectory: String) throws {
    let pipeline = (try? manifest.latestRun()?.pipelinePath) ?? "the pipeline file"
    guard !tasks.isEmpty else { return }
    if tasks.allSatisfy({ $0.kind != nil && $0.kind != "records" }) {
      let owner = stage.split(separator: ":").first.map(String.init) ?? stage
      throw PipeError(
        .usage,
        "\(stage) is a step of stage \(owner): it writes artifacts (\(runDirectory)/artifacts/), not records; "
          + "`pipe cat \(runDirectory) \(owner)` prints the records of \(owner)")
    }
    let deleted = tasks.filter { $0.outputDeletedAt != nil }
    if !deleted.isEmpty {
      throw PipeError(
        .usage,
        "the records of stage \(stage) were deleted after the last step that read them was done "
          + "(\"keepIntermediates\": false; \(deleted.count) of \(tasks.count) shard(s)); to keep them, set "
          + "\"keepIntermediates\": true or add \"materialize\": true to stage \(stage) in \(pipeline) "
          + "and run it again")
    }
    let unwritten = tasks.filter { $0.kind == "records" && $0.outputPath == nil }
    if !unwritten.isEmpty {
      let pass = unwritten.first?.chain.map { " (in the pass of \($0))" } ?? ""
      throw PipeError(
        .usage,
        "stage \(stage) was not written to disk: its records went straight on to the next stage in the same "
          + "pass over each shard\(pass); its counts and rejects are in the run (`pipe cat \(runDirectory) \(stage) "
          + "--rejects`). To keep its records, add \"materialize\": true to stage \(stage) in \(pipeline) and run "
          + "it again")
    }
  }
}
