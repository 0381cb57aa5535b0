import Foundation

/// Returns the C heap's free memory to the system (glibc's `malloc_trim`), so that resident
/// memory drops to what is in use. A no-op where the C library has no such call.
///
/// Looked up at run time: Swift's Glibc module does not declare `malloc.h`'s extensions.
public func releaseFreeHeap() {
  typealias Trim = @convention(c) (Int) -> Int32
  guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
  _ = unsafeBitCast(symbol, to: Trim.self)(0)
}
