import Dispatch
import Foundation
import Glibc
import Synchronization

/// Ctrl-C and SIGTERM during a run: the first asks the run to stop (no new task starts; the
/// running ones get a grace period to finish, then are abandoned cleanly), the second exits at
/// once. Installed for the length of a run only. (Unchecked: the dispatch sources are set up
/// in `init` and only cancelled afterwards.)
final class InterruptWatch: @unchecked Sendable {
  private let sources: [any DispatchSourceSignal]
  private let received = FirstSignal()

  /// Watches SIGINT and SIGTERM; `onFirst` runs (on a dispatch queue) at the first of them.
  init(onFirst: @escaping @Sendable (Int32) -> Void) {
    let queue = DispatchQueue(label: "pipe.interrupts")
    var made: [any DispatchSourceSignal] = []
    let received = self.received
    for signalNumber in [SIGINT, SIGTERM] {
      // The default action must be off for the dispatch source to see the signal.
      Glibc.signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
      source.setEventHandler {
        if received.record(signalNumber) {
          onFirst(signalNumber)
        } else {
          // A second Ctrl-C: the user wants out now. Unfinished tasks are redone by resume.
          FileHandle.standardError.write(Data("\npipe: stopped at once (second signal)\n".utf8))
          _exit(128 + signalNumber)
        }
      }
      source.resume()
      made.append(source)
    }
    sources = made
  }

  /// The first signal received, or nil.
  var signal: Int32? {
    received.value
  }

  /// Stops watching and restores the default actions.
  func stop() {
    for source in sources { source.cancel() }
    Glibc.signal(SIGINT, SIG_DFL)
    Glibc.signal(SIGTERM, SIG_DFL)
  }
}

/// The first signal received.
private final class FirstSignal: Sendable {
  private let number = Atomic<Int32>(0)

  /// Records `signalNumber`; true when it is the first.
  func record(_ signalNumber: Int32) -> Bool {
    number.compareExchange(expected: 0, desired: signalNumber, ordering: .relaxed).exchanged
  }

  var value: Int32? {
    let found = number.load(ordering: .relaxed)
    return found == 0 ? nil : found
  }
}
