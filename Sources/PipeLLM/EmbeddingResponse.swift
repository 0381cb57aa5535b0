internal import PipeCore

/// The answer to an embeddings request.
public struct EmbeddingResponse: ReportsTokenUsage, Equatable {
  /// One vector per input, in input order.
  public var vectors: [[Double]]
  /// The server's token counts (prompt tokens only).
  public var usage: TokenUsage

  /// Creates a response.
  public init(vectors: [[Double]], usage: TokenUsage) {
    self.vectors = vectors
    self.usage = usage
  }

  static func parse(_ json: JSONValue) throws(MalformedResponse) -> EmbeddingResponse {
    guard let answer = json.objectValue, let data = answer["data"]?.arrayValue else {
      throw MalformedResponse("data: expected an array of {\"index\", \"embedding\"}")
    }
    var indexed: [(index: Int, vector: [Double])] = []
    indexed.reserveCapacity(data.count)
    for (position, item) in data.enumerated() {
      guard let entry = item.objectValue, let numbers = entry["embedding"]?.arrayValue else {
        throw MalformedResponse("data[\(position)].embedding: expected an array of numbers")
      }
      var vector: [Double] = []
      vector.reserveCapacity(numbers.count)
      for number in numbers {
        guard let value = number.doubleValue else {
          throw MalformedResponse("data[\(position)].embedding: expected numbers, got \(number.typeDescription)")
        }
        vector.append(value)
      }
      indexed.append((entry["index"]?.intValue ?? position, vector))
    }
    guard Set(indexed.map(\.index)) == Set(0..<indexed.count) else {
      throw MalformedResponse("data[].index: expected each of 0..<\(indexed.count) once")
    }
    return EmbeddingResponse(
      vectors: indexed.sorted { $0.index < $1.index }.map(\.vector), usage: TokenUsage.parse(answer))
  }
}
