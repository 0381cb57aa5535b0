internal import CZstd
import PipeCore

// MARK: - Error funnel

/// A libzstd error code and its name, kept as the `cause` of the `PipeError` that reports it.
///
/// Callers branch on `PipeError.code`; `code` here is `ZSTD_ErrorCode`'s raw value, for
/// diagnostics and tests (e.g. 10 = prefix_unknown, "not a zstd frame").
public struct ZstdFailure: Error, Sendable, CustomStringConvertible {
  /// The raw `ZSTD_ErrorCode` value.
  public let code: Int
  /// `ZSTD_getErrorName` for the code, e.g. "Unknown frame descriptor".
  public let name: String

  /// `zstd error <code>: <name>`.
  public var description: String { "zstd error \(code): \(name)" }
}

/// The one place where libzstd return values are checked (style C4.3).
enum Zstd {
  /// Returns `result` unless it is a zstd error code, in which case throws a `PipeError` of
  /// family `family` whose message starts with `what`.
  @inline(__always)
  static func check(_ result: Int, _ what: @autoclosure () -> String, family: PipeError.Code, path: String?) throws
    -> Int
  {
    if ZSTD_isError(result) == 0 { return result }
    throw error(result, what(), family: family, path: path)
  }

  static func error(_ result: Int, _ what: String, family: PipeError.Code, path: String?) -> PipeError {
    let failure = failure(result)
    var message = "\(what): \(failure.name)"
    if failure.code == Int(ZSTD_error_frameParameter_windowTooLarge.rawValue) {
      // Frames from `zstd --long` or `--ultra` can need windows above libzstd's default
      // 128 MiB decoding limit, which we keep to bound memory.
      message +=
        " (the file was compressed with a window above 128 MiB, e.g. `zstd --long=31`; recompress it without --long)"
    } else if family == .corruptInput {
      message += " (the file is damaged or is not zstd data; re-create or re-download it)"
    }
    return PipeError(family, message, file: path, cause: failure)
  }

  static func failure(_ result: Int) -> ZstdFailure {
    let name = ZSTD_getErrorName(result).map { String(cString: $0) } ?? "unknown error"
    return ZstdFailure(code: Int(ZSTD_getErrorCode(result).rawValue), name: name)
  }

  /// The message the brief asks for when a stream ends inside a frame.
  static func truncatedError(path: String?) -> PipeError {
    PipeError(
      .corruptInput,
      "truncated zstd stream: the file ends in the middle of a frame; it was probably cut short while being written or copied. Re-create or re-download it.",
      file: path)
  }

  /// Levels libzstd accepts; used to validate configs before any shard runs.
  static var levelRange: ClosedRange<Int> { Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel()) }
}

// MARK: - Decoder

/// A streaming zstd decoder over `ZSTD_DCtx`; the context is freed when the value dies.
///
/// `~Copyable` so the C context has exactly one owner: no copies, no double free (style C8.2).
/// Concatenated frames (`cat a.zst b.zst`) and skippable frames decode as one stream.
public struct ZstdDecoder: ~Copyable {
  private let context: OpaquePointer
  /// The last `ZSTD_decompressStream` result: 0 means the last frame is complete and flushed.
  private var lastHint = 0
  /// Named in every error.
  public let path: String?

  /// Creates a decoder; `path` is only used to name the source in errors.
  public init(path: String? = nil) throws {
    guard let context = ZSTD_createDCtx() else {
      throw PipeError(.io, "cannot allocate a zstd decompression context (out of memory)", file: path)
    }
    self.context = context
    self.path = path
  }

  deinit {
    ZSTD_freeDCtx(context)
  }

  /// True when everything decoded so far ends on a frame boundary, i.e. it is fine for the
  /// input to end here. An empty input is on a boundary.
  public var isAtFrameBoundary: Bool { lastHint == 0 }

  /// Decodes from `input` into `output`, returning how many bytes of each were used.
  ///
  /// Call repeatedly; with an empty `input` it flushes data the decoder still holds. At end of
  /// input call `finish()` (a truncated frame is *not* an error for libzstd, only a hint).
  /// - Throws: `PipeError(.corruptInput)` naming `path` when the data is not valid zstd.
  public mutating func decode(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws -> (consumed: Int, produced: Int) {
    var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
    var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
    let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
    lastHint = try Zstd.check(result, "corrupt zstd data", family: .corruptInput, path: path)
    return (inBuffer.pos, outBuffer.pos)
  }

  /// Confirms that the input ended on a frame boundary.
  /// - Throws: the "truncated zstd stream" `PipeError(.corruptInput)` otherwise.
  public func finish() throws {
    if lastHint != 0 { throw Zstd.truncatedError(path: path) }
  }

  /// Decodes a whole in-memory zstd stream (one or more frames).
  public static func decompress(_ bytes: [UInt8], path: String? = nil) throws -> [UInt8] {
    var decoder = try ZstdDecoder(path: path)
    var result = [UInt8]()
    let chunk = 1 << 17
    var scratch = [UInt8](repeating: 0, count: chunk)
    try bytes.withUnsafeBytes { input in
      var offset = 0
      while true {
        let slice = UnsafeRawBufferPointer(rebasing: input[offset...])
        let (consumed, produced) = try scratch.withUnsafeMutableBytes { try decoder.decode(slice, into: $0) }
        offset += consumed
        result.append(contentsOf: scratch[0..<produced])
        // Done when all input is used and the decoder had nothing left to flush.
        if offset == input.count && produced < chunk { break }
      }
    }
    try decoder.finish()
    return result
  }
}

// MARK: - Encoder

/// A streaming zstd encoder over `ZSTD_CCtx`; the context is freed when the value dies.
///
/// Frames carry a content checksum (`ZSTD_c_checksumFlag = 1`) so `zstd -t` and our decoder
/// catch corruption. Single-threaded by default, which makes output a pure function of
/// (input bytes, level, how input is split into calls).
public struct ZstdEncoder: ~Copyable {
  /// What a `compress` call should do after consuming its input.
  public enum Directive: Sendable {
    /// Buffer freely; output appears when libzstd has full blocks.
    case `continue`
    /// Flush everything buffered so far into output (the frame stays open).
    case flush
    /// Finish the frame (epilogue and checksum).
    case end
  }

  private let context: OpaquePointer
  /// Named in every error.
  public let path: String?

  /// Creates an encoder.
  /// - Parameters:
  ///   - level: zstd level (`zstd -N`), from `ZSTD_minCLevel()` (negative, fast) to 22.
  ///   - workers: `ZSTD_c_nbWorkers`; 0 compresses on the calling thread.
  ///   - checksum: whether frames end with an XXH64 content checksum.
  ///   - path: only used to name the destination in errors.
  /// - Throws: `PipeError(.config)` for a level or worker count libzstd rejects.
  public init(level: Int = 3, workers: Int = 0, checksum: Bool = true, path: String? = nil) throws {
    guard Zstd.levelRange.contains(level) else {
      throw PipeError(
        .config,
        "zstd compression level \(level) is out of range (\(Zstd.levelRange.lowerBound)...\(Zstd.levelRange.upperBound))",
        file: path)
    }
    guard let context = ZSTD_createCCtx() else {
      throw PipeError(.io, "cannot allocate a zstd compression context (out of memory)", file: path)
    }
    // Free the half-made context if a parameter is refused (GRDB's rule in style A4).
    do {
      _ = try Zstd.check(
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)),
        "cannot set zstd level \(level)", family: .config, path: path)
      _ = try Zstd.check(
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0),
        "cannot enable zstd checksums", family: .config, path: path)
      if workers > 0 {
        _ = try Zstd.check(
          ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(clamping: workers)),
          "cannot use \(workers) zstd compression workers (libzstd built without threads?)", family: .config,
          path: path)
      }
    } catch {
      ZSTD_freeCCtx(context)
      throw error
    }
    self.context = context
    self.path = path
  }

  deinit {
    ZSTD_freeCCtx(context)
  }

  /// Compresses from `input` into `output`.
  ///
  /// Returns how many bytes of each were used, and `remaining`: for `.flush`/`.end`, how many
  /// bytes libzstd still has to write (call again with more output space until it is 0).
  /// - Throws: `PipeError(.io)` naming `path` when libzstd fails.
  public mutating func compress(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, _ directive: Directive
  ) throws -> (consumed: Int, produced: Int, remaining: Int) {
    var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
    var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
    let mode: ZSTD_EndDirective
    switch directive {
    case .continue: mode = ZSTD_e_continue
    case .flush: mode = ZSTD_e_flush
    case .end: mode = ZSTD_e_end
    }
    let result = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode)
    let remaining = try Zstd.check(result, "zstd compression failed", family: .io, path: path)
    return (inBuffer.pos, outBuffer.pos, remaining)
  }

  /// A safe output buffer size for one `compress` call over `inputSize` bytes
  /// (`ZSTD_compressBound`).
  public static func bound(_ inputSize: Int) -> Int {
    ZSTD_compressBound(inputSize)
  }

  /// Compresses `bytes` into one complete frame.
  public static func compress(_ bytes: [UInt8], level: Int = 3) throws -> [UInt8] {
    var encoder = try ZstdEncoder(level: level)
    var output = [UInt8](repeating: 0, count: bound(bytes.count) + 64)
    var produced = 0
    try bytes.withUnsafeBytes { input in
      try output.withUnsafeMutableBytes { out in
        var consumedTotal = 0
        while true {
          let step = try encoder.compress(
            UnsafeRawBufferPointer(rebasing: input[consumedTotal...]),
            into: UnsafeMutableRawBufferPointer(rebasing: out[produced...]), .end)
          consumedTotal += step.consumed
          produced += step.produced
          if step.remaining == 0 && consumedTotal == input.count { break }
        }
      }
    }
    output.removeLast(output.count - produced)
    return output
  }
}
