internal import Foundation

/// When to try again: exponential backoff with jitter, and the server's `Retry-After`.
struct RetryPolicy: Sendable {
  let baseSeconds: Double
  let maxSeconds: Double

  /// The wait before retry number `retry` (1 for the first): `base * 2^(retry-1)`, capped at
  /// the maximum, then scaled by a random factor in [0.5, 1) so that clients that failed
  /// together do not retry together. A `Retry-After` from the server is a lower bound (still
  /// capped, so a huge value cannot stall a worker for hours).
  func delay(retry: Int, retryAfter: Double?, unitRandom: Double) -> Double {
    let exponent = Double(min(max(retry - 1, 0), 60))
    let exponential = min(maxSeconds, baseSeconds * pow(2, exponent))
    let jittered = exponential * (0.5 + 0.5 * min(max(unitRandom, 0), 1))
    guard let retryAfter else { return jittered }
    return max(jittered, min(retryAfter, maxSeconds))
  }

  /// Seconds from a `Retry-After` header: delta-seconds (`"2"`, also `"1.5"`) or an HTTP date
  /// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), measured against `now`; `nil` when unreadable.
  static func retryAfterSeconds(_ header: String?, now: Date = Date()) -> Double? {
    guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
    if let seconds = Double(text) { return seconds.isFinite ? max(0, seconds) : nil }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    guard let date = formatter.date(from: text) else { return nil }
    return max(0, date.timeIntervalSince(now))
  }
}
