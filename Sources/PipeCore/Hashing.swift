// Pure-Swift hashes used for checksums, stable IDs and shard integrity.
//
// They live in PipeCore (not PipeIO) so stages can hash record text without seeing any file or C
// library. Both are written against raw pointers with unaligned loads: no per-byte array
// indexing, so the release build runs at memory-ish speed for XXH64 and at the usual
// software speed for SHA-256.

// MARK: - XXH64

/// Streaming XXH64, bit-exact with the reference xxHash implementation (`XXH64()` in xxhash.h).
///
/// Used for shard checksums ("xxh64:<hex>") and fast stable hashing; it is not a cryptographic
/// hash. Feed bytes with `update(_:)` in any split; `finalize()` gives the same value as hashing
/// the concatenation at once and does not change the state, so it can be called repeatedly.
public struct XXH64 {
  private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
  private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
  private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
  private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
  private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

  private let seed: UInt64
  private var v1: UInt64
  private var v2: UInt64
  private var v3: UInt64
  private var v4: UInt64
  private var totalLength: UInt64 = 0
  /// Up to 31 bytes not yet consumed as a full 32-byte stripe; a tuple so the hasher is a
  /// plain value with no heap allocation.
  private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
  private var pendingCount = 0

  /// Creates a hasher; `seed` selects an independent hash family (0 is the common default).
  public init(seed: UInt64 = 0) {
    self.seed = seed
    v1 = seed &+ Self.prime1 &+ Self.prime2
    v2 = seed &+ Self.prime2
    v3 = seed
    v4 = seed &- Self.prime1
  }

  @inline(__always)
  private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
    let mixed = acc &+ input &* prime2
    return ((mixed &<< 31) | (mixed &>> 33)) &* prime1
  }

  @inline(__always)
  private static func mergeRound(_ acc: UInt64, _ value: UInt64) -> UInt64 {
    (acc ^ round(0, value)) &* prime1 &+ prime4
  }

  @inline(__always)
  private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 {
    (x &<< r) | (x &>> (64 &- r))
  }

  @inline(__always)
  private static func load64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  /// Consumes whole 32-byte stripes from `p`; returns how many bytes were consumed.
  @inline(__always)
  private mutating func consumeStripes(_ p: UnsafeRawPointer, _ count: Int) -> Int {
    // Locals instead of stored properties so the four lanes stay in registers.
    var a = v1
    var b = v2
    var c = v3
    var d = v4
    var offset = 0
    while count - offset >= 32 {
      a = Self.round(a, Self.load64(p, offset))
      b = Self.round(b, Self.load64(p, offset + 8))
      c = Self.round(c, Self.load64(p, offset + 16))
      d = Self.round(d, Self.load64(p, offset + 24))
      offset += 32
    }
    v1 = a
    v2 = b
    v3 = c
    v4 = d
    return offset
  }

  /// Adds `bytes` to the hash.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    var p = base
    var remaining = bytes.count
    totalLength &+= UInt64(remaining)

    if pendingCount + remaining < 32 {
      let at = pendingCount
      withUnsafeMutableBytes(of: &pending) { buffer in
        UnsafeMutableRawBufferPointer(rebasing: buffer[at..<(at + remaining)])
          .copyMemory(from: UnsafeRawBufferPointer(start: p, count: remaining))
      }
      pendingCount += remaining
      return
    }

    if pendingCount > 0 {
      // Complete the buffered stripe first so the stripes are the same as in a one-shot hash.
      let fill = 32 - pendingCount
      let at = pendingCount
      var stripe = pending
      withUnsafeMutableBytes(of: &stripe) { buffer in
        UnsafeMutableRawBufferPointer(rebasing: buffer[at..<32])
          .copyMemory(from: UnsafeRawBufferPointer(start: p, count: fill))
      }
      withUnsafeBytes(of: &stripe) { buffer in
        if let stripeBase = buffer.baseAddress { _ = consumeStripes(stripeBase, 32) }
      }
      p += fill
      remaining -= fill
      pendingCount = 0
    }

    let consumed = consumeStripes(p, remaining)
    p += consumed
    remaining -= consumed

    if remaining > 0 {
      withUnsafeMutableBytes(of: &pending) { buffer in
        UnsafeMutableRawBufferPointer(rebasing: buffer[0..<remaining])
          .copyMemory(from: UnsafeRawBufferPointer(start: p, count: remaining))
      }
      pendingCount = remaining
    }
  }

  /// Adds `bytes` to the hash.
  public mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { update($0) }
  }

  /// The hash of everything added so far; the hasher stays usable.
  public func finalize() -> UInt64 {
    var h: UInt64
    if totalLength >= 32 {
      h = Self.rotl(v1, 1) &+ Self.rotl(v2, 7) &+ Self.rotl(v3, 12) &+ Self.rotl(v4, 18)
      h = Self.mergeRound(h, v1)
      h = Self.mergeRound(h, v2)
      h = Self.mergeRound(h, v3)
      h = Self.mergeRound(h, v4)
    } else {
      h = seed &+ Self.prime5
    }
    h &+= totalLength

    let count = pendingCount
    withUnsafeBytes(of: pending) { buffer in
      guard let p = buffer.baseAddress else { return }
      var offset = 0
      while count - offset >= 8 {
        h ^= Self.round(0, Self.load64(p, offset))
        h = Self.rotl(h, 27) &* Self.prime1 &+ Self.prime4
        offset += 8
      }
      if count - offset >= 4 {
        let word = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        h ^= word &* Self.prime1
        h = Self.rotl(h, 23) &* Self.prime2 &+ Self.prime3
        offset += 4
      }
      while offset < count {
        h ^= UInt64(p.load(fromByteOffset: offset, as: UInt8.self)) &* Self.prime5
        h = Self.rotl(h, 11) &* Self.prime1
        offset += 1
      }
    }

    h ^= h &>> 33
    h &*= Self.prime2
    h ^= h &>> 29
    h &*= Self.prime3
    h ^= h &>> 32
    return h
  }

  /// One-shot XXH64 of `bytes`.
  public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    var hasher = XXH64(seed: seed)
    hasher.update(bytes)
    return hasher.finalize()
  }

  /// One-shot XXH64 of the UTF-8 bytes of `string`.
  public static func hash(_ string: String, seed: UInt64 = 0) -> UInt64 {
    var copy = string
    return copy.withUTF8 { hash(UnsafeRawBufferPointer($0), seed: seed) }
  }
}

// MARK: - SHA-256

/// Streaming SHA-256 (FIPS 180-4).
///
/// Used where an external tool must be able to verify a file (`sha256sum`); for internal
/// checksums XXH64 is an order of magnitude faster. `finalize()` does not change the state.
public struct SHA256 {
  private var h0: UInt32 = 0x6a09_e667
  private var h1: UInt32 = 0xbb67_ae85
  private var h2: UInt32 = 0x3c6e_f372
  private var h3: UInt32 = 0xa54f_f53a
  private var h4: UInt32 = 0x510e_527f
  private var h5: UInt32 = 0x9b05_688c
  private var h6: UInt32 = 0x1f83_d9ab
  private var h7: UInt32 = 0x5be0_cd19
  private var totalLength: UInt64 = 0
  /// Up to 63 bytes waiting for a full 64-byte block; a tuple keeps the hasher allocation-free.
  private var pending: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
  private var pendingCount = 0

  private static let roundConstants: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
  ]

  /// Creates a hasher with the FIPS 180-4 initial state.
  public init() {}

  @inline(__always)
  private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
    (x &>> n) | (x &<< (32 &- n))
  }

  /// Runs the compression function over `blockCount` consecutive 64-byte blocks at `p`.
  private mutating func compress(_ p: UnsafeRawPointer, blockCount: Int) {
    Self.roundConstants.withUnsafeBufferPointer { kBuffer in
      guard let k = kBuffer.baseAddress else { return }
      withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { wBuffer in
        guard let w = wBuffer.baseAddress else { return }
        var a0 = h0
        var b0 = h1
        var c0 = h2
        var d0 = h3
        var e0 = h4
        var f0 = h5
        var g0 = h6
        var hh0 = h7
        for block in 0..<blockCount {
          let blockBase = p + block * 64
          for i in 0..<16 {
            w[i] = UInt32(bigEndian: blockBase.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
          }
          for i in 16..<64 {
            let x = w[i - 15]
            let y = w[i - 2]
            let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x &>> 3)
            let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y &>> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
          }
          var a = a0
          var b = b0
          var c = c0
          var d = d0
          var e = e0
          var f = f0
          var g = g0
          var h = hh0
          for i in 0..<64 {
            let s1 = Self.rotr(e, 6) ^ Self.rotr(e, 11) ^ Self.rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ k[i] &+ w[i]
            let s0 = Self.rotr(a, 2) ^ Self.rotr(a, 13) ^ Self.rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            h = g
            g = f
            f = e
            e = d &+ t1
            d = c
            c = b
            b = a
            a = t1 &+ t2
          }
          a0 &+= a
          b0 &+= b
          c0 &+= c
          d0 &+= d
          e0 &+= e
          f0 &+= f
          g0 &+= g
          hh0 &+= h
        }
        h0 = a0
        h1 = b0
        h2 = c0
        h3 = d0
        h4 = e0
        h5 = f0
        h6 = g0
        h7 = hh0
      }
    }
  }

  /// Adds `bytes` to the hash.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    var p = base
    var remaining = bytes.count
    totalLength &+= UInt64(remaining)

    if pendingCount > 0 {
      let fill = min(64 - pendingCount, remaining)
      let at = pendingCount
      withUnsafeMutableBytes(of: &pending) { buffer in
        UnsafeMutableRawBufferPointer(rebasing: buffer[at..<(at + fill)])
          .copyMemory(from: UnsafeRawBufferPointer(start: p, count: fill))
      }
      pendingCount += fill
      p += fill
      remaining -= fill
      guard pendingCount == 64 else { return }
      var block = pending
      withUnsafeBytes(of: &block) { buffer in
        if let blockBase = buffer.baseAddress { compress(blockBase, blockCount: 1) }
      }
      pendingCount = 0
    }

    let blocks = remaining / 64
    if blocks > 0 {
      compress(p, blockCount: blocks)
      p += blocks * 64
      remaining -= blocks * 64
    }

    if remaining > 0 {
      withUnsafeMutableBytes(of: &pending) { buffer in
        UnsafeMutableRawBufferPointer(rebasing: buffer[0..<remaining])
          .copyMemory(from: UnsafeRawBufferPointer(start: p, count: remaining))
      }
      pendingCount = remaining
    }
  }

  /// Adds `bytes` to the hash.
  public mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { update($0) }
  }

  /// The 32-byte digest of everything added so far; the hasher stays usable.
  public func finalize() -> [UInt8] {
    var copy = self
    let bitLength = totalLength &* 8
    // Padding: 0x80, zeros up to 56 mod 64, then the message length in bits, big-endian.
    let padCount = (pendingCount < 56 ? 56 : 120) - pendingCount
    var tail = [UInt8](repeating: 0, count: padCount + 8)
    tail[0] = 0x80
    for i in 0..<8 {
      tail[padCount + i] = UInt8(truncatingIfNeeded: bitLength &>> UInt64(56 - 8 * i))
    }
    copy.update(tail)
    var digest = [UInt8]()
    digest.reserveCapacity(32)
    for word in [copy.h0, copy.h1, copy.h2, copy.h3, copy.h4, copy.h5, copy.h6, copy.h7] {
      digest.append(UInt8(truncatingIfNeeded: word &>> 24))
      digest.append(UInt8(truncatingIfNeeded: word &>> 16))
      digest.append(UInt8(truncatingIfNeeded: word &>> 8))
      digest.append(UInt8(truncatingIfNeeded: word))
    }
    return digest
  }

  /// Lowercase hex of `digest`, as `sha256sum` prints it.
  public static func hex(_ digest: [UInt8]) -> String {
    hexEncode(digest)
  }

  /// One-shot SHA-256 of `bytes`.
  public static func hash(_ bytes: [UInt8]) -> [UInt8] {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.finalize()
  }
}

// MARK: - Hex

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

/// Lowercase hex of arbitrary bytes.
private func hexEncode(_ bytes: [UInt8]) -> String {
  var out = [UInt8]()
  out.reserveCapacity(bytes.count * 2)
  for byte in bytes {
    out.append(hexDigits[Int(byte >> 4)])
    out.append(hexDigits[Int(byte & 0x0f)])
  }
  return String(decoding: out, as: UTF8.self)
}

/// `value` as exactly 16 lowercase hex digits (zero-padded), the form used in checksums and IDs.
public func hexString(_ value: UInt64) -> String {
  var out = [UInt8](repeating: 0, count: 16)
  for i in 0..<16 {
    out[i] = hexDigits[Int((value &>> UInt64(60 - 4 * i)) & 0x0f)]
  }
  return String(decoding: out, as: UTF8.self)
}
