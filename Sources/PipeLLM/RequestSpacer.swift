internal import Synchronization

/// Keeps an endpoint's requests-per-minute limit by spacing request starts evenly,
/// `60 / requestsPerMinute` seconds apart, with no burst: any 60-second window then holds at
/// most `requestsPerMinute + 1` starts, which is what providers measure.
final class RequestSpacer: Sendable {
  /// Seconds between two starts.
  let interval: Double
  /// The earliest start time not yet given out.
  private let nextStart = Mutex<Double?>(nil)

  init(requestsPerMinute: Double) {
    interval = 60 / requestsPerMinute
  }

  /// Reserves the next start time for a request ready at `now`, and returns how long the
  /// caller must wait before starting. Reservations are handed out in call order, so callers
  /// that wait in parallel still start one interval apart.
  func reserve(now: Double) -> Double {
    nextStart.withLock { next in
      let start = max(now, next ?? now)
      next = start + interval
      return start - now
    }
  }
}
