internal import Dispatch
internal import Glibc

/// Time as the client waits on it: rate-limit spacing and backoff between retries. Tests pass
/// a virtual clock so they check waits without spending them.
public protocol LLMClock: Sendable {
  /// Seconds on a monotonic clock (any origin).
  func now() -> Double
  /// Blocks the calling thread for `seconds`.
  func sleep(seconds: Double)
}

/// The real monotonic clock.
public struct SystemLLMClock: LLMClock {
  /// Creates the clock.
  public init() {}

  /// Seconds since boot.
  public func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
  }

  /// Sleeps the calling thread, resuming after an interruption by a signal.
  public func sleep(seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
  }
}
