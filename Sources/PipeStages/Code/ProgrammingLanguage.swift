/// A programming, markup or data language that `lang.code@1` can name.
///
/// The raw value is the canonical name written to `metadata.programming_language`: lowercase,
/// snake_case, stable (it is also a counter name, so a case is never renamed in place).
public enum ProgrammingLanguage: String, CaseIterable, Sendable {
  case ada
  case applescript
  case assembly
  case awk
  case batch
  case c
  case clojure
  case cmake
  case cobol
  case coffeescript
  case commonLisp = "common_lisp"
  case cpp
  case crystal
  case csharp
  case css
  case cuda
  case d
  case dart
  case dockerfile
  case elixir
  case elm
  case emacsLisp = "emacs_lisp"
  case erlang
  case fortran
  case fsharp
  case glsl
  case go
  case graphql
  case groovy
  case haskell
  case hcl
  case html
  case ini
  case java
  case javascript
  case json
  case julia
  case kotlin
  case latex
  case less
  case lua
  case makefile
  case markdown
  case matlab
  case nim
  case nix
  case objectiveC = "objective_c"
  case objectiveCpp = "objective_cpp"
  case ocaml
  case pascal
  case perl
  case php
  case powershell
  case prolog
  case protobuf
  case python
  case r
  case racket
  case restructuredtext
  case ruby
  case rust
  case scala
  case scheme
  case scss
  case shell
  case solidity
  case sql
  case starlark
  case svelte
  case swift
  case tcl
  case toml
  case typescript
  case verilog
  case vhdl
  case vimscript
  case visualBasic = "visual_basic"
  case vue
  case xml
  case yaml
  case zig

  /// The canonical name (the raw value).
  public var name: String { rawValue }
}
