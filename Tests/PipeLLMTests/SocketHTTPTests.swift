import Testing

@testable import PipeLLM

/// The plain-HTTP transport's answer parsing: complete only when the whole body is there.
struct SocketHTTPTests {
  static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

  @Test func contentLengthBodiesWaitForEveryByte() throws {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    #expect(SocketHTTP.parse(Self.bytes(head + "{\"a\":"), complete: false) == nil)
    let answer = try #require(SocketHTTP.parse(Self.bytes(head + "{\"a\":12345}"), complete: false))
    #expect(answer.status == 200)
    #expect(answer.headers["content-type"] == "application/json")
    #expect(String(decoding: answer.body, as: UTF8.self) == "{\"a\":12345}")
  }

  @Test func chunkedBodiesAreJoinedAtTheLastChunk() throws {
    let head = "HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\nRetry-After: 2\r\n\r\n"
    let partial = head + "5\r\nhello\r\n6;ext=1\r\n world\r\n"
    #expect(SocketHTTP.parse(Self.bytes(partial), complete: false) == nil)
    let answer = try #require(SocketHTTP.parse(Self.bytes(partial + "0\r\n\r\n"), complete: false))
    #expect(answer.status == 429)
    #expect(answer.headers["retry-after"] == "2")
    #expect(String(decoding: answer.body, as: UTF8.self) == "hello world")
  }

  @Test func bodiesWithoutLengthEndWithTheConnection() throws {
    let text = "HTTP/1.0 200 OK\r\n\r\npartial or whole"
    #expect(SocketHTTP.parse(Self.bytes(text), complete: false) == nil)
    #expect(SocketHTTP.parse(Self.bytes(text), complete: true)?.body == Self.bytes("partial or whole"))
    #expect(SocketHTTP.parse(Self.bytes("garbage without a head"), complete: true) == nil)
  }
}
