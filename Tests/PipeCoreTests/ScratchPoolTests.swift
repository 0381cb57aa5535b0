import Foundation
import PipeCore
import Testing

/// The scratch pool hands each thread back the object it used last, so a worker's tables stay
/// in its own core's cache; no two threads ever hold the same object at once.
struct ScratchPoolTests {
  final class Scratch: @unchecked Sendable {
    var inUse = false
  }

  /// What the threads saw, behind a lock.
  final class Observations: @unchecked Sendable {
    let lock = NSLock()
    var seen: [Int: Set<ObjectIdentifier>] = [:]
    var clashes = 0
  }

  @Test func eachThreadKeepsItsOwnObjectAndNoneIsShared() {
    let pool = ScratchPool { Scratch() }
    let threads = 4
    let rounds = 2_000
    let observed = Observations()
    let done = DispatchGroup()
    for thread in 0..<threads {
      done.enter()
      Thread {
        for _ in 0..<rounds {
          pool.with { scratch in
            observed.lock.lock()
            observed.seen[thread, default: []].insert(ObjectIdentifier(scratch))
            if scratch.inUse { observed.clashes += 1 }
            scratch.inUse = true
            observed.lock.unlock()
            usleep(1)
            observed.lock.lock()
            scratch.inUse = false
            observed.lock.unlock()
          }
        }
        done.leave()
      }.start()
    }
    done.wait()
    #expect(observed.clashes == 0)
    // One object per thread, and different threads' objects differ.
    #expect(observed.seen.values.allSatisfy { $0.count == 1 }, "\(observed.seen.mapValues(\.count))")
    #expect(Set(observed.seen.values.flatMap { $0 }).count == threads)
  }
}
