import Foundation

/// One line of progress on stderr, redrawn twice a second: the stage being worked on, tasks
/// done of total, records per second and an estimate of the time left (from bytes read).
final class ProgressDisplay: @unchecked Sendable {
  private let lock = NSLock()
  private let totalTasks: Int
  private let totalBytes: Int
  private let inputBytes: [TaskKey: Int]
  private let stageOrder: [String]
  private var running: [TaskKey: TaskProgress] = [:]
  private var doneTasks = 0
  private var doneBytes = 0
  private var doneRecords = 0
  private var started = Date()
  private var timer: Thread?
  private var stopped = false

  init(tasks: [PlannedTask], stageOrder: [String]) {
    totalTasks = tasks.count
    totalBytes = tasks.reduce(0) { $0 + $1.inputBytes }
    inputBytes = Dictionary(tasks.map { ($0.key, $0.inputBytes) }, uniquingKeysWith: { first, _ in first })
    self.stageOrder = stageOrder
  }

  func start() {
    started = Date()
    let thread = Thread { [self] in
      while true {
        Thread.sleep(forTimeInterval: 0.5)
        lock.lock()
        let isStopped = stopped
        lock.unlock()
        if isStopped { return }
        draw()
      }
    }
    timer = thread
    thread.start()
  }

  func stop() {
    lock.lock()
    stopped = true
    lock.unlock()
    draw()
    FileHandle.standardError.write(Data("\n".utf8))
  }

  func began(_ key: TaskKey, progress: TaskProgress) {
    lock.lock()
    running[key] = progress
    lock.unlock()
  }

  func ended(_ key: TaskKey) {
    lock.lock()
    running[key] = nil
    lock.unlock()
  }

  func finished(_ key: TaskKey, records: Int) {
    lock.lock()
    doneTasks += 1
    doneBytes += inputBytes[key] ?? 0
    doneRecords += records
    lock.unlock()
  }

  private func draw() {
    lock.lock()
    var bytes = doneBytes
    var records = doneRecords
    for (_, progress) in running {
      let snapshot = progress.snapshot
      bytes += snapshot.bytes
      records += snapshot.records
    }
    let stages = Set(running.keys.map(\.stage))
    let current = stageOrder.filter { stages.contains($0) }.joined(separator: ", ")
    let tasksDone = doneTasks
    lock.unlock()
    let elapsed = max(Date().timeIntervalSince(started), 0.001)
    let rate = Double(records) / elapsed
    var eta = "--"
    if bytes > 0, totalBytes > 0 {
      let left = elapsed * Double(max(totalBytes - bytes, 0)) / Double(bytes)
      eta = Self.duration(left)
    }
    let line =
      "\r\u{1B}[K[\(current.isEmpty ? "finishing" : current)] tasks \(tasksDone)/\(totalTasks)"
      + "  \(Int(rate)) records/s  elapsed \(Self.duration(elapsed))  ETA \(eta)"
    FileHandle.standardError.write(Data(line.utf8))
  }

  static func duration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    if total >= 3600 { return "\(total / 3600)h\(String(format: "%02d", total % 3600 / 60))m" }
    if total >= 60 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
    return "\(total)s"
  }
}
