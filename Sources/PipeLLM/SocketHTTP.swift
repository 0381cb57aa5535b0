internal import Foundation
internal import Glibc

/// Plain-HTTP POSTs over a POSIX socket, one connection per request (`Connection: close`).
///
/// Why not URLSession for `http://`: on Linux, Foundation's URLSession drives libcurl from a
/// dispatch event loop that was seen to spin a core while long LLM answers were pending
/// (5 minutes of CPU in one run against a slow local server), taking the CPU the model server
/// itself needed on a 2-core machine. Local servers (llama.cpp, vLLM, Ollama) speak plain HTTP;
/// `https://` still goes through URLSession.
enum SocketHTTP {
  static func post(url: URL, headers: [String: String], body: [UInt8], timeoutSeconds: Double) -> HTTPOutcome {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0.001, timeoutSeconds) * 1e9)
    guard let host = url.host else { return .failure(.connection("the URL has no host")) }
    let port = url.port ?? 80
    var path = url.path.isEmpty ? "/" : url.path
    if let query = url.query { path += "?" + query }

    let socket: Int32
    switch connect(host: host, port: port, deadline: deadline) {
    case .success(let fd): socket = fd
    case .failure(let failure): return .failure(failure)
    }
    defer { close(socket) }

    var request = "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\n"
    request += "Connection: close\r\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request += "\(name): \(value)\r\n" }
    request += "\r\n"
    if let failure = send(Array(request.utf8) + body, on: socket, deadline: deadline) { return .failure(failure) }

    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      guard let wait = remainingMilliseconds(until: deadline) else { return .failure(.timeout) }
      var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
      let ready = poll(&descriptor, 1, wait)
      if ready < 0 {
        if errno == EINTR { continue }
        return .failure(.connection("poll failed: \(String(cString: strerror(errno)))"))
      }
      if ready == 0 { return .failure(.timeout) }
      let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
      if count < 0 {
        if errno == EINTR || errno == EAGAIN { continue }
        return .failure(.connection("the connection broke: \(String(cString: strerror(errno)))"))
      }
      if count == 0 { break }
      received.append(contentsOf: buffer[0..<count])
      if let answer = parse(received, complete: false) { return .success(answer) }
    }
    guard let answer = parse(received, complete: true) else {
      return .failure(.connection("the server closed the connection before a complete answer"))
    }
    return .success(answer)
  }

  private static func remainingMilliseconds(until deadline: UInt64) -> Int32? {
    let now = DispatchTime.now().uptimeNanoseconds
    guard now < deadline else { return nil }
    return Int32(min(Double(Int32.max), max(1, Double(deadline - now) / 1e6)))
  }

  private static func connect(host: String, port: Int, deadline: UInt64) -> Result<Int32, HTTPFailure> {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var results: UnsafeMutablePointer<addrinfo>? = nil
    let status = getaddrinfo(host, String(port), &hints, &results)
    guard status == 0, let first = results else {
      return .failure(.connection("cannot resolve \(host): \(String(cString: gai_strerror(status)))"))
    }
    defer { freeaddrinfo(results) }
    var lastError = "no address"
    var current: UnsafeMutablePointer<addrinfo>? = first
    while let info = current {
      current = info.pointee.ai_next
      let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
      if fd < 0 { continue }
      // Non-blocking connect, so the deadline bounds it too.
      let flags = fcntl(fd, F_GETFL, 0)
      _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
      var result = Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen)
      if result < 0 && errno == EINPROGRESS {
        guard let wait = remainingMilliseconds(until: deadline) else {
          close(fd)
          return .failure(.timeout)
        }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        if poll(&descriptor, 1, wait) == 1 {
          var error: Int32 = 0
          var length = socklen_t(MemoryLayout<Int32>.size)
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
          result = error == 0 ? 0 : -1
          errno = error
        } else {
          close(fd)
          return .failure(.timeout)
        }
      }
      if result == 0 {
        _ = fcntl(fd, F_SETFL, flags)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return .success(fd)
      }
      lastError = String(cString: strerror(errno))
      close(fd)
    }
    return .failure(.connection("cannot connect to \(host):\(port): \(lastError)"))
  }

  private static func send(_ bytes: [UInt8], on socket: Int32, deadline: UInt64) -> HTTPFailure? {
    var offset = 0
    while offset < bytes.count {
      guard let wait = remainingMilliseconds(until: deadline) else { return .timeout }
      var descriptor = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
      if poll(&descriptor, 1, wait) == 0 { return .timeout }
      let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if sent < 0 {
        if errno == EINTR || errno == EAGAIN { continue }
        return .connection("sending the request failed: \(String(cString: strerror(errno)))")
      }
      offset += sent
    }
    return nil
  }

  /// The answer in `bytes` once it is complete (by Content-Length or the last chunk), or at
  /// the end of the stream when `complete`.
  static func parse(_ bytes: [UInt8], complete: Bool) -> HTTPAnswer? {
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let end = firstIndex(of: separator, in: bytes) else { return nil }
    let head = String(decoding: bytes[0..<end], as: UTF8.self)
    var lines = head.components(separatedBy: "\r\n")
    guard !lines.isEmpty else { return nil }
    let statusLine = lines.removeFirst().split(separator: " ")
    guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
    var headers: [String: String] = [:]
    for line in lines {
      guard let colon = line.firstIndex(of: ":") else { continue }
      headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let body = Array(bytes[(end + 4)...])
    if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
      guard let decoded = dechunk(body) else { return complete ? nil : nil }
      return HTTPAnswer(status: status, headers: headers, body: decoded)
    }
    if let length = headers["content-length"].flatMap({ Int($0) }) {
      guard body.count >= length else { return nil }
      return HTTPAnswer(status: status, headers: headers, body: Array(body[0..<length]))
    }
    return complete ? HTTPAnswer(status: status, headers: headers, body: body) : nil
  }

  /// The body of a complete chunked transfer, or `nil` while the last chunk has not arrived.
  private static func dechunk(_ bytes: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    var index = 0
    while true {
      guard let lineEnd = firstIndex(of: [13, 10], in: bytes, from: index) else { return nil }
      let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
      guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
      let start = lineEnd + 2
      if size == 0 { return out }
      guard bytes.count >= start + size + 2 else { return nil }
      out.append(contentsOf: bytes[start..<(start + size)])
      index = start + size + 2
    }
  }

  private static func firstIndex(of pattern: [UInt8], in bytes: [UInt8], from start: Int = 0) -> Int? {
    guard bytes.count >= pattern.count else { return nil }
    var index = start
    while index + pattern.count <= bytes.count {
      if bytes[index] == pattern[0] && Array(bytes[index..<(index + pattern.count)]) == pattern { return index }
      index += 1
    }
    return nil
  }
}
