internal import Dispatch
internal import Foundation
internal import Synchronization

#if canImport(FoundationNetworking)
  internal import FoundationNetworking
#endif

/// What came back from one HTTP exchange.
struct HTTPAnswer: Sendable, Equatable {
  /// The status code.
  var status: Int
  /// Header fields, names lowercased.
  var headers: [String: String]
  /// The body bytes.
  var body: [UInt8]
}

/// Why one HTTP exchange produced no answer.
enum HTTPFailure: Error, Sendable {
  /// Nothing complete arrived in time.
  case timeout
  /// The connection failed or broke; the text is Foundation's description (no headers).
  case connection(String)
}

/// An answer or why there is none.
typealias HTTPOutcome = Result<HTTPAnswer, HTTPFailure>

/// POSTs JSON and waits for the answer on the calling thread: plain HTTP over a socket of our
/// own (`SocketHTTP`), HTTPS with URLSession.
final class HTTPTransport: Sendable {
  private let session: URLSession

  init(maxConnections: Int, timeoutSeconds: Double) {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = timeoutSeconds
    configuration.timeoutIntervalForResource = timeoutSeconds
    configuration.httpMaximumConnectionsPerHost = maxConnections
    // Answers are cached by the client under its own key; an HTTP cache underneath would hide
    // requests from the statistics and keep bodies on disk.
    configuration.urlCache = nil
    configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
    configuration.httpShouldSetCookies = false
    session = URLSession(configuration: configuration)
  }

  deinit {
    session.finishTasksAndInvalidate()
  }

  /// Sends `body` to `url` and blocks until the answer, a failure, or `timeoutSeconds`.
  ///
  /// URLSession's own timeouts measure idle time between bytes; the wait here bounds the whole
  /// exchange, so a server that trickles bytes still times out.
  func post(url: URL, headers: [String: String], body: [UInt8], timeoutSeconds: Double) -> HTTPOutcome {
    if url.scheme?.lowercased() == "http" {
      return SocketHTTP.post(url: url, headers: headers, body: body, timeoutSeconds: timeoutSeconds)
    }
    var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeoutSeconds)
    request.httpMethod = "POST"
    request.httpBody = Data(body)
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }

    let outcome = Outcome()
    let done = DispatchSemaphore(value: 0)
    let task = session.dataTask(with: request) { data, response, error in
      outcome.set(Self.classify(data: data, response: response, error: error))
      done.signal()
    }
    task.resume()
    // A little grace over URLSession's own timer, so its precise error wins when it fires.
    if done.wait(timeout: .now() + timeoutSeconds + 0.5) == .timedOut {
      task.cancel()
      return .failure(.timeout)
    }
    return outcome.get() ?? .failure(.connection("no result from URLSession"))
  }

  private static func classify(data: Data?, response: URLResponse?, error: (any Error)?) -> HTTPOutcome {
    if let error {
      if let urlError = error as? URLError, urlError.code == .timedOut { return .failure(.timeout) }
      return .failure(.connection(error.localizedDescription))
    }
    guard let http = response as? HTTPURLResponse else {
      return .failure(.connection("the answer is not HTTP"))
    }
    var headers: [String: String] = [:]
    for (name, value) in http.allHeaderFields {
      if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
    }
    return .success(HTTPAnswer(status: http.statusCode, headers: headers, body: data.map { [UInt8]($0) } ?? []))
  }
}

/// The result handed from URLSession's queue to the waiting thread.
private final class Outcome: Sendable {
  private let value = Mutex<HTTPOutcome?>(nil)

  func set(_ result: HTTPOutcome) { value.withLock { $0 = result } }
  func get() -> HTTPOutcome? { value.withLock { $0 } }
}
