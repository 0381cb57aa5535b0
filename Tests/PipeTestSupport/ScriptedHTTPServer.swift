import Foundation
import Glibc
import Synchronization

/// What the scripted server does with one request.
public struct ScriptedReply: Sendable {
  /// The status code.
  public var status = 200
  /// Extra header fields.
  public var headers: [String: String] = [:]
  /// The body.
  public var body = ""
  /// Seconds to wait before answering (or dropping).
  public var delay = 0.0
  /// Close the connection without answering.
  public var dropsConnection = false

  /// A JSON answer.
  public static func json(_ body: String, status: Int = 200, headers: [String: String] = [:], delay: Double = 0)
    -> ScriptedReply
  {
    ScriptedReply(status: status, headers: headers, body: body, delay: delay)
  }

  /// Closes the connection after reading the request, without a byte of answer.
  public static func drop(delay: Double = 0) -> ScriptedReply {
    ScriptedReply(delay: delay, dropsConnection: true)
  }
}

/// A request as the scripted server received it.
public struct RecordedRequest: Sendable {
  /// The HTTP method.
  public var method: String
  /// The request path.
  public var path: String
  /// Header fields, names lowercased.
  public var headers: [String: String]
  /// The request body.
  public var body: String
}

/// An HTTP/1.1 server on 127.0.0.1 (a free port) that answers each request from a script, one
/// connection per request, and records what it received. Each connection gets its own thread,
/// so delayed answers overlap and `maxInFlight` shows the client's real concurrency.
public final class ScriptedHTTPServer: Sendable {
  /// The port it listens on.
  public let port: Int
  private let listener: Int32
  private let responder: @Sendable (Int, RecordedRequest) -> ScriptedReply
  private let state = Mutex(State())

  private struct State {
    var requests: [RecordedRequest] = []
    var inFlight = 0
    var maxInFlight = 0
    var isStopped = false
  }

  /// A server answering the n-th request with `script[n]`, and with `fallback` after the end.
  public convenience init(
    script: [ScriptedReply], fallback: ScriptedReply = .json(#"{"error":"script exhausted"}"#, status: 599)
  )
    throws
  {
    try self.init { index, _ in index < script.count ? script[index] : fallback }
  }

  /// A server answering with `responder(requestIndex, request)`.
  public init(responder: @escaping @Sendable (Int, RecordedRequest) -> ScriptedReply) throws {
    self.responder = responder
    let (fd, port) = try Self.listen()
    listener = fd
    self.port = port
    let acceptor = Thread { [self] in acceptLoop() }
    acceptor.start()
  }

  deinit { stop() }

  /// The API root for an `Endpoint`.
  public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

  /// Every request received so far, in arrival order.
  public var requests: [RecordedRequest] { state.withLock { $0.requests } }

  /// How many requests arrived.
  public var requestCount: Int { state.withLock { $0.requests.count } }

  /// The most requests that were being answered at the same moment.
  public var maxInFlight: Int { state.withLock { $0.maxInFlight } }

  /// Stops accepting connections; answers under way still finish.
  public func stop() {
    let wasStopped = state.withLock { state in
      defer { state.isStopped = true }
      return state.isStopped
    }
    guard !wasStopped else { return }
    // shutdown wakes the thread blocked in accept(); close alone would not. The accept loop
    // closes the socket itself when it leaves: closing it here would free the descriptor
    // number while the loop might still call accept() on it, and a server created meanwhile
    // could get that number, and the old loop would answer its requests.
    shutdown(listener, Int32(SHUT_RDWR))
  }

  // MARK: - Sockets

  private static func listen() throws -> (Int32, Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket", errno) }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, Glibc.listen(fd, 128) == 0 else {
      let code = errno
      close(fd)
      throw SocketError("bind/listen", code)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else {
      let code = errno
      close(fd)
      throw SocketError("getsockname", code)
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
  }

  private func acceptLoop() {
    defer { close(listener) }
    while true {
      let connection = accept(listener, nil, nil)
      if connection < 0 {
        if errno == EINTR { continue }
        return
      }
      if state.withLock({ $0.isStopped }) {
        close(connection)
        return
      }
      let handler = Thread { [self] in handle(connection) }
      handler.start()
    }
  }

  private func handle(_ fd: Int32) {
    defer { close(fd) }
    guard let request = Self.readRequest(fd) else { return }
    let index = state.withLock { state -> Int in
      state.requests.append(request)
      state.inFlight += 1
      state.maxInFlight = max(state.maxInFlight, state.inFlight)
      return state.requests.count - 1
    }
    let reply = responder(index, request)
    if reply.delay > 0 { Thread.sleep(forTimeInterval: reply.delay) }
    // The request stops counting as in flight before its answer is written: the client may
    // send its next request the moment it has read the answer, and that one must not be
    // counted as overlapping this one.
    state.withLock { $0.inFlight -= 1 }
    if reply.dropsConnection {
      // A reset rather than a clean end, the way a crashed server or proxy looks.
      var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
      return
    }
    var head = "HTTP/1.1 \(reply.status) \(Self.reason(reply.status))\r\n"
    head += "Content-Type: application/json\r\nContent-Length: \(reply.body.utf8.count)\r\nConnection: close\r\n"
    for (name, value) in reply.headers { head += "\(name): \(value)\r\n" }
    head += "\r\n"
    Self.write(fd, Array((head + reply.body).utf8))
    shutdown(fd, Int32(SHUT_WR))
  }

  /// Reads one request: the head up to the blank line, then Content-Length bytes of body.
  private static func readRequest(_ fd: Int32) -> RecordedRequest? {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    var headEnd: Int?
    while headEnd == nil {
      let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count <= 0 { return nil }
      buffer += chunk[0..<count]
      headEnd = find(separator, in: buffer)
    }
    guard let headEnd else { return nil }
    let lines = String(decoding: buffer[0..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
    let requestLine = (lines.first ?? "").split(separator: " ").map(String.init)
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    if headers["expect"]?.lowercased() == "100-continue" {
      write(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
    }
    let length = Int(headers["content-length"] ?? "0") ?? 0
    var body = Array(buffer[(headEnd + separator.count)...])
    while body.count < length {
      let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count <= 0 { return nil }
      body += chunk[0..<count]
    }
    return RecordedRequest(
      method: requestLine.first ?? "", path: requestLine.count > 1 ? requestLine[1] : "", headers: headers,
      body: String(decoding: body, as: UTF8.self))
  }

  private static func write(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      // MSG_NOSIGNAL: the client may have gone (a timeout test); that must not kill the tests.
      let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if sent <= 0 { return }
      offset += sent
    }
  }

  private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle)
    {
      return start
    }
    return nil
  }

  private static func reason(_ status: Int) -> String {
    switch status {
    case 200: return "OK"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 404: return "Not Found"
    case 429: return "Too Many Requests"
    case 500: return "Internal Server Error"
    case 501: return "Not Implemented"
    case 503: return "Service Unavailable"
    default: return "Status"
    }
  }
}

/// A failed socket call in the test server.
public struct SocketError: Error, CustomStringConvertible {
  /// The socket call that failed.
  public let call: String
  /// The errno value.
  public let code: Int32

  /// Creates an error.
  public init(_ call: String, _ code: Int32) {
    self.call = call
    self.code = code
  }

  /// What failed and why.
  public var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}

/// A loopback port with nothing listening: connections to it are refused.
public func closedPort() throws -> Int {
  let server = try ScriptedHTTPServer(script: [])
  let port = server.port
  server.stop()
  return port
}
