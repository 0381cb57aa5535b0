import Foundation
import PipeCore
import PipeIO
import PipeRuntime

/// `--executor slurm` on `pipe run` and `pipe resume`, and the two commands its job scripts
/// run: `pipe task` (one array element) and `pipe collect` (the last job).
enum SlurmCLI {
  /// Options that take a value.
  static let options: Set<String> = [
    "--executor", "--partition", "--max-parallel", "--time", "--mem", "--cpus-per-task", "--sbatch-arg",
    "--tasks-per-job",
  ]
  /// Flags.
  static let flags: Set<String> = ["--wait"]

  /// The Slurm options of a `run` or `resume`, or nil for the local executor.
  static func options(_ parsed: Arguments) throws -> SlurmOptions? {
    let executor = parsed.value("--executor") ?? "local"
    guard executor == "slurm" else {
      guard executor == "local" else {
        throw PipeError(.usage, "--executor \(executor): unknown executor (local or slurm)")
      }
      let given =
        options.subtracting(["--executor"]).filter { parsed.options[$0] != nil }.sorted()
        + (parsed.flags.contains("--wait") ? ["--wait"] : [])
      if let first = given.first {
        throw PipeError(.usage, "\(first) is an option of the Slurm executor: add --executor slurm")
      }
      return nil
    }
    return SlurmOptions(
      partition: parsed.value("--partition"), maxParallel: try parsed.int("--max-parallel", range: 1...1_000_000),
      time: parsed.value("--time"), memory: parsed.value("--mem"),
      cpusPerTask: try parsed.int("--cpus-per-task", range: 1...4096),
      tasksPerJob: try parsed.int("--tasks-per-job", range: 1...1_000_000) ?? 1,
      sbatchArguments: parsed.values("--sbatch-arg"),
      wait: parsed.flags.contains("--wait"), binary: try currentBinary())
  }

  /// This process's executable, as an absolute path the job scripts can run.
  static func currentBinary() throws -> String {
    var buffer = [CChar](repeating: 0, count: 4097)
    let count = readlink("/proc/self/exe", &buffer, 4096)
    guard count > 0 else {
      throw PipeError(
        .io, "cannot find the path of the pipe binary (/proc/self/exe): \(String(cString: strerror(errno)))")
    }
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Submits `request` and reports what was submitted (and, with `--wait`, how it ended).
  static func submit(_ request: RunRequest, options: SlurmOptions) throws -> CLI.ExitCode {
    let outcome = try SlurmExecutor.submit(request, options: options)
    let name = request.spec.name
    guard let collector = outcome.collector else {
      print("pipe: run of \(name): nothing to submit, \(outcome.tasksSkipped) task(s) up to date")
      return .success
    }
    var text = "pipe: submitted run of \(name) to Slurm (submission \(outcome.round)): "
    text += "\(outcome.tasksSubmitted) task(s), \(outcome.tasksSkipped) up to date\n"
    for line in outcome.jobLines { text += "  job \(line)\n" }
    text += "job scripts: \(outcome.scriptFolder)\nlogs: \(outcome.logFolder)\n"
    guard options.wait else {
      text += "follow with: squeue -j \(outcome.jobIDs.joined(separator: ",")); pipe inspect \(request.runDirectory)\n"
      text += "the run ends when job \(collector) (collect) has merged the results\n"
      print(text, terminator: "")
      return .success
    }
    FileHandle.standardError.write(Data(text.utf8))
    let summary = try Inspect.summaryLines(runDirectory: request.runDirectory)
    var report = ""
    let succeeded = outcome.finalStatus == "succeeded"
    if succeeded {
      report += "pipe: run of \(name) done on Slurm: \(outcome.tasksSubmitted) task(s) run, "
      report += "\(outcome.tasksSkipped) up to date\n"
    } else {
      report += "pipe: run of \(name) on Slurm FAILED (\(outcome.finalStatus ?? "no result")): "
      report += "\(outcome.finalError ?? "the collect job ended without recording the end of the run; see its log")\n"
    }
    report += summary.joined(separator: "\n") + "\n"
    if !succeeded {
      report += "fix the cause, then finish with: pipe resume \(request.runDirectory) --executor slurm\n"
    }
    report += "run directory: \(request.runDirectory)\n"
    if succeeded {
      print(report, terminator: "")
    } else {
      CLI.printError(String(report.dropLast()))
    }
    return succeeded ? .success : .failure
  }

  /// Loads the pipeline a run directory was started with (its saved copy), validated against
  /// the original file's folder so that relative input paths resolve as they did.
  private static func savedPipeline(_ runDirectory: String, pipelinePath: String) throws -> PipelineSpec {
    let layout = RunLayout(root: runDirectory)
    guard let data = FileManager.default.contents(atPath: layout.pipelineCopyPath) else {
      throw PipeError(.input, "no pipeline.json in the run directory: is it a run directory?", file: layout.root)
    }
    return try Commands.validatePipeline(
      text: String(decoding: data, as: UTF8.self), bytes: [UInt8](data), path: pipelinePath)
  }

  /// `pipe task RUN_DIR STAGE --index I --run-id N --pipeline FILE`.
  static func task(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(
      arguments, options: ["--index", "--indices", "--run-id", "--pipeline", "--workers", "--llm-share"], flags: [],
      command: "task")
    let usage = "pipe task RUN_DIR STAGE (--index I | --indices I,J,...) --run-id N --pipeline FILE"
    try parsed.expectPositionals(2...2, usage: usage)
    guard let pipelinePath = parsed.value("--pipeline"), let runID = parsed.value("--run-id").flatMap({ Int64($0) })
    else { throw PipeError(.usage, "usage: \(usage)") }
    var indices: [Int] = []
    if let index = try parsed.int("--index", range: 0...Int(Int32.max)) { indices.append(index) }
    for item in (parsed.value("--indices") ?? "").split(separator: ",") {
      guard let index = Int(item), index >= 0 else {
        throw PipeError(.usage, "--indices expects task indices separated by commas, got \"\(item)\"")
      }
      indices.append(index)
    }
    guard !indices.isEmpty else { throw PipeError(.usage, "usage: \(usage)") }
    let spec = try savedPipeline(parsed.positionals[0], pipelinePath: pipelinePath)
    let workers = try parsed.int("--workers", range: 1...1024) ?? 1
    let failures = try SlurmExecutor.runTasks(
      spec: spec, runDirectory: parsed.positionals[0], runID: runID, stage: parsed.positionals[1], indices: indices,
      workers: workers, llmShare: try parsed.int("--llm-share", range: 1...1_000_000) ?? 1)
    for failure in failures { CLI.printError("pipe task: \(failure.task) failed: \(failure.error)") }
    if failures.isEmpty { print("pipe task: \(indices.count) task(s) of \(parsed.positionals[1]) done") }
    return failures.isEmpty ? .success : .failure
  }

  /// `pipe collect RUN_DIR --pipeline FILE`.
  static func collect(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(arguments, options: ["--pipeline"], flags: [], command: "collect")
    try parsed.expectPositionals(1...1, usage: "pipe collect RUN_DIR --pipeline FILE")
    guard let pipelinePath = parsed.value("--pipeline") else {
      throw PipeError(.usage, "usage: pipe collect RUN_DIR --pipeline FILE")
    }
    let spec = try savedPipeline(parsed.positionals[0], pipelinePath: pipelinePath)
    let collected = try SlurmExecutor.collect(spec: spec, runDirectory: parsed.positionals[0])
    var text = "pipe collect: \(collected.done) task(s) done"
    text += ", \(collected.failed.count) failed, \(collected.notRun.count) not run\n"
    for failure in collected.failed { text += "failed: \(failure.task): \(failure.error)\n" }
    for item in collected.notRun { text += "not run: \(item.task): \(item.why)\n" }
    if !collected.cancelledJobs.isEmpty {
      text += "cancelled jobs that could no longer run: \(collected.cancelledJobs.joined(separator: ", "))\n"
    }
    text += "run \(collected.succeeded ? "succeeded" : "FAILED")\n"
    print(text, terminator: "")
    return collected.succeeded ? .success : .failure
  }
}
