// Path rules of `CodeLanguageDetector`: well-known file names, then extensions.
//
// An extension maps to one language, or to several when it is ambiguous (`.h` is C, C++ or
// Objective-C; `.m` Objective-C or MATLAB; `.pl` Perl or Prolog); the content then picks among
// those candidates, the first being the answer when the content says nothing.

extension CodeLanguageDetector {
  /// What a path says: a language, candidates to choose from by content, or nothing.
  enum PathVerdict: Equatable {
    /// The file name alone decides (`Makefile`, `CMakeLists.txt`).
    case filename(ProgrammingLanguage)
    /// The extension decides, or picks among candidates (first = default) by content.
    case fileExtension([ProgrammingLanguage])
  }

  /// The verdict of `path` (a file path, a URL or an archive entry such as `src.zip!/a/B.java`),
  /// or `nil` when the name says nothing (no extension, an unknown one, `.txt`).
  static func classify(path: String) -> PathVerdict? {
    var name = Substring(path)
    // A URL's query or fragment is not part of the name.
    if let cut = name.firstIndex(where: { $0 == "?" || $0 == "#" }), name.contains("://") {
      name = name[..<cut]
    }
    if let slash = name.lastIndex(where: { $0 == "/" || $0 == "\\" }) {
      name = name[name.index(after: slash)...]
    }
    var lower = name.lowercased()
    while lower.hasSuffix("~") { lower.removeLast() }
    guard !lower.isEmpty else { return nil }

    if let language = fileNames[lower] { return .filename(language) }
    for (prefix, language) in fileNamePrefixes where lower.hasPrefix(prefix) {
      return .filename(language)
    }

    // `config.h.in`, `app.py.orig`: the suffix hides the real extension.
    var parts = lower.split(separator: ".", omittingEmptySubsequences: false)
    while parts.count > 2, let last = parts.last, ignorableSuffixes.contains(String(last)) {
      parts.removeLast()
    }
    guard parts.count >= 2, let last = parts.last, !last.isEmpty else { return nil }
    // A dot file without a further extension (`.profile`) was handled by the name table.
    if parts.count == 2, parts[0].isEmpty { return nil }
    guard let candidates = extensions[String(last)] else { return nil }
    return .fileExtension(candidates)
  }

  /// Suffixes that wrap a file without changing its language.
  static let ignorableSuffixes: Set<String> = [
    "in", "orig", "bak", "tmpl", "template", "dist", "example", "sample", "old", "new",
  ]

  /// Exact file names (lowercased).
  static let fileNames: [String: ProgrammingLanguage] = [
    "makefile": .makefile, "gnumakefile": .makefile, "bsdmakefile": .makefile, "kbuild": .makefile,
    "makefile.am": .makefile, "makefile.in": .makefile,
    "dockerfile": .dockerfile, "containerfile": .dockerfile,
    "cmakelists.txt": .cmake,
    "gemfile": .ruby, "rakefile": .ruby, "podfile": .ruby, "vagrantfile": .ruby, "guardfile": .ruby,
    "capfile": .ruby, "brewfile": .ruby, "fastfile": .ruby, "appfile": .ruby, "berksfile": .ruby,
    "jenkinsfile": .groovy,
    "build": .starlark, "build.bazel": .starlark, "workspace": .starlark, "workspace.bazel": .starlark,
    "sconstruct": .python, "sconscript": .python, "snakefile": .python,
    ".bashrc": .shell, ".bash_profile": .shell, ".bash_login": .shell, ".bash_logout": .shell,
    ".bash_aliases": .shell, ".profile": .shell, ".zshrc": .shell, ".zshenv": .shell, ".zprofile": .shell,
    ".zlogin": .shell, ".kshrc": .shell, ".mkshrc": .shell, "bashrc": .shell, "zshrc": .shell,
    "pkgbuild": .shell, "apkbuild": .shell, "configure": .shell,
    ".vimrc": .vimscript, "_vimrc": .vimscript, ".gvimrc": .vimscript, ".exrc": .vimscript, "vimrc": .vimscript,
    ".emacs": .emacsLisp, "_emacs": .emacsLisp,
    "cargo.lock": .toml, "pipfile": .toml, "poetry.lock": .toml, "pipfile.lock": .json,
    ".babelrc": .json, ".eslintrc": .json, ".jshintrc": .json,
    "go.work": .go,
    "rprofile": .r, ".rprofile": .r,
  ]

  /// Name prefixes (lowercased): `Dockerfile.dev`, `Makefile.linux`.
  static let fileNamePrefixes: [(String, ProgrammingLanguage)] = [
    ("dockerfile.", .dockerfile), ("makefile.", .makefile), ("gnumakefile.", .makefile),
    ("containerfile.", .dockerfile), ("jenkinsfile.", .groovy),
  ]

  /// Extensions (lowercased, without the dot) and their candidates.
  static let extensions: [String: [ProgrammingLanguage]] = {
    var table: [String: [ProgrammingLanguage]] = [:]
    func add(_ language: ProgrammingLanguage, _ names: String) {
      for name in names.split(separator: " ") { table[String(name)] = [language] }
    }
    add(.ada, "adb ads ada")
    add(.applescript, "applescript")
    add(.assembly, "s asm nasm a51")
    add(.awk, "awk gawk")
    add(.batch, "bat cmd")
    add(.c, "c")
    add(.clojure, "clj cljs cljc edn")
    add(.cmake, "cmake")
    add(.cobol, "cob cbl cpy")
    add(.coffeescript, "coffee")
    add(.commonLisp, "lisp lsp cl asd")
    add(.cpp, "cc cpp cxx c++ hpp hh hxx h++ ipp tpp txx inl ino")
    add(.crystal, "cr")
    add(.csharp, "cs csx")
    add(.css, "css")
    add(.cuda, "cu cuh")
    add(.d, "d di")
    add(.dart, "dart")
    add(.dockerfile, "dockerfile")
    add(.elixir, "ex exs")
    add(.elm, "elm")
    add(.emacsLisp, "el")
    add(.erlang, "erl hrl escript")
    add(.fortran, "f f90 f95 f03 f08 for f77 ftn")
    add(.fsharp, "fs fsi fsx")
    add(.glsl, "glsl vert frag geom comp tesc tese")
    add(.go, "go")
    add(.graphql, "graphql gql graphqls")
    add(.groovy, "groovy gradle gvy gy")
    add(.haskell, "hs lhs hs-boot")
    add(.hcl, "tf tfvars hcl")
    add(.html, "html htm xhtml shtml")
    add(.ini, "ini cfg")
    add(.java, "java")
    add(.javascript, "js mjs cjs jsx")
    add(.json, "json jsonc json5 geojson webmanifest ipynb")
    add(.julia, "jl")
    add(.kotlin, "kt kts")
    add(.latex, "tex sty ltx dtx")
    add(.less, "less")
    add(.lua, "lua rockspec luau")
    add(.makefile, "mk mak make")
    add(.markdown, "md markdown mdown mkd mdx")
    add(.nim, "nim nims nimble")
    add(.nix, "nix")
    add(.objectiveCpp, "mm")
    add(.ocaml, "ml mli mll mly")
    add(.pascal, "pas dpr lpr dfm")
    add(.perl, "pm t pod psgi")
    add(.php, "php php3 php4 php5 php7 phtml phpt")
    add(.powershell, "ps1 psm1 psd1")
    add(.protobuf, "proto")
    add(.python, "py pyw pyi pyx pxd gyp")
    add(.r, "r rmd")
    add(.racket, "rkt")
    add(.restructuredtext, "rst rest")
    add(.ruby, "rb rake gemspec ru podspec rbi")
    add(.rust, "rs")
    add(.scala, "scala sc sbt")
    add(.scheme, "scm ss sld sls")
    add(.scss, "scss sass")
    add(.shell, "sh bash zsh ksh mksh ash dash bats fish command tcsh csh")
    add(.solidity, "sol")
    add(.sql, "sql psql pgsql plsql ddl tsql mysql")
    add(.starlark, "bzl star bazel")
    add(.svelte, "svelte")
    add(.swift, "swift swiftinterface")
    add(.tcl, "tcl tk itcl exp")
    add(.toml, "toml")
    add(.typescript, "ts tsx mts cts")
    add(.verilog, "sv svh vh")
    add(.vhdl, "vhd vhdl")
    add(.vimscript, "vim vimrc")
    add(.visualBasic, "vb bas vbs vba frm")
    add(.vue, "vue")
    add(.xml, "xml xsd xsl xslt svg plist wsdl csproj vbproj fsproj vcxproj props targets resx xaml nuspec rss atom")
    add(.yaml, "yaml yml")
    add(.zig, "zig")
    // Ambiguous: the content picks; the first is the answer when it cannot.
    table["h"] = [.c, .cpp, .objectiveC]
    table["m"] = [.objectiveC, .matlab]
    table["pl"] = [.perl, .prolog]
    table["pro"] = [.prolog]
    table["inc"] = [.php, .c, .cpp, .pascal, .assembly, .sql]
    table["cls"] = [.latex, .visualBasic]
    table["v"] = [.verilog]
    table["pp"] = [.pascal]
    table["cgi"] = [.perl, .python, .shell]
    return table
  }()
}
