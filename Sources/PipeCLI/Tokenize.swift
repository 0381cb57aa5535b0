import Foundation
import PipeCore
import PipeIO
import PipeTokenizers

/// `pipe tokenize`: the token ids of texts or of every record of shards, for debugging token
/// counts and for checking the tokenizer against a reference.
enum Tokenize {
  static let help = """
    usage: pipe tokenize --tokenizer FILE [--pieces] [--count] TEXT...
           pipe tokenize --tokenizer FILE --records [--count] [--limit N] SHARD...
           pipe tokenize --tokenizer FILE --info

    Prints token ids as the model's tokenizer makes them: for each TEXT, one line of ids
    separated by spaces; with --records, for each record of each shard (.jsonl or .jsonl.zst)
    one JSON line {"id": ..., "tokens": [...]} (or {"id": ..., "count": N} with --count).
    Special tokens written in the text (<|im_start|>) are recognized, as the references do;
    nothing is added at the start or the end.

      --tokenizer FILE  a Hugging Face tokenizer.json or a GGUF model file (its vocabulary)
      --pieces          each token as ID:"TEXT" (the bytes of the token, escaped)
      --count           counts instead of ids
      --records         read records from SHARD files instead of TEXT arguments
      --limit N         at most N records
      --info            the tokenizer: normalization, pre-tokenizer, vocabulary size, added
                        tokens and identity (the hash that enters stage fingerprints)
    """

  static func run(_ arguments: [String]) throws -> CLI.ExitCode {
    let parsed = try Arguments(
      arguments, options: ["--tokenizer", "--limit"], flags: ["--pieces", "--count", "--records", "--info"],
      command: "tokenize")
    guard let path = parsed.value("--tokenizer") else {
      throw PipeError(.usage, "--tokenizer FILE is required (a tokenizer.json or a GGUF model file)")
    }
    let tokenizer = try Tokenizer.load(path: path)
    var out = OutputBuffer()
    defer { out.flush() }
    if parsed.flags.contains("--info") {
      out.write(describe(tokenizer))
      return .success
    }
    let counting = parsed.flags.contains("--count")
    if parsed.flags.contains("--records") {
      guard !parsed.positionals.isEmpty else { throw PipeError(.usage, "--records needs at least one SHARD file") }
      let limit = try parsed.int("--limit", range: 0...Int.max) ?? Int.max
      var printed = 0
      for file in parsed.positionals where printed < limit {
        let reader = try ShardReader(path: file)
        while printed < limit, let line = try reader.next() {
          if line.bytes.isEmpty { continue }
          let record: Record
          do { record = try Record(line: line.bytes, fallbackID: "\(file)/\(line.number)") } catch {
            throw PipeError(.input, "not a record: \(error.message)", file: file, line: line.number)
          }
          var json: [UInt8] = Array("{\"id\":".utf8)
          JSONString.append(record.id, to: &json)
          if counting {
            json += Array(",\"count\":\(record.withTextUTF8 { tokenizer.count($0) })}".utf8)
          } else {
            let ids = record.withTextUTF8 { tokenizer.encode($0) }
            json += Array(",\"tokens\":[".utf8)
            json += Array(ids.map(String.init).joined(separator: ",").utf8)
            json += Array("]}".utf8)
          }
          out.write(json)
          printed += 1
        }
      }
      return .success
    }
    guard !parsed.positionals.isEmpty else {
      throw PipeError(.usage, "usage: pipe tokenize --tokenizer FILE TEXT... (or --records SHARD..., or --info)")
    }
    for text in parsed.positionals {
      let ids = tokenizer.encode(text)
      if counting {
        out.write("\(ids.count)")
      } else if parsed.flags.contains("--pieces") {
        out.write(ids.map { "\($0):" + escaped(tokenizer.bytes(of: $0)) }.joined(separator: " "))
      } else {
        out.write(ids.map(String.init).joined(separator: " "))
      }
    }
    return .success
  }

  static func describe(_ tokenizer: Tokenizer) -> String {
    let steps = tokenizer.preTokenizer.steps.map { step -> String in
      switch step {
      case .isolateDigits: return "digits one by one"
      case .split(let pattern): return "split (\(pattern.rawValue)): \(pattern.regex)"
      }
    }
    let special = tokenizer.addedTokens.filter(\.special).count
    var lines = [
      "tokenizer: \(tokenizer.source)",
      "model: byte-level BPE, \(tokenizer.vocabularySize) ids",
      "normalization: \(tokenizer.normalization == .nfc ? "NFC" : "none")",
      "pre-tokenizer: " + (steps.isEmpty ? "none" : steps.joined(separator: "; then ")),
      "added tokens: \(tokenizer.addedTokens.count) (\(special) special)",
    ]
    for token in tokenizer.addedTokens.prefix(32) {
      lines.append("  \(token.id) \(escaped(Array(token.content.utf8)))\(token.special ? " special" : "")")
    }
    if tokenizer.addedTokens.count > 32 { lines.append("  ... \(tokenizer.addedTokens.count - 32) more") }
    lines.append("identity: \(tokenizer.identity)")
    return lines.joined(separator: "\n")
  }

  static func escaped(_ bytes: [UInt8]) -> String {
    var json: [UInt8] = []
    JSONString.append(String(decoding: bytes, as: UTF8.self), to: &json)
    return String(decoding: json, as: UTF8.self)
  }

  /// Lines to standard output, written in large blocks.
  struct OutputBuffer {
    private var buffer: [UInt8] = []

    mutating func write(_ line: String) { write(Array(line.utf8)) }

    mutating func write(_ line: [UInt8]) {
      buffer += line
      buffer.append(0x0A)
      if buffer.count > 1 << 20 { flush() }
    }

    mutating func flush() {
      FileHandle.standardOutput.write(Data(buffer))
      buffer.removeAll(keepingCapacity: true)
    }
  }
}
