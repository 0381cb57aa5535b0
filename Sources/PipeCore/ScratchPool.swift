import Foundation

/// Scratch objects (hash tables, word lists, prefix sums) that a stage reuses from one record to
/// the next instead of allocating and clearing them per record.
///
/// A stage value is shared by the tasks running at once, so each evaluation takes an object
/// from the pool and gives it back when done: an object is used by one thread at a time.
/// A thread gets back the object it used last: handing objects from thread to thread moved
/// their kilobytes of tables between cores' caches on every record, which cost a third more
/// CPU with two workers than with one (measured on Gopher + C4 over the large bench corpus).
public final class ScratchPool<Scratch: AnyObject>: @unchecked Sendable {
  private let lock = NSLock()
  private var free: [(owner: pthread_t, scratch: Scratch)] = []
  private let make: () -> Scratch

  /// Past this many free objects a thread takes any of them rather than making one more, so
  /// the pool stays bounded when threads come and go.
  private static var reuseAnyAbove: Int { 64 }

  /// Creates an empty pool; `make` builds an object when none is free.
  public init(_ make: @escaping () -> Scratch) { self.make = make }

  /// Runs `body` with an object no other thread is using.
  @inline(__always)
  public func with<Result>(_ body: (Scratch) -> Result) -> Result {
    let me = pthread_self()
    let scratch = take(me)
    defer { give(scratch, me) }
    return body(scratch)
  }

  private func take(_ me: pthread_t) -> Scratch {
    lock.lock()
    defer { lock.unlock() }
    if let index = free.lastIndex(where: { pthread_equal($0.owner, me) != 0 }) {
      return free.remove(at: index).scratch
    }
    if free.count > Self.reuseAnyAbove, let any = free.popLast() { return any.scratch }
    return make()
  }

  private func give(_ scratch: Scratch, _ me: pthread_t) {
    lock.lock()
    free.append((me, scratch))
    lock.unlock()
  }
}
