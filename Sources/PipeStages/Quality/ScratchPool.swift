import Foundation

/// Scratch objects (hash tables, word lists, prefix sums) that a stage reuses from one record to
/// the next instead of allocating and clearing them per record.
///
/// A stage value is shared by the tasks running at once, so each evaluation takes an object
/// from the pool and gives it back when done: an object is used by one thread at a time, and
/// the pool holds at most as many objects as evaluations ever ran at once (the workers).
final class ScratchPool<Scratch: AnyObject>: @unchecked Sendable {
  private let lock = NSLock()
  private var free: [Scratch] = []
  private let make: () -> Scratch

  /// Creates an empty pool; `make` builds an object when none is free.
  init(_ make: @escaping () -> Scratch) { self.make = make }

  /// Runs `body` with an object no other thread is using.
  @inline(__always)
  func with<Result>(_ body: (Scratch) -> Result) -> Result {
    let scratch = take()
    defer { give(scratch) }
    return body(scratch)
  }

  private func take() -> Scratch {
    lock.lock()
    let scratch = free.popLast()
    lock.unlock()
    return scratch ?? make()
  }

  private func give(_ scratch: Scratch) {
    lock.lock()
    free.append(scratch)
    lock.unlock()
  }
}
