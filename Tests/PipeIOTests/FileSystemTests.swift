import Foundation
import Glibc
import PipeCore
import PipeIO
import Testing

struct GlobTests {
  private func makeTree() throws -> TempDirectory {
    let dir = try TempDirectory()
    for name in [
      "a.jsonl.zst", "b.jsonl.zst", "c.txt", ".hidden.jsonl.zst", "sub/d.jsonl.zst", "sub/deeper/e.jsonl.zst",
      "sub/deeper/f.txt", "other/g.jsonl.zst",
    ] {
      try createDirectories(parentDirectory(dir.file(name)))
      try writeBytes(dir.file(name), [])
    }
    try createDirectories(dir.file("dir.jsonl.zst"))  // a directory that matches: must be skipped
    return dir
  }

  private func parentDirectory(_ path: String) -> String {
    (path as NSString).deletingLastPathComponent
  }

  @Test func star() throws {
    let dir = try makeTree()
    #expect(try Glob.expand("*.jsonl.zst", relativeTo: dir.path) == [dir.file("a.jsonl.zst"), dir.file("b.jsonl.zst")])
    #expect(try Glob.expand("?.jsonl.zst", relativeTo: dir.path).count == 2)
    #expect(try Glob.expand("[b-z].jsonl.zst", relativeTo: dir.path) == [dir.file("b.jsonl.zst")])
    #expect(
      try Glob.expand("*/*.jsonl.zst", relativeTo: dir.path) == [
        dir.file("other/g.jsonl.zst"), dir.file("sub/d.jsonl.zst"),
      ])
    // Absolute patterns ignore the base.
    #expect(try Glob.expand(dir.file("*.txt"), relativeTo: "/nonexistent") == [dir.file("c.txt")])
  }

  @Test func doubleStar() throws {
    let dir = try makeTree()
    #expect(
      try Glob.expand("**/*.jsonl.zst", relativeTo: dir.path) == [
        dir.file("a.jsonl.zst"), dir.file("b.jsonl.zst"), dir.file("other/g.jsonl.zst"), dir.file("sub/d.jsonl.zst"),
        dir.file("sub/deeper/e.jsonl.zst"),
      ])
    #expect(
      try Glob.expand("sub/**", relativeTo: dir.path) == [
        dir.file("sub/d.jsonl.zst"), dir.file("sub/deeper/e.jsonl.zst"), dir.file("sub/deeper/f.txt"),
      ])
    #expect(try Glob.expand("sub/**/e.*", relativeTo: dir.path) == [dir.file("sub/deeper/e.jsonl.zst")])
  }

  @Test func literalsAndNoMatch() throws {
    let dir = try makeTree()
    #expect(try Glob.expand("sub/d.jsonl.zst", relativeTo: dir.path) == [dir.file("sub/d.jsonl.zst")])
    #expect(try Glob.expand("./sub/../c.txt", relativeTo: dir.path) == [dir.file("c.txt")])
    #expect(try Glob.expand("missing.jsonl.zst", relativeTo: dir.path).isEmpty)
    #expect(try Glob.expand("*.parquet", relativeTo: dir.path).isEmpty)
    #expect(try Glob.expand("nowhere/**/*.zst", relativeTo: dir.path).isEmpty)
    #expect(try Glob.expand("sub", relativeTo: dir.path).isEmpty)
  }
}

struct DirectoryLockTests {
  @Test func secondLockInTheSameProcessIsBusyAndNamesThePid() throws {
    let dir = try TempDirectory()
    let path = dir.file("run.lock")
    let lock = try DirectoryLock(path: path)
    let error = try #require(throws: PipeError.self) { try DirectoryLock(path: path) }
    #expect(error.code == .busy)
    #expect(error.message.contains("in use by another pipe process (pid \(getpid()))"))
    lock.release()
    let again = try DirectoryLock(path: path)
    again.release()
  }

  @Test func lockHeldByAnotherProcess() throws {
    let dir = try TempDirectory()
    let path = dir.file("run.lock")
    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/bin/sh")
    // One process holds the lock: the shell opens fd 9, flock(1) locks it, and `exec sleep`
    // keeps fd 9 (and the pid) so killing that one process must release the lock.
    holder.arguments = ["-c", "exec 9>>\"$0\"; /usr/bin/flock -x 9; echo $$ >&9; exec /bin/sleep 30", path]
    try holder.run()
    defer {
      if holder.isRunning { holder.terminate() }
    }

    // Wait until the child has the lock.
    var busy: PipeError?
    for _ in 0..<200 {
      do {
        let probe = try DirectoryLock(path: path)
        probe.release()
        usleep(20_000)
      } catch let error as PipeError {
        busy = error
        // The holder writes its pid just after locking; wait for it to show in the message.
        if error.message.contains("(pid \(holder.processIdentifier))") { break }
        usleep(20_000)
      }
    }
    let error = try #require(busy)
    #expect(error.code == .busy)
    #expect(error.file == path)
    #expect(error.message.contains("in use by another pipe process (pid \(holder.processIdentifier))"))

    // The kernel releases the lock when the holder dies, even by SIGKILL.
    kill(holder.processIdentifier, SIGKILL)
    holder.waitUntilExit()
    let lock = try DirectoryLock(path: path)
    lock.release()
  }

  @Test func deinitReleases() throws {
    let dir = try TempDirectory()
    let path = dir.file("run.lock")
    do { _ = try DirectoryLock(path: path) }
    let lock = try DirectoryLock(path: path)
    lock.release()
  }
}

struct FileHelperTests {
  @Test func helpers() throws {
    let dir = try TempDirectory()
    let nested = dir.file("a/b/c")
    try createDirectories(nested)
    try createDirectories(nested)
    var isDirectory: ObjCBool = false
    #expect(FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory) && isDirectory.boolValue)

    let file = dir.file("a/b/c/file.bin")
    try writeBytes(file, [1, 2, 3, 4, 5])
    #expect(fileSize(file) == 5)
    #expect(fileSize(dir.file("nope")) == nil)
    let mtime = try #require(fileModificationTime(file))
    #expect(abs(mtime - Date().timeIntervalSince1970) < 600)
    fsyncDirectory(nested)

    let error = try #require(throws: PipeError.self) { try createDirectories(file) }
    #expect(error.code == .io)

    try removeItemIfPresent(file)
    #expect(fileSize(file) == nil)
    try removeItemIfPresent(file)
    try removeItemIfPresent(dir.file("a"))
    #expect(!FileManager.default.fileExists(atPath: dir.file("a")))
  }
}
