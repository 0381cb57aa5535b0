// Header rules of `CodeLanguageDetector`: the `#!` line and editor modelines.

extension CodeLanguageDetector {
  // MARK: - Shebang

  /// The language of the interpreter named on a `#!` first line, or `nil`.
  ///
  /// Handles `#!/usr/bin/perl -w`, `#! /bin/sh`, `#!/usr/bin/env python3` and
  /// `#!/usr/bin/env -S VAR=1 node --flag`; version suffixes are ignored (`python3.11`,
  /// `lua5.1`, `guile-3.0`).
  static func shebangLanguage(firstLine: Substring) -> ProgrammingLanguage? {
    guard firstLine.hasPrefix("#!") else { return nil }
    let words = firstLine.dropFirst(2).split(whereSeparator: { $0 == " " || $0 == "\t" })
    guard var index = words.indices.first else { return nil }
    var program = baseName(words[index])
    if program == "env" {
      index += 1
      // Skip env's options and variable assignments.
      while index < words.endIndex, words[index].hasPrefix("-") || words[index].contains("=") {
        index += 1
      }
      guard index < words.endIndex else { return nil }
      program = baseName(words[index])
    }
    return interpreters[interpreterName(program)]
  }

  /// The last path component.
  private static func baseName(_ word: Substring) -> Substring {
    guard let slash = word.lastIndex(of: "/") else { return word }
    return word[word.index(after: slash)...]
  }

  /// `python3.11` -> `python`, `guile-3.0` -> `guile`, `PHP` -> `php`.
  static func interpreterName(_ program: Substring) -> String {
    var name = program.lowercased()
    while let last = name.last, last.isNumber || last == "." || last == "-" || last == "_" {
      name.removeLast()
    }
    return name
  }

  /// Interpreter names (without version) and their languages.
  static let interpreters: [String: ProgrammingLanguage] = [
    "python": .python, "pypy": .python, "jython": .python, "ipython": .python, "pythonw": .python,
    "perl": .perl, "ruby": .ruby, "jruby": .ruby, "macruby": .ruby, "rake": .ruby,
    "node": .javascript, "nodejs": .javascript, "bun": .javascript, "rhino": .javascript, "gjs": .javascript,
    "deno": .typescript, "ts-node": .typescript, "tsx": .typescript,
    "php": .php, "php-cgi": .php, "lua": .lua, "luajit": .lua, "texlua": .lua,
    "sh": .shell, "bash": .shell, "zsh": .shell, "ksh": .shell, "mksh": .shell, "pdksh": .shell,
    "dash": .shell, "ash": .shell, "busybox": .shell, "fish": .shell, "csh": .shell, "tcsh": .shell,
    "tclsh": .tcl, "wish": .tcl, "expect": .tcl, "jimsh": .tcl,
    "rscript": .r, "r": .r, "awk": .awk, "gawk": .awk, "mawk": .awk, "nawk": .awk,
    "make": .makefile, "gmake": .makefile, "swift": .swift, "kotlin": .kotlin, "kotlinc": .kotlin,
    "kscript": .kotlin, "scala": .scala, "amm": .scala, "groovy": .groovy, "julia": .julia,
    "pwsh": .powershell, "powershell": .powershell, "runhaskell": .haskell, "runghc": .haskell,
    "stack": .haskell, "escript": .erlang, "guile": .scheme, "csi": .scheme, "chicken": .scheme,
    "gosh": .scheme, "racket": .racket, "sbcl": .commonLisp, "clisp": .commonLisp, "ecl": .commonLisp,
    "emacs": .emacsLisp, "osascript": .applescript, "elixir": .elixir, "crystal": .crystal, "dart": .dart,
    "octave": .matlab, "swipl": .prolog, "ocaml": .ocaml, "nim": .nim, "dotnet": .csharp,
  ]

  // MARK: - Modelines

  /// The language named by an Emacs (`-*- mode: perl -*-`) or Vim (`vim: set ft=python:`)
  /// modeline: Emacs on the first line (the second after a `#!` line), Vim on the first or last
  /// five lines, as the editors look for them.
  static func modelineLanguage(lines: [Substring], lastLines: [Substring]) -> ProgrammingLanguage? {
    for (position, line) in lines.prefix(2).enumerated() {
      if position == 1, !(lines.first?.hasPrefix("#!") ?? false) { break }
      if let mode = emacsMode(line), let language = language(named: mode) { return language }
    }
    for line in lines.prefix(5) + lastLines {
      if let type = vimFileType(line), let language = language(named: type) { return language }
    }
    return nil
  }

  /// The mode in `-*- mode: NAME; … -*-` or `-*- NAME -*-`; `nil` for `-*- coding: utf-8 -*-`.
  static func emacsMode(_ line: Substring) -> String? {
    guard let open = line.firstRange(of: "-*-") else { return nil }
    let rest = line[open.upperBound...]
    guard let close = rest.firstRange(of: "-*-") else { return nil }
    let inner = trimSpaces(rest[..<close.lowerBound])
    guard !inner.isEmpty else { return nil }
    guard inner.contains(":") else { return String(inner) }
    for pair in inner.split(separator: ";") {
      let parts = pair.split(separator: ":", maxSplits: 1)
      guard parts.count == 2, trimSpaces(parts[0]).lowercased() == "mode" else { continue }
      return String(trimSpaces(parts[1]))
    }
    return nil
  }

  /// The value of `ft=`, `filetype=`, `syntax=` or `syn=` after a `vim:`, `vi:` or `ex:` marker.
  static func vimFileType(_ line: Substring) -> String? {
    for marker in ["vim:", "Vim:", "vi:", "ex:", "vim600:"] {
      guard let found = line.firstRange(of: marker) else { continue }
      // The marker starts the line or follows a space, as Vim requires.
      if found.lowerBound != line.startIndex {
        let before = line[line.index(before: found.lowerBound)]
        guard before == " " || before == "\t" else { continue }
      }
      let settings = line[found.upperBound...]
      for key in ["filetype=", "ft=", "syntax=", "syn="] {
        for setting in settings.ranges(of: key) {
          // `ft=` must not be the tail of another option name (`noft=`).
          if setting.lowerBound != settings.startIndex {
            let before = settings[settings.index(before: setting.lowerBound)]
            guard before == " " || before == ":" || before == "\t" else { continue }
          }
          let value = settings[setting.upperBound...].prefix { $0 != ":" && $0 != " " && $0 != "\t" }
          if !value.isEmpty { return String(value) }
        }
      }
    }
    return nil
  }

  /// A language from an editor mode or file type name, or a canonical name.
  static func language(named name: String) -> ProgrammingLanguage? {
    var key = name.lowercased()
    for suffix in ["-ts-mode", "-mode", "-ts"] where key.hasSuffix(suffix) {
      key.removeLast(suffix.count)
    }
    return modeAliases[key] ?? ProgrammingLanguage(rawValue: key) ?? interpreters[key]
  }

  /// Editor names that are not canonical names.
  static let modeAliases: [String: ProgrammingLanguage] = [
    "c++": .cpp, "cxx": .cpp, "py": .python, "python3": .python, "sh": .shell, "bash": .shell,
    "zsh": .shell, "shell-script": .shell, "ksh": .shell, "cperl": .perl, "js": .javascript,
    "js2": .javascript, "js3": .javascript, "ts": .typescript, "lisp": .commonLisp, "elisp": .emacsLisp,
    "emacs-lisp": .emacsLisp, "lisp-interaction": .emacsLisp, "make": .makefile, "gnumakefile": .makefile,
    "makefile-gmake": .makefile, "asm": .assembly, "nasm": .assembly, "gas": .assembly, "masm": .assembly,
    "objc": .objectiveC, "objective-c": .objectiveC, "objcpp": .objectiveCpp, "cs": .csharp,
    "vim": .vimscript, "nxml": .xml, "sgml": .xml, "tex": .latex, "plaintex": .latex, "md": .markdown,
    "gfm": .markdown, "rst": .restructuredtext, "vb": .visualBasic, "vbnet": .visualBasic,
    "vbscript": .visualBasic, "basic": .visualBasic, "fortran90": .fortran, "f90": .fortran,
    "octave": .matlab, "docker": .dockerfile, "yml": .yaml, "sass": .scss, "rb": .ruby, "rs": .rust,
    "kt": .kotlin, "hs": .haskell, "pl": .perl, "tcltk": .tcl, "conf": .ini, "dosini": .ini,
    "dosbatch": .batch, "bat": .batch, "ps1": .powershell, "bzl": .starlark, "terraform": .hcl,
    "jsonc": .json, "html5": .html, "xhtml": .html, "mhtml": .html, "web": .html, "sql": .sql,
    "plsql": .sql, "pgsql": .sql, "mysql": .sql, "verilog": .verilog, "systemverilog": .verilog,
  ]

  /// `text` without leading and trailing spaces, tabs and carriage returns.
  static func trimSpaces(_ text: Substring) -> Substring {
    var result = text
    while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
    while let last = result.last, last == " " || last == "\t" || last == "\r" { result = result.dropLast() }
    return result
  }
}
