// swift-tools-version: 6.3
import PackageDescription

let package = Package(
  name: "pipe",
  products: [
    .executable(name: "pipe", targets: ["pipe"])
  ],
  targets: [
    // C libraries at the edge: only PipeIO sees zstd, only PipeManifest sees SQLite.
    .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

    .target(name: "PipeCore"),
    .target(name: "PipeIO", dependencies: ["PipeCore", "CZstd"]),
    .target(name: "PipeManifest", dependencies: ["PipeCore", "CSQLite"]),
    .target(name: "PipeLLM", dependencies: ["PipeCore"]),
    .target(name: "PipeTokenizers", dependencies: ["PipeCore"]),
    .target(
      name: "PipeStages", dependencies: ["PipeCore", "PipeLLM", "PipeTokenizers"],
      exclude: ["Language/Model/make_langid_model.py", "Language/Model/README.md"],
      resources: [.copy("Language/Model/langid.bin")]),
    .target(name: "PipeRuntime", dependencies: ["PipeCore", "PipeIO", "PipeManifest", "PipeLLM"]),
    .target(
      name: "PipeCLI",
      dependencies: ["PipeCore", "PipeIO", "PipeManifest", "PipeStages", "PipeRuntime", "PipeTokenizers"]),
    .executableTarget(name: "pipe", dependencies: ["PipeCLI"]),

    .testTarget(name: "PipeCoreTests", dependencies: ["PipeCore"]),
    .testTarget(name: "PipeIOTests", dependencies: ["PipeCore", "PipeIO"], exclude: ["Fixtures"]),
    .testTarget(name: "PipeManifestTests", dependencies: ["PipeCore", "PipeIO", "PipeManifest"]),
    .target(
      name: "PipeTestSupport", dependencies: ["PipeLLM"], path: "Tests/PipeTestSupport",
      exclude: ["llm_server.sh", "slurm_local.sh"]),
    .testTarget(name: "PipeTokenizersTests", dependencies: ["PipeCore", "PipeTokenizers", "PipeTestSupport"]),
    .testTarget(name: "PipeLLMTests", dependencies: ["PipeCore", "PipeLLM", "PipeTestSupport"]),
    .testTarget(
      name: "PipeStagesTests", dependencies: ["PipeCore", "PipeStages"],
      exclude: ["Language/golden.jsonl", "MOLE/Fixtures"]),
    .testTarget(
      name: "PipeRuntimeTests", dependencies: ["PipeCore", "PipeIO", "PipeManifest", "PipeStages", "PipeRuntime"]),
    .testTarget(
      name: "PipeEndToEndTests", dependencies: ["pipe", "PipeCore", "PipeIO", "PipeManifest", "PipeTestSupport"]),
  ]
)

for target in package.targets where target.type != .system {
  target.swiftSettings =
    (target.swiftSettings ?? []) + [
      .enableUpcomingFeature("ExistentialAny"),
      .enableUpcomingFeature("MemberImportVisibility"),
      .enableUpcomingFeature("InternalImportsByDefault"),
    ]
}
