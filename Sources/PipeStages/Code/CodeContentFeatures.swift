// The content features of `lang.code@1`: literal patterns, each adding a weight to one or
// more languages every time it occurs (up to `CodeContentScorer.countCap` times).
//
// Pattern syntax: a leading `^` anchors the pattern at the start of a line (after
// indentation); a leading `(?i)` also adds the all-lowercase spelling (SQL, Fortran, batch
// keywords are written either way). Identifier edges are checked automatically (see
// `CodeFeatureAutomaton`). Each language has strong patterns (constructs no other language
// has, weight 5-10) and weak ones (shared or merely suggestive, weight 1-2). Plain English
// words (`function`, `public`, `select`, `end`) are avoided or weak, because prose must stay
// below the threshold: they appear in combinations prose does not make (`public static `).

extension CodeContentScorer {
  /// One group: the languages a set of patterns votes for, with their weights.
  typealias FeatureGroup = (weights: [(ProgrammingLanguage, Double)], patterns: [String])

  /// Every feature group.
  static let featureGroups: [FeatureGroup] = [
    // MARK: C family: says "code", not which
    (
      [
        (.c, 1), (.cpp, 1), (.objectiveC, 0.8), (.java, 1), (.csharp, 1), (.javascript, 1), (.typescript, 1),
        (.php, 1), (.go, 1), (.rust, 1), (.swift, 1), (.kotlin, 1), (.scala, 1), (.perl, 0.8), (.dart, 1),
      ],
      [") {\n", "} else {", "});\n"]
    ),
    (
      [
        (.c, 1), (.cpp, 1), (.objectiveC, 0.8), (.java, 1), (.csharp, 1), (.javascript, 0.6), (.typescript, 0.6),
        (.php, 1), (.perl, 0.8), (.dart, 1),
      ],
      [");\n", "return 0;", "++)", "for (int ", " */\n", "&&", "||"]
    ),

    // MARK: C
    (
      [(.c, 1.2), (.cpp, 1), (.objectiveC, 1), (.cuda, 0.8)],
      [
        "^#include <", "^#include \"", "^#define ", "^#ifdef ", "^#ifndef ", "^#endif", "^#if ", "^#elif ",
        "^#undef ", "^#pragma ", "sizeof(", "unsigned ", "NULL", "typedef ", "static inline ", "uint32_t",
        "uint8_t", "int32_t", "uint64_t", "size_t ", "char *", "void *", "(void)", "extern \"C\"", "->", "int main(",
      ]
    ),
    (
      [(.c, 4)],
      [
        "#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", "#include <unistd.h>", "malloc(",
        "fprintf(stderr", "typedef struct", "static int ", "static void ", "static const char", "memcpy(",
        "memset(", "#include <sys/", "EXPORT_SYMBOL", "__attribute__", "(struct ",
      ]
    ),
    ([(.c, 1.5)], ["free(", "printf(\"", "struct ", "strlen(", "strcmp(", "goto "]),

    // MARK: C++
    (
      [(.cpp, 5)],
      [
        "std::", "#include <iostream>", "#include <vector>", "#include <string>", "#include <memory>",
        "#include <map>", "#include <algorithm>", "template <", "template<", "typename ", "using namespace ",
        "public:", "private:", "protected:", "virtual ", "nullptr", "cout <<", "constexpr ", "noexcept",
        "static_cast<", "dynamic_cast<", "reinterpret_cast<", "const_cast<", "boost::", "llvm::", "::iterator",
        "operator==", "operator<", "operator=", "operator()", "explicit ", "friend ", "const &", "const&",
        "override;", "unique_ptr<", "shared_ptr<", "#include <cstd", "namespace {", "#include <llvm/",
        "Q_OBJECT", "decltype(",
      ]
    ),
    ([(.cpp, 2), (.csharp, 1), (.php, 0.5)], ["^namespace ", "this->", "^class ", "delete "]),

    // MARK: Objective-C
    (
      [(.objectiveC, 8), (.objectiveCpp, 6)],
      [
        "^#import ", "@interface ", "@implementation ", "^@end", "@property (", "@property(", "NSString",
        "@selector(", "- (void)", "- (id)", "+ (void)", "@synthesize ", " alloc] init", "NSObject",
        "@autoreleasepool", "NSLog(@\"", "@protocol ", "NSArray", "NSDictionary",
      ]
    ),
    ([(.objectiveC, 2)], ["@\"", "[super ", "[self "]),

    // MARK: MATLAB
    (
      [(.matlab, 5)],
      [
        "disp(", "numel(", "nargin", "nargout", "fprintf('", "^%%", "endfunction", ".^", "clear all", "^clc",
        "figure;", "hold on", "xlabel(", "ylabel(", "linspace(", "^function [", "error('",
      ]
    ),
    ([(.matlab, 1.5)], ["zeros(", "isempty(", "strcmp(", "end\nend\n", "size(", "^% ", "^end\n", "^end;"]),

    // MARK: Java
    (
      [(.java, 6)],
      [
        "import java.", "import javax.", "System.out.print", "System.err.print", "public static void main(String",
        "private static final ", "public static final ", "throws IOException", "throws Exception", "java.util.",
        "@Override", "extends Exception", "new ArrayList<", "new HashMap<", "ArrayList<", "HashMap<",
        "synchronized (", "implements Serializable", "@SuppressWarnings", "String[] ", "{@code ", "{@link ",
        "package java", "import static ", "final int ", "final String ", "public final ", "private final ",
        "protected final ",
      ]
    ),
    ([(.java, 2)], ["boolean ", ".equals(", "Integer.", "@Test\n", "@Deprecated"]),
    (
      [(.java, 2), (.php, 2), (.javascript, 1.5), (.typescript, 1.5), (.csharp, 1), (.kotlin, 1)],
      ["instanceof ", "@param ", "@return ", "@since ", "@throws ", "throw new ", "catch (", "final class "]
    ),
    (
      [(.java, 3), (.csharp, 2), (.kotlin, 1), (.scala, 1), (.typescript, 1)],
      [
        "public class ", "private void ", "public void ", "protected void ", "public static ", "private static ",
        "public abstract ", "public interface ", "extends ", "implements ", "this.",
      ]
    ),

    // MARK: C#
    (
      [(.csharp, 7)],
      [
        "using System;", "using System.", "{ get; set; }", "{ get; }", "get;", "Console.WriteLine",
        "Console.Write(", "static void Main(", "async Task", "Task<", "#region", "#endregion", "IEnumerable<",
        "nameof(", "sealed ", ".ToString()", "String.Format", "string.Format", "IDisposable", "[Serializable]",
        "[Fact]", "[TestMethod]", "namespace System", "foreach (var ", "out var ", "public override ",
        "public partial ", "Dictionary<string", "protected override ", "?.Invoke(", "Assert.AreEqual",
      ]
    ),
    ([(.csharp, 2)], ["readonly ", "internal ", "[Test]", "var ", "string[] ", "=> throw", "base.", "List<string>"]),

    // MARK: JavaScript and TypeScript
    (
      [(.javascript, 3), (.typescript, 2.7)],
      [
        "function(", "function (", "=> {", "console.log(", "console.error(", "document.", "window.", "undefined",
        "===", "!==", "async function", ".then(", "export default ", "export function ", "export const ",
        "typeof ", "JSON.stringify(", "JSON.parse(", "new Promise(", "process.env", "Object.keys(",
        "Object.assign(", ".forEach(", "${", "import {", "} from '", "} from \"", "const {",
        ".addEventListener(", "Array.isArray(", "setTimeout(", "});", "() =>", "throw new Error(",
      ]
    ),
    ([(.javascript, 1.5), (.typescript, 1.4)], ["let ", "const ", "var "]),
    (
      [(.javascript, 5), (.typescript, 1)],
      [
        "module.exports", "require('", "require(\"", "'use strict'", "\"use strict\"", ".prototype.", "jQuery",
        "@param {", "@type {", "@returns {", "exports.",
      ]
    ),
    (
      [(.typescript, 6)],
      [
        ": string", ": number", ": boolean", ": void", ": any", ": unknown", ": never", "export interface ",
        "export type ", "export declare ", "declare module", "declare const ", "declare function ", "import type ",
        "as const", ": Promise<", "?: ", "keyof ", ": Record<", ": Array<", "public constructor(", "<T>(",
        "Partial<", "abstract class ", "@Injectable(", "@Component(", ") => void", ": React.", "as unknown as",
        "!: ", "/// <reference ", "declare var ", "declare let ", "declare class ", "declare namespace ",
        "declare global", "): void;", "): boolean;", "): string;", "): number;", "): any;", "): this;",
        "export = ", "export as namespace ",
      ]
    ),
    ([(.typescript, 2)], ["interface ", "enum ", "namespace ", "implements ", "readonly ", "private readonly "]),

    // MARK: Python
    (
      [(.python, 5)],
      [
        "(self)", "(self,", "__init__", "__name__", "elif ", "^try:", "^else:", "^except ", "^except:",
        "isinstance(", " is None", " is not None", "@staticmethod", "@classmethod", "async def ", "with open(",
        "^from __future__", "print(f\"", "print(f'", "^if __name__", "super().", "except Exception",
        "import os\n", "import sys\n", "-> None:", "*args", "**kwargs", "^from . import", "def __", "(object):\n",
        "if not ", "elif not ",
      ]
    ),
    (
      [(.python, 2)],
      [
        "^import ", "self.", "raise ", "):\n", "range(", "len(", "\"\"\"", "'''", "@property\n", ".append(",
        "lambda ", " not in ", "None", "True", "False", "dict(", "f\"{", "pytest", "^class ", "' % ", "\" % ",
      ]
    ),

    // MARK: PHP
    ([(.php, 30)], ["<?php"]),
    (
      [(.php, 8)],
      [
        "<?=", "$this->", "public function ", "private function ", "protected function ", "$_GET",
        "$_POST", "$_SERVER", "$_SESSION", "$_REQUEST", "isset($", "empty($", "require_once", "include_once",
        "private $", "protected $", "public $", "foreach ($", "strlen($", "echo $", "function __construct(",
        "namespace App", "$e->", "use Illuminate", "count($", "is_array($", "private static $", "public static $",
        "protected static $", "self::$", "static::", "$this",
      ]
    ),
    (
      [(.php, 2)],
      [
        "array(", "die(", "?>", "static function ", "::class", "__DIR__", "in_array(", "implode(", "explode(",
        "str_replace(", "sprintf(", "preg_match(", "return $", "if ($", "=> $", "$result", "$data",
      ]
    ),

    // MARK: Go
    (
      [(.go, 6)],
      [
        "package main", "func (", "fmt.", "err != nil", "if err ", "^import (", "go func", "chan ", "[]byte",
        "[]string", "map[string]", "errors.New(", "*testing.T", "t.Errorf(", "t.Fatalf(", "interface{}",
        ") error {", "return nil, ", "^func ", "]byte", "uintptr", "^const (", "^var (", ") string {",
        ") bool {", ") int {", "func init()",
      ]
    ),
    (
      [(.go, 2)],
      [
        ":= ", "make(", "struct {\n", "return err", "defer ", "^package ", "uint64(", "int64(", "len(", "nil",
        "^type ", "range ",
      ]
    ),

    // MARK: Rust
    (
      [(.rust, 6)],
      [
        "fn main()", "let mut ", "&mut ", "&self", "&str", "pub fn ", "pub struct ", "pub enum ", "pub trait ",
        "pub mod ", "pub(crate)", "use std::", "use crate::", "use super::", "println!(", "format!(", "vec![",
        "macro_rules!", "#[derive(", "#[cfg(", "#[test]", "#[inline]", "crate::", ".unwrap()", "usize", "//!",
        "-> Self", "unsafe {", "mod tests", "assert_eq!(", "panic!(", "#![", "impl<", "Vec<", "Box<", "&'",
        "impl ",
      ]
    ),
    (
      [(.rust, 2)],
      [
        "Option<", "Result<", "Some(", "Ok(", "Err(", "u8", "i32", "u32", "u64", "i64", "Self", "fn ", "::new(",
        "where\n", "=> {", "match ",
      ]
    ),

    // MARK: Ruby
    (
      [(.ruby, 6)],
      [
        "require_relative", "attr_accessor", "attr_reader", "attr_writer", ".each do", " do |", ".nil?",
        "def self.", "rescue ", "# frozen_string_literal: true", ".empty?", "@@", ".map do", "&block",
        "def initialize", ".freeze", "module_function", ":nodoc:", "raise ArgumentError", "alias_method",
        ".to_s", ".to_sym", "block_given?", "=> e\n", "#{", "||=", ".include?(", "self.class", "^module ",
        ".each ", "do\n", "&.", "Struct.new(",
      ]
    ),
    (
      [(.ruby, 2)],
      [
        "puts \"", "puts '", "require '", "elsif ", "unless ", "end\nend", "__FILE__", "yield(", "|e|", "|x|",
        "|k, v|",
      ]
    ),
    ([(.ruby, 2), (.lua, 2), (.elixir, 1), (.julia, 1)], ["^end\n", "^end\r\n"]),
    ([(.ruby, 2), (.python, 2), (.scala, 1), (.elixir, 2)], ["^def "]),

    // MARK: Scala
    (
      [(.scala, 6)],
      [
        "case class ", "sealed trait ", "implicit ", "import scala.", ": Unit =", "match {", "case _ =>",
        "override def ", "Seq[", "Option[", "List[", "lazy val ", "private[", "def apply(", "extends App",
        "[A, B]", ": Int =", ": String =", "^given ",
      ]
    ),
    ([(.scala, 2)], ["^trait ", "object ", "[T]", "[A]", " => ", "^import ", "^package ", "val ", "def "]),

    // MARK: Kotlin
    (
      [(.kotlin, 7)],
      [
        "fun ", "override fun ", "data class ", "import kotlin.", "private fun ", "companion object",
        "lateinit ", "suspend fun ", "listOf(", "mutableListOf(", "mapOf(", "@JvmStatic", "import kotlinx.",
        "by lazy", "when (",
      ]
    ),
    (
      [(.kotlin, 2)],
      [
        "it.", "!!", "?:", "val ", "var ", ": Int", ": String", "internal ", "object :", "println(", "^package ",
        "^import ", "Unit", "init {", "import android.",
      ]
    ),

    // MARK: Swift
    (
      [(.swift, 7)],
      [
        "guard let ", "guard ", "import Foundation", "import UIKit", "import SwiftUI", "import XCTest",
        "import Testing", "fileprivate ", "@objc", "@available(", "weak var ", "inout ", "async throws",
        "@MainActor", "#expect(", "XCTAssert", "Sendable", "@escaping", "mutating func ", "public init(",
        "some View", "@State ", "@discardableResult", "@inlinable", "@usableFromInline", "case .",
        "public func ", "private func ",
      ]
    ),
    (
      [(.swift, 2)],
      [
        "func ", "if let ", "extension ", "protocol ", ".init(", "init(", "let ", "var ", "-> ", "self.", "nil",
        "try ", "^import ", "@Test", "public var ", "public let ", "private let ", "\\(",
      ]
    ),

    // MARK: Lua
    (
      [(.lua, 7)],
      [
        "local function ", "~=", " .. ", "ipairs(", "pairs(", "--[[", "self:", "setmetatable(", "table.insert(",
        "table.concat(", "return M\n", "function M.",
      ]
    ),
    (
      [(.lua, 2)],
      [
        "local ", "]]", "tostring(", "elseif ", " then\n", "string.format(", "require(\"", "require('",
        "require \"", "nil",
      ]
    ),

    // MARK: Assembly
    (
      [(.assembly, 6)],
      [
        "%eax", "%ebx", "%ecx", "%edx", "%esi", "%edi", "%esp", "%ebp", "%rax", "%rbx", "%rcx", "%rdx", "%rsi",
        "%rdi", "%rsp", "%rbp", "%r8", "%xmm0", "^.globl ", "^.global ", "^.text", "^.section ", "^.align ",
        "^.p2align ", "^.byte ", "^.long ", "^.quad ", "^.type ", "^.size ", "^section .text", "^section .data",
        "\tmov", "\tmovq", "\tmovl", "\tpush", "\tpushq", "\tpop", "\tpopq", "\tcall", "\tret", "\tjmp", "\tjne",
        "\tje", "\tjz", "\tjnz", "\tlea", "\tleaq", "\taddq", "\tsubq", "\txor", "\tcmp", "\tldr", "^TEXT ",
        "(SB)", "(FP)", "\tMOVQ", "\tMOVL", "\tMOVD", "\tRET", "\tJMP", "\tCALL", "\tCMPQ", "\tADDQ", "\tSUBQ",
        "\tLEAQ", "NOSPLIT", "textflag.h", "\tMOVW", "\tMOVB", "\tBEQ", "\tBNE", "\tORR", "\tXORQ", "\tVMOV",
        "\tSYSCALL", "\tvmov", "\tpxor", "\tsyscall",
      ]
    ),
    (
      [(.assembly, 2)],
      [
        "rax", "eax", "rsp", "esp", "^mov ", "^push ", "^pop ", "^call ", "^jmp ", "^db ", "^dd ", "^dw ",
        "^ret\n", "\tstr", "\tadd", "\tsub", "\tbl", "\tb.", "\tADD", "\tSUB", "\tAND", "\tCMP", "\tBL",
      ]
    ),

    // MARK: Visual Basic
    (
      [(.visualBasic, 8)],
      [
        "Dim ", "End Sub", "End Function", "End If", "Private Sub ", "Public Sub ", "Public Function ",
        "Private Function ", "ByVal ", "ByRef ", "Imports System", "End Module", "End Class", "MsgBox",
        "Option Explicit", "Option Strict", "As String", "As Integer", "As Object", "As Boolean", "As Long",
        "As Double", "As New ", "ElseIf ", "WScript.", "CreateObject(", "On Error ", "Wend", "End Select",
        "Select Case ", "End Property", "Property Get ", "Private Const ", "Exit Sub", "Exit Function",
        "Handles ", "AddressOf ", "Debug.Print",
      ]
    ),
    (
      [(.visualBasic, 2)],
      [
        "Then\n", "Then\r\n", "^Next", "^Sub ", "^Function ", "^Imports ", "^Module ", "^Set ", "Nothing",
        "^Public Class ", "^Rem ",
      ]
    ),

    // MARK: SQL
    (
      [(.sql, 6)],
      [
        "(?i)INSERT INTO ", "(?i)CREATE TABLE ", "(?i)ALTER TABLE ", "(?i)DROP TABLE ", "(?i)CREATE INDEX ",
        "(?i)CREATE UNIQUE INDEX ", "(?i)CREATE VIEW ", "(?i)CREATE OR REPLACE ", "(?i)CREATE FUNCTION ",
        "(?i)CREATE TYPE ",
        "(?i)CREATE SCHEMA ", "(?i)CREATE EXTENSION ", "(?i)CREATE TRIGGER ", "(?i)CREATE SEQUENCE ", "(?i)PRIMARY KEY",
        "(?i)FOREIGN KEY", "NOT NULL", "VARCHAR", "(?i)varchar(", "GROUP BY ", "ORDER BY ", "LEFT JOIN ", "INNER JOIN ",
        "(?i)LANGUAGE plpgsql", "(?i)COMMENT ON ", "DELETE FROM ", "BEGIN;", "COMMIT;", "(?i)\\echo ", "AS $$",
        "$$ LANGUAGE", "(?i)RAISE NOTICE", "COUNT(*)", "(?i)SET search_path", "(?i)ON DELETE CASCADE",
        "(?i)DROP FUNCTION",
        "(?i)ROLLBACK;", "(?i)nextval(", "(?i)::regclass", "SELECT\n", "IF NOT EXISTS", "IF EXISTS",
        "(?i)select * from ",
        "\\quit", "(?i)ALTER EXTENSION ", "(?i)ON FUNCTION ", "(?i)ALTER FUNCTION ", "(?i)RETURNS SETOF ",
        "(?i)RETURNS TABLE",
        "(?i)RETURNS void", "LANGUAGE C", "PARALLEL SAFE", "PARALLEL RESTRICTED", "'MODULE_PATHNAME'",
        "(?i)CREATE AGGREGATE ", "(?i)CREATE OPERATOR ", "(?i)ALTER OPERATOR ", "(?i)CREATE CAST ",
        "(?i)CREATE DOMAIN ",
        "(?i)DROP VIEW ", "(?i)DROP INDEX ", "(?i)ADD COLUMN ", "TO PUBLIC", "FROM PUBLIC",
      ]
    ),
    (
      [(.sql, 2)],
      [
        "SELECT ", " FROM ", " WHERE ", "VALUES (", "VALUES(", "UPDATE ", " SET ", "GRANT ", "REVOKE ", "INTEGER",
        "TEXT", "BIGINT", "BOOLEAN", "TIMESTAMP", "DEFAULT ", "$$;", " AND ", " OR ", " IS NULL", " IN (",
        "DECLARE", "END;", "DISTINCT ", "SERIAL", "EXECUTE ", "PERFORM ", "FROM\n", "(?i)::text", "(?i)::int",
        "RETURNS ", "(?i)REFERENCES ", "(?i)LANGUAGE sql", "STRICT", "IMMUTABLE", "STABLE", "VOLATILE",
        "EXECUTE ON ", "CREATE ",
      ]
    ),

    // MARK: Shell
    (
      [(.shell, 6)],
      [
        "^fi\n", "^fi;", "^done\n", "^done <", "^done;", "^esac", "; then\n", "; then", "; do\n", "; do",
        "if [ ", "if [[ ", "elif [", ">/dev/null", "> /dev/null", "2>&1", "set -e", "set -eu", "set -o ",
        "<<EOF", "<<'EOF'", "<< EOF", "^while read ", "^then\n", " || exit", "command -v ", " -z \"", " -n \"",
        " -f \"", " -d \"", "$((",
      ]
    ),
    (
      [(.shell, 2)],
      [
        "$(", "${", "$1", "$2", "$@", "$#", "\"$", "exit 1", "exit 0", "^export ", "^local ", "^echo ", "^unset ",
        "^shift", "^cd ", "^source ", "^mkdir ", "^rm -", "^sed ", "^grep ", "^cat <<", "$HOME", "$PATH",
        "^for i in ", "^case ", "^else\n", "^if test ", "basename ", "dirname ", " && ", "^trap ", "^readonly ",
        "^declare ", "^printf ", "\" = \"", " -eq ", " -ne ", " -gt ", " -lt ", "^apt-get ", "^sudo ",
        "^function ", "() {\n", "^chmod ", ";;", "$?",
      ]
    ),

    // MARK: Perl
    (
      [(.perl, 8)],
      [
        "my $", "my @", "my %", "use strict;", "use warnings;", "$self->", "->{", "^=head1", "^=head2", "^=cut",
        "^=pod", "^=item", "qw(", "qw/", "local $", "foreach my ", "chomp", "@ARGV", "$ENV{", "bless ",
        "wantarray", "print STDERR", "or die", "=~ s/", "=~ /", "@EXPORT", "$VERSION", "keys %", "exists $",
        "defined $", "shift;", "@_",
      ]
    ),
    (
      [(.perl, 2)],
      [
        "my (", "^sub ", "$_", "=~ ", "^1;", "__END__", "scalar(", "^use ", "^package ", "die \"", "unless (",
        "elsif (", "$0", "ref($", "->new(", "$$", "\\@", "\\%", "@{", "%{", "::", "Carp", "^our ", "$#",
        "sprintf(\"", "return unless",
      ]
    ),

    // MARK: Haskell
    (
      [(.haskell, 7)],
      [
        "import qualified ", " :: ", "deriving (", "deriving ", "<$>", ">>=", "<*>", "IO ()", "main :: IO", "{-#",
        "#-}", "putStrLn", "mapM_", "import Data.", "import Control.", "newtype ", "-> IO", "fromIntegral",
        "{- ", " -}", "\\x ->", "return ()",
      ]
    ),
    (
      [(.haskell, 2)],
      [
        "Maybe ", "Just ", "otherwise", "^instance ", "^data ", "^type ", "^module ", " where\n", "show ",
        "case ", "let ", "<- ", "=>",
      ]
    ),

    // MARK: R
    (
      [(.r, 7)],
      [
        "<- function(", "library(", "data.frame(", "%>%", "%in%", "ggplot(", "is.na(", "paste0(", "setwd(",
        "stopifnot(", "rnorm(", "nrow(", "ncol(", "lapply(", "sapply(", "seq_len(", "seq_along(",
        "if (is.null(", "invisible(", "vapply(",
      ]
    ),
    (
      [(.r, 2)],
      [
        "<- ", "c(", "paste(", "TRUE", "FALSE", "NULL", "NA", "function(x)", "cat(", "list(", "@export",
        "@param", "require(",
      ]
    ),

    // MARK: Prolog
    (
      [(.prolog, 8)],
      [" :-\n", "[H|T]", "|T]", "findall(", "nl.", "assertz(", "^:- module(", "^:- use_module("]
    ),
    ([(.prolog, 2)], [":- ", "!.", "\\+", "format(\"", "atom(", "member(", "write("]),

    // MARK: HTML and XML
    (
      [(.html, 8)],
      [
        "(?i)<!DOCTYPE html", "<html", "</html>", "<head>", "</head>", "<body", "</body>", "<div", "</div>",
        "<script", "</script>", "<meta ", "<title>", "<table", "<span", "</span>", "<link ", "&nbsp;", "<img ",
        "<h1", "<h2", "<h3", "<form", "<input ", "<button", "<style", "<tr>", "<td>", "<nav", "<section",
        "<footer", "<header",
      ]
    ),
    (
      [(.html, 2)],
      [
        "<!-- ", "class=\"", "id=\"", "href=\"", "<p>", "</p>", "<a href=", "<br>", "<br/>", "<br />", "<ul>",
        "<li>", "</li>", "<em>", "<strong>", "<code>", "<pre>", "</a>", "<b>", "<i>", "<tt>",
      ]
    ),
    (
      [(.xml, 8)],
      [
        "<?xml ", "xmlns:", "xmlns=", "<![CDATA[", "xsi:", "xsl:", "<project", "<dependency>", "<groupId>",
        "<artifactId>", "<plist ", "<dict>", "<key>", "<svg ", "<resources>", "<manifest ", "<configuration>",
      ]
    ),
    ([(.xml, 1.5)], ["</", "/>", "<!-- ", "<!DOCTYPE ", "<string>", "encoding=\"UTF-8\""]),

    // MARK: CSS and friends
    (
      [(.css, 6), (.scss, 4), (.less, 4)],
      [
        "color:", "margin:", "padding:", "font-size:", "font-family:", "font-weight:", "background-color:",
        "background:", "display:", "border:", "border-radius:", "text-align:", "position:", "px;", "em;", "rem;",
        "!important", "@media ", ":hover", ":focus", "rgba(", "#fff;", "#000;", "width:", "height:",
        "margin-top:", "margin-bottom:", "padding-left:", "line-height:", "z-index:", "@import url(",
        "@font-face", "opacity:", "cursor: pointer", "@keyframes ", "transition:", "box-sizing:", "overflow:",
        "float:",
      ]
    ),
    ([(.scss, 8)], ["@mixin ", "@include ", "@extend ", "&:hover", "@use "]),
    ([(.less, 8)], [".mixin(", "e(%"]),

    // MARK: JSON, YAML, Markdown, reStructuredText
    (
      [(.json, 2)],
      [
        "\": {", "\": [", "\": \"", "\": true", "\": false", "\": null", "\": 0", "\": 1", "\":{", "\":[",
        "\":\"", "\":true", "\":false", "\":null",
      ]
    ),
    (
      [(.yaml, 5)],
      [
        "apiVersion: ", "runs-on: ", "uses: ", "^- name: ", "steps:\n", "jobs:\n", "- run: ", "hosts: ",
        "tasks:\n", "services:\n",
      ]
    ),
    (
      [(.yaml, 1.5)],
      [
        "^---\n", "kind: ", "spec:\n", "metadata:\n", "on:\n", "^version: ", "^name: ", "dependencies:\n",
        ": |\n", ": >\n", "^- ", "image: ", "env:\n", ": true\n", ": false\n", "with:\n",
      ]
    ),
    (
      [(.markdown, 5)],
      ["```", "](http", "](./", "](#", "[![", "^- [ ] ", "^- [x] ", "| --- |", "|---|"]
    ),
    (
      [(.markdown, 1.5)],
      ["^## ", "^### ", "^#### ", "^* ", "^- ", "^1. ", "**", "^> ", "^===\n", "^---\n", "<details>"]
    ),
    (
      [(.restructuredtext, 7)],
      [
        ".. code-block::", ".. note::", ".. warning::", ".. _", ".. toctree::", ".. image::", ".. automodule::",
        ":ref:`", ":func:`", ":class:`", ":meth:`", ".. versionadded::", ".. seealso::", ".. function::",
        ".. directive::",
      ]
    ),
    ([(.restructuredtext, 1.5)], ["^====", "^----", "^~~~~", "`_", "::\n\n"]),

    // MARK: Build and config files
    (
      [(.makefile, 7)],
      [
        ".PHONY:", "$(CC)", "$(MAKE)", "$(CFLAGS)", "%.o: %.c", "ifeq (", "ifneq (", "$(wildcard ",
        "$(patsubst ", "$(shell ", "\t@echo ", "$(RM)", "$(foreach ", "$(call ", "$(addprefix ",
      ]
    ),
    (
      [(.makefile, 2)],
      [
        "$@", "$<", "$^", "?= ", "^all:", "^clean:", "^install:", "^endif", "^ifdef ", "\t$(", "CFLAGS",
        "LDFLAGS", "^include ", "^-include ",
      ]
    ),
    ([(.makefile, 5)], [":\n\t", "include ../tools.mk", "$(TMPDIR)", "$(RUSTC)", "$(PYTHON)", "$(SHELL)"]),
    (
      [(.dockerfile, 8)],
      ["^RUN ", "^COPY ", "^WORKDIR ", "^ENTRYPOINT ", "^CMD [", "^EXPOSE ", "^HEALTHCHECK "]
    ),
    ([(.dockerfile, 2)], ["^FROM ", "^ENV ", "^ARG ", "^ADD ", "^USER ", "^VOLUME ", "^LABEL "]),
    (
      [(.cmake, 9)],
      [
        "cmake_minimum_required(", "add_executable(", "add_library(", "target_link_libraries(",
        "target_include_directories(", "${CMAKE_", "find_package(", "include_directories(", "message(STATUS",
        "endif()", "set(CMAKE_", "add_subdirectory(", "add_definitions(", "endforeach()", "endfunction()",
      ]
    ),
    ([(.cmake, 2)], ["project("]),
    (
      [(.starlark, 7)],
      ["^load(\"", "cc_library(", "cc_binary(", "py_library(", "py_binary(", "java_library(", "go_library("]
    ),
    ([(.starlark, 2)], ["deps = [", "srcs = [", "visibility = [", "name = \""]),
    ([(.hcl, 9)], ["resource \"", "variable \"", "provider \"", "module \"", "terraform {", " = var.", "locals {"]),
    ([(.hcl, 2)], ["data \"", "output \""]),
    ([(.nix, 9)], ["mkDerivation", "with pkgs;", "nativeBuildInputs", "fetchFromGitHub", "{ pkgs ? import"]),
    ([(.nix, 2)], ["pkgs.", "inherit ", "buildInputs", "fetchurl", "rec {", "lib."]),
    ([(.toml, 8)], ["^[package]", "^[dependencies]", "^[dev-dependencies]", "^[tool.", "^[build-system]"]),
    ([(.toml, 2)], ["^[["]),
    ([(.ini, 3)], ["^[Unit]", "^[Service]", "^[Install]", "^[Desktop Entry]", "^[general]", "^[main]"]),
    (
      [(.protobuf, 9)],
      ["syntax = \"proto", "option java_package", "^rpc ", "returns (", "repeated ", "google.protobuf."]
    ),
    ([(.protobuf, 2)], ["^message ", "^service ", "= 1;", "= 2;", "= 3;", "^option "]),
    (
      [(.graphql, 9)],
      [
        "type Query {", "type Mutation {", "^fragment ", "extend type ", ": ID!", ": String!", ": Int!",
        ": Boolean!", "^schema {",
      ]
    ),
    ([(.graphql, 2)], ["^query ", "^mutation ", "^input ", "^scalar ", "^subscription "]),

    // MARK: Tcl, Vim script, Lisps, Erlang, Elixir
    (
      [(.tcl, 7)],
      [
        "^proc ", "$::", "namespace eval ", "package require ", "expr {", "lappend ", "lindex ", "uplevel ",
        "[string ", "[llength ", "[list ", "[lindex ", "[expr ", "[file ", "namespace export ", "return -code",
      ]
    ),
    ([(.tcl, 2)], ["incr ", "^set ", "} else {", "puts "]),
    (
      [(.vimscript, 8)],
      [
        "^endfunction", "^function!", "^endfunc", "^func!", "^augroup ", "^autocmd ", "^nnoremap ", "^noremap ",
        "^inoremap ", "^vnoremap ", "^nmap ", "^setlocal ", "^let g:", "^let s:", "^let b:", "^let l:", "&cpo",
        "^hi def link", "^command! ", "^if exists(", "^setl ", "^endwhile", "^endfor", "^unlet ",
      ]
    ),
    (
      [(.vimscript, 2)],
      [
        "^endif", "^au ", "^call ", "^\" ", "a:", "^syn ", "^syntax ", "^hi ", "^exe ", "^execute ", "^let ",
        "^finish", "^silent ",
      ]
    ),
    (
      [(.emacsLisp, 5), (.commonLisp, 5)],
      ["(defun ", "(defvar ", "(defmacro ", "#'", "(let* (", ";;; "]
    ),
    ([(.emacsLisp, 6), (.commonLisp, 2)], ["(setq ", "(let (("]),
    (
      [(.emacsLisp, 1.5), (.commonLisp, 1.5), (.scheme, 1.5), (.racket, 1.5), (.clojure, 1.5)],
      ["(if (", "(when ", "(unless ", "(progn", "(cond", ";; ", "(lambda ("]
    ),
    (
      [(.emacsLisp, 9)],
      [
        "(require '", "(provide '", "(defcustom ", "(interactive", "(defgroup ", "(defface ", ";;; Code:",
        "(point)", "(save-excursion", "(message \"", "(add-hook '", "(define-key ",
      ]
    ),
    (
      [(.commonLisp, 9)],
      [
        "(defpackage ", "(in-package ", "(defmethod ", "(defclass ", "(defparameter ", "(format t ",
        "(loop for ", "(setf ", "(declare ", "(defgeneric ", "(asdf:",
      ]
    ),
    (
      [(.scheme, 8), (.racket, 6)],
      [
        "(define (", "(define ", "(display ", "(newline)", "(set! ", "(car ", "(cdr ", "(cons ", "(else ",
        "(let loop ", "(null? ",
      ]
    ),
    ([(.scheme, 2), (.racket, 2)], ["#t", "#f"]),
    ([(.racket, 10)], ["#lang racket", "#lang ", "(require racket", "(module+ "]),
    (
      [(.clojure, 9)],
      [
        "(defn ", "(ns ", "(def ", "(let [", "(fn [", ":require [", "(defn- ", "(->> ", "(-> ", "(println ",
        ":keys [", "(assoc ", "(defrecord ",
      ]
    ),
    (
      [(.erlang, 9)],
      [
        "-module(", "-export([", "-include(", "-include_lib(", "-record(", "-spec ", "-define(", "io:format(",
        "?MODULE", "gen_server", "lists:",
      ]
    ),
    ([(.erlang, 2)], ["receive\n", "end.\n", " -> ", "ok;", "{ok, ", "{error, ", "fun("]),
    (
      [(.elixir, 9)],
      [
        "defmodule ", "defp ", "do:", "@moduledoc", "@doc \"\"\"", "IO.puts", "{:ok, ", "{:error, ", "Enum.",
        "use GenServer", "@spec ",
      ]
    ),
    ([(.elixir, 2)], ["def ", " do\n", "fn ", "->", "|> ", "%{", "alias "]),

    // MARK: Other languages
    (
      [(.dart, 8)],
      [
        "import 'package:", "Widget build(", "@override", "setState(", "required this.", "StatelessWidget",
        "StatefulWidget",
      ]
    ),
    ([(.dart, 2)], ["Future<", "dynamic ", "void main()", "final ", "const "]),
    (
      [(.powershell, 9)],
      [
        "$PSScriptRoot", "param(", "Write-Host", "Write-Output", "Write-Error", "$true", "$false", "$null",
        "| Out-Null", "-ErrorAction", "[CmdletBinding()]", "Import-Module", "$_.", "New-Object", "[Parameter(",
      ]
    ),
    ([(.powershell, 2)], ["-eq ", "-ne ", "[string]", "[int]", "Get-", "Set-", "-Path "]),
    (
      [(.batch, 9)],
      [
        "(?i)@ECHO OFF", "^REM ", "^rem ", "%~dp0", "GOTO ", "goto :", "(?i):EOF", "(?i)SET /P ", "(?i)%ERRORLEVEL%",
        "(?i)IF EXIST ", "(?i)SETLOCAL", "(?i)ENDLOCAL", "IF NOT ", "ECHO.", "(?i)IF ERRORLEVEL ",
      ]
    ),
    ([(.batch, 2)], ["%%"]),
    (
      [(.groovy, 7)],
      [
        "apply plugin:", "dependencies {", "implementation '", "implementation \"", "repositories {",
        "mavenCentral()", "pipeline {", "testImplementation ",
      ]
    ),
    ([(.groovy, 2)], ["println ", "def ", "task ", "stage(", "sh '"]),
    ([(.fsharp, 9)], ["let mutable ", "open System", "printfn ", "member this."]),
    ([(.fsharp, 2)], ["[<", ">]", "|> ", "let rec ", "match ", " with\n", "module ", "let ", "->", "fun "]),
    ([(.ocaml, 9)], ["let () =", "Printf.printf", "^sig\n"]),
    (
      [(.ocaml, 2)],
      [
        "let rec ", "^open ", "(*", "*)", ";;", "List.map", "match ", " with\n", "let ", "->", "fun ",
        "^module ", "struct\n", "^end\n",
      ]
    ),
    (
      [(.pascal, 9)],
      ["END.", "PROCEDURE ", "writeln(", "WriteLn(", "^uses ", "integer;", "Integer;", "{$", "(?i)implementation\n"]
    ),
    (
      [(.pascal, 2)],
      [
        "(?i)BEGIN\n", "(?i)END;", "PROGRAM ", "FUNCTION ", "^unit ", "(?i)interface\n", "string;", ":= ",
        "(?i)VAR\n", "procedure ", "end.\n",
      ]
    ),
    (
      [(.fortran, 9)],
      [
        "(?i)SUBROUTINE ", "(?i)END SUBROUTINE", "(?i)INTEGER ::", "(?i)REAL ::", "(?i)IMPLICIT NONE", "(?i)END DO",
        "(?i)INTENT(",
        "(?i)WRITE(*", "(?i)PRINT *,", "(?i)DIMENSION(", ".AND.", ".EQ.", ".TRUE.", ".FALSE.", "(?i)END PROGRAM",
        "(?i)END MODULE", "(?i)DOUBLE PRECISION", "(?i)CHARACTER(LEN",
      ]
    ),
    ([(.fortran, 1.5)], ["(?i)CALL ", "USE ", "(?i)CONTAINS\n"]),
    (
      [(.cobol, 10)],
      [
        "IDENTIFICATION DIVISION", "PROCEDURE DIVISION", "DATA DIVISION", "WORKING-STORAGE SECTION", "PIC X(",
        "PIC 9(", "STOP RUN", "ENVIRONMENT DIVISION",
      ]
    ),
    ([(.cobol, 2)], ["PERFORM ", "MOVE ", "DISPLAY "]),
    (
      [(.julia, 8)],
      ["mutable struct ", "abstract type ", "Float64", "Int64", "@time ", "for i in 1:", ".jl\""]
    ),
    (
      [(.julia, 2)],
      [
        "^using ", "^export ", "println(", "^function ", "^end\n", "::", "include(\"", "^module ", "where {",
        "@test ",
      ]
    ),
    ([(.zig, 10)], ["@import(\"std\")", "@import(", "comptime ", "!void", "const std = ", "errdefer "]),
    ([(.zig, 2)], ["pub fn ", "defer ", "try "]),
    ([(.glsl, 9)], ["gl_Position", "gl_FragColor", "varying ", "sampler2D", "layout(location", "#version "]),
    (
      [(.glsl, 2)],
      [
        "uniform ", "attribute ", "vec2 ", "vec3 ", "vec4 ", "in vec", "out vec", "texture(", "mat4 ",
        "void main()",
      ]
    ),
    (
      [(.cuda, 10)],
      [
        "__global__", "__device__", "__shared__", ">>>(", "cudaMalloc", "threadIdx", "blockIdx", "cudaMemcpy",
        "__syncthreads()",
      ]
    ),
    (
      [(.verilog, 9)],
      [
        "endmodule", "always @(", "posedge ", "negedge ", "input wire", "output reg", "always_ff", "endcase",
        "$display(",
      ]
    ),
    ([(.verilog, 2)], ["wire ", "reg ", "assign ", "^module ", "begin\n", "end\n", "logic "]),
    (
      [(.vhdl, 9)],
      [
        "(?i)std_logic", "(?i)LIBRARY IEEE;", "(?i)USE IEEE.", "(?i)END ARCHITECTURE", "(?i)END PROCESS",
        "(?i)ARCHITECTURE ",
        "ENTITY ", "SIGNAL ",
      ]
    ),
    ([(.vhdl, 2)], ["<= ", "(?i)PROCESS (", "(?i)PORT (", "(?i)BEGIN\n", "IS\n"]),
    ([(.solidity, 10)], ["pragma solidity", "^contract ", "uint256", "msg.sender", "mapping(", "payable"]),
    ([(.solidity, 2)], ["emit ", "modifier ", "address ", "require("]),
    (
      [(.latex, 9)],
      [
        "\\documentclass", "\\begin{", "\\end{", "\\usepackage", "\\section{", "\\subsection{", "\\textbf{",
        "\\emph{", "\\label{", "\\ref{", "\\cite{", "\\newcommand", "\\frac{", "\\includegraphics",
        "\\maketitle", "\\title{", "\\author{", "\\def\\", "\\hline",
      ]
    ),
    ([(.latex, 2)], ["\\item ", "\\par\n", "\\\\\n"]),
    (
      [(.vue, 9)],
      [
        "<template>", "</template>", "<script setup", "v-if=\"", "v-for=\"", ":class=\"", "@click=\"",
        "v-model=\"", "<style scoped",
      ]
    ),
    ([(.vue, 2)], ["export default {"]),
    ([(.svelte, 9)], ["{#if ", "{/if}", "{#each ", "{/each}", "on:click"]),
    ([(.svelte, 2)], ["<script>", "export let ", "$: "]),
    ([(.awk, 8)], ["BEGIN {", "END {", "print $", "getline", "split($", "FS = ", "FS=", "OFS"]),
    ([(.awk, 2)], ["$0", "NF", "NR", "printf(\""]),
    (
      [(.applescript, 10)],
      ["tell application \"", "end tell", "display dialog", "end repeat", "repeat with "]
    ),
    ([(.applescript, 2)], ["^on run", "end if"]),
    ([(.elm, 10)], ["exposing (", "import Html", "^type alias ", "Html.Attributes", "Cmd Msg", "update : Msg"]),
    ([(.ada, 10)], ["(?i)WITH Ada.", "(?i)USE Ada.", "(?i)PACKAGE BODY ", "(?i)END LOOP;", "Put_Line("]),
    ([(.ada, 2)], ["(?i)END IF;", "(?i)PROCEDURE ", " is\n", "(?i)BEGIN\n", ":= "]),
    ([(.d, 9)], ["import std.", "@safe", "@nogc", "unittest {", "immutable "]),
    ([(.d, 2)], ["writeln(", "auto ", "!(", "module "]),
    ([(.nim, 9)], ["when isMainModule", "import std/"]),
    ([(.nim, 2)], ["proc ", "echo ", "var ", "let ", ": int", ": string", "^  result"]),
  ]
}
