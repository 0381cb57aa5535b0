// Short real snippets, one language each, for `lang.code@1` tests. They come from files on a
// Debian machine (Python stdlib, JDK src.zip, glibc and libstdc++ headers, the Go, Rust and Ruby
// source packages, npm, Perl, PostgreSQL, Penlight, swift-nio, Vapor, BoringSSL) and from
// Pygments' example files; a few lines each, verbatim (the JSON one is cut to a valid object),
// so the tests show real code.

/// (expected canonical name, snippet): each must be detected from the content alone.
let codeFixtures: [(String, String)] = [
  (
    "python",
    """

    import os
    from warnings import warn
    import sys

    try:
        import zipfile
    except ImportError:
        zipfile = None
    """
  ),
  (
    "python",
    """
    def _format_handle(handle):
        cb = handle._callback
        if isinstance(getattr(cb, '__self__', None), tasks.Task):
            # format the task
            return repr(cb.__self__)
        else:
            return str(handle)
    """
  ),
  (
    "c",
    """

    #include <ctype.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <syslog.h>
    #include <sys/time.h>
    #include <sys/types.h>
    #include <unistd.h>
    """
  ),
  (
    "c",
    """

    static void credential_init(struct credential *c)
    {
    \tmemset(c, 0, sizeof(*c));
    }

    static void credential_clear(struct credential *c)
    {
    \tg_free(c->protocol);
    """
  ),
  (
    "cpp",
    """
    {
    namespace __internal
    {

    template <typename _Fp>
    typename std::result_of<_Fp()>::type
    __except_handler(_Fp __f)
    {
        try
    """
  ),
  (
    "cpp",
    """
    {

    using namespace __pstl::execution;

    /* predicate */

    template <typename _Tp>
    std::false_type __lazy_and(_Tp, std::false_type)
    {
    """
  ),
  (
    "java",
    """

    import javax.swing.*;

    import java.awt.*;
    import java.awt.event.*;
    import javax.swing.plaf.*;
    import java.io.Serializable;
    """
  ),
  (
    "java",
    """
    package sun.jvm.hotspot.types.basic;

    import java.util.HashMap;
    import java.util.Iterator;
    import java.util.Map;
    """
  ),
  (
    "javascript",
    """
    var eaw = {};

    if ('undefined' == typeof module) {
      window.eastasianwidth = eaw;
    } else {
      module.exports = eaw;
    }

    eaw.eastAsianWidth = function(character) {
    """
  ),
  (
    "javascript",
    """
    'use strict'

    // tar -u

    const hlo = require('./high-level-opt.js')
    const r = require('./replace.js')
    // just call tar.r with the filter and mtimeCache

    module.exports = (opt_, files, cb) => {
    """
  ),
  (
    "typescript",
    """

    /// <reference no-default-lib="true"/>


    interface ErrorOptions {
        cause?: unknown;
    }

    interface Error {
    """
  ),
  (
    "typescript",
    """

    /// <reference no-default-lib="true"/>


    interface RegExpMatchArray {
        groups?: {
            [key: string]: string
        }
    }
    """
  ),
  (
    "php",
    """
    <?php

    $x = array(0123, 0x0a, -0x0a, -0123, 12, -12);

    ?>
    """
  ),
  (
    "php",
    """
    final class HttpUtil {
      /**
       * HTTP Status Codes to Text Lookup Table.
       */
      private static $codeTextMap = [
          100 => "Continue",
          101 => "Switching Protocols",
          200 => "OK",
    """
  ),
  (
    "go",
    """
    package riscv

    import (
    \t"fmt"

    \t"cmd/internal/obj"
    )

    func init() {
    """
  ),
  (
    "go",
    """

    type Client struct {
    \tProxyBin string
    \tArgs     []string

    \tinsecure bool
    }

    func (c *Client) Run() error {
    """
  ),
  (
    "rust",
    """
    use super::*;

    use crate::ffi::OsStr;
    use crate::mem;
    use crate::ptr;
    use crate::sys::{cvt, cvt_nz};

    macro_rules! t {
        ($e:expr) => {
    """
  ),
  (
    "rust",
    """
    use super::*;
    use crate::vec::Vec;

    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::thread;

    use rand::{thread_rng, RngCore};

    #[test]
    """
  ),
  (
    "ruby",
    """

        def []=(key, v)
          synchronize do
            @hash[key] = v
          end
        end
      end

      class DRbObject # :nodoc:
    """
  ),
  (
    "ruby",
    """
      def self.blub x
        if not x.nil?
          self.new
        end
      end
      def another_way_to_get_class
        self.class
      end
    end
    """
  ),
  (
    "perl",
    """
    package subs;

    use strict;
    use warnings;

    our $VERSION = '1.04';

    =head1 NAME
    """
  ),
  (
    "perl",
    """
    package Net::POP3;

    use 5.008001;

    use strict;
    use warnings;

    use Carp;
    use IO::Socket;
    """
  ),
  (
    "shell",
    """
    \texit $1
    }

    if test $# -eq 0; then
    \tusage 1 1>&2
    fi
    """
  ),
  (
    "shell",
    """

        exit $1
    }

    if test $# -eq 0; then
        usage 1
    fi

    while test $# -gt 0; do
    """
  ),
  (
    "sql",
    """
    CREATE OR REPLACE FUNCTION something() RETURNS int4 AS
    $x$
    BEGIN
        RETURN 42;
    END
    $x$
    LANGUAGE 'plpgsql';
    """
  ),
  (
    "sql",
    """

    --
    -- hash_page_type()
    --
    CREATE FUNCTION hash_page_type(IN page bytea)
    RETURNS text
    AS 'MODULE_PATHNAME', 'hash_page_type'
    LANGUAGE C STRICT PARALLEL SAFE;
    """
  ),
  (
    "lua",
    """
           end
        else
           for k,v in pairs(t) do
               self:set(k,v)
           end
        end
       return self
    end
    """
  ),
  (
    "lua",
    """

    local function rstrip(s)
        return (s:gsub('%s+$',''))
    end

    local function strip (s)
        return (rstrip(s):gsub('^%s*',''))
    end
    """
  ),
  (
    "assembly",
    """

    _md5_block_asm_data_order:

    _CET_ENDBR
    \tpushq\t%rbp

    \tpushq\t%rbx

    \tpushq\t%r12
    """
  ),
  (
    "assembly",
    """
    \tpand\t%xmm2,%xmm0




    \tpxor\t%xmm2,%xmm2
    \tpxor\t%xmm3,%xmm3
    \tmovq\t$5,%rax
    L$oop_row_1:
    """
  ),
  (
    "assembly",
    """
    TEXT ·Cas(SB),NOSPLIT,$0-17
    \tMOVQ\tptr+0(FP), BX
    \tMOVL\told+8(FP), AX
    \tMOVL\tnew+12(FP), CX
    \tLOCK
    \tCMPXCHGL\tCX, 0(BX)
    \tSETEQ\tret+16(FP)
    \tRET
    """
  ),
  (
    "swift",
    """
    import NIOEmbedded
    import NIOPosix
    import XCTest

    final class SuperNotSendable {
        var x: Int = 5
    }

    @available(*, unavailable)
    """
  ),
  (
    "swift",
    """
    import Foundation

    public struct Validations: Sendable {
        var storage: [Validation]

        public init() {
            self.storage = []
        }
    """
  ),
  (
    "kotlin",
    """
    object Countries {
      fun get(id : CountryID) : Country = countryTable[id]

      private var table : Map<String, Country>? = null
      private val countryTable : Map<String, Country>
        get() {
          if (table == null) {
            table = HashMap()
    """
  ),
  (
    "scala",
    """
    private object a {}
    private[com] object b {}
    private[com.example] object c {}
    protected object d {}
    protected[com] object e {}
    protected[com.example] object f {}
    synchronized {}
    abstract class g {}
    final val h = ???
    """
  ),
  (
    "scala",
    """
    extension (x: String)
       def < (y: String): Boolean = ...
    extension (x: Elem)
       def +: (xs: Seq[Elem]): Seq[Elem] = ...
    extension (x: Number)
       infix def min (y: Number): Number = ...
    extension (ss: Seq[String])
       def longestStrings: Seq[String] =
          val maxLength = ss.map(_.length).max
    """
  ),
  (
    "csharp",
    """
    namespace Diva.Core {

            using System;
            using Widgets;
            using System.Xml;
            using Util;
            using System.Collections.Generic;
            using System.Collections;
            using Basics;
    """
  ),
  (
    "visual_basic",
    """
    Next

    Public Sub createFile(a)
        Dim fso, TargetFile
        TargetPath = "C:\\some_" & a & ".tmp"
        Set fso = CreateObject("Scripting.FileSystemObject")
        Set TargetFile = fso.CreateTextFile(TargetPath)
        TargetFile.WriteLine("Hello " & vbCrLf & "world!")
        TargetFile.Close
    """
  ),
  (
    "visual_basic",
    """

        Private Sub btnStop_Click(ByVal sender As System.Object, _
              ByVal e As System.EventArgs) Handles btnStop.Click

            t.Enabled = False
        End Sub
    """
  ),
  (
    "haskell",
    """
    {-# LANGUAGE DeriveDataTypeable #-}
    {-# LANGUAGE DeriveGeneric #-}
    module Distribution.Types.ConfVar (
        ConfVar(..),
        ) where

    import Prelude ()
    import Distribution.Compat.Prelude
    """
  ),
  (
    "haskell",
    """

    (-->) :: Num a => a -- signature
    (-->) = 2 -- >implementation

    --test comment
    -- test comment

    main :: IO ()
    main = putStrLn "hello world"
    """
  ),
  (
    "html",
    """
    <html>
    <head>
    <script>
        function initCodeBlock(id); {
            var el = document.getElementById(id);
        }
    </script>
    <style>
    """
  ),
  (
    "css",
    """

    body {
        background-color: #f0f0f8;
    }

    table.heading tr {
        background-color: #7799ee;
    """
  ),
  (
    "css",
    """
    body
    {
      font-family: sans-serif;
      background-color: white;
      font-size: 14pt;
      color: #444444;
    }
    """
  ),
  (
    "objective_c",
    """
    // Class forward declaration
    @class MyClass;

    // Empty classes
    @interface EmptyClass
    @end
    @interface EmptyClass2
    {
    }
    """
  ),
  (
    "r",
    """
    ## Switch
    x <- 3
    switch(x, 2+2, mean(1:10), rnorm(5))
    ## Function, dot-dot-dot, return, sum
    foo <- function(...) {
        return(sum(...))
    }
    """
  ),
  (
    "makefile",
    """
    all: $(PROGS)

    .c:
    \t$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

    clean:
    \t-rm -f $(PROGS)
    """
  ),
  (
    "tcl",
    """
    namespace eval msgcat {
      namespace export mcset mcdump
      variable header ""
    }

    proc msgcat::puts_po_string {str} {
    """
  ),
  (
    "vimscript",
    """

    if exists("b:did_indent")
    \tfinish
    endif
    let b:did_indent = 1

    let s:save_cpo = &cpo
    set cpo&vim
    """
  ),
  (
    "erlang",
    """

    do_accept(LSocket) ->
        case gen_tcp:accept(LSocket) of
            {ok, Socket} ->
                spawn(?MODULE, handle_client, [Socket]),
                client_manager ! {connect, Socket};
            {error, Reason} ->
                io:format("Socket accept error: ~s~n", [Reason])
        end,
    """
  ),
  (
    "zig",
    """
    const std = @import("std");
    const Allocator = mem.Allocator;
    const mem = std.mem;
    const ast = std.zig.ast;
    const Visib = @import("visib.zig").Visib;
    """
  ),
  (
    "json",
    """
    {
      "name": "eastasianwidth",
      "version": "0.2.0",
      "description": "Get East Asian Width from a character.",
      "main": "eastasianwidth.js",
      "files": [
        "eastasianwidth.js"
      ]
    }
    """
  ),
]

/// (language, paragraph): prose from translated man pages, plus one English paragraph written
/// for the test that is full of code words; none may get a programming language.
let proseFixtures: [(String, String)] = [
  (
    "en",
    """
    DESCRIPTION
           Git differs from CVS in that every working tree contains a repository
           with a full copy of the project history, and no repository is
           inherently more important than any other. However, you can emulate the
           CVS model by designating a single shared repository which people can
           synchronize with; this document explains how to do that.
    """
  ),
  (
    "de",
    """
    BESCHREIBUNG
           dpkg-genchanges liest Informationen aus einem entpackten und gebauten
           Debian-Quellcodebaum und aus den darin erzeugten Dateien und erzeugt
           eine Debian-Steuerdatei für das Hochladen (die .changes-Datei).
    """
  ),
  (
    "fr",
    """
    DESCRIPTION
           Ce programme utilise les 3 versions fournies de journal des
           modifications (« changelog ») Debian pour créer un fichier de
           journalisation fusionné. Le résultat est placé dans le fichier sortie
           ou affiché sur la sortie standard si ce paramètre est omis.
    """
  ),
  (
    "es",
    """
    DESCRIPCIÓN
           remove-shell modifica los archivos temporales /etc/shells.tmp y
           /etc/shells.tmp2 para eliminar las consolas introducidas de la lista de
           consolas de sesión admitidas, y copia el resultado a /etc/shells.
    """
  ),
  (
    "pt",
    """
    Isto destina-se a ser usado por outros ajudantes do dpkg, ou por
           scripts de maintainer em vez de se usar realpath(1) ou readlink(1) para
           canonizar nomes de caminhos, pois estes últimos comandos não suportam
           canonização relativa a uma raiz diferente de /.
    """
  ),
  (
    "pl",
    """
    OPIS
           Format .deb jest formatem binarnego pakietu Debiana. Ta strona
           podręcznika opisuje stary format, używany przed wersją 0.93 Debiana.
           Szczegóły nowego formatu można znaleźć w deb(5).
    """
  ),
  (
    "ru",
    """
    ОПИСАНИЕ
           В начале каждой справочной страницы есть её краткое описание. whatis
           осуществляет поиск в названиях справочных страниц и отображает описания
           всех страниц, подходящих под название.
    """
  ),
  (
    "uk",
    """
    ПАРАМЕТРИ
           -s, --scale число
                  За допомогою параметра масштабування можна встановити
                  вертикальний масштаб показу (у символах між позначками на
                  графіку). Менше значення відповідає більшому масштабу, а більше
                  значення меншому масштабу.
    """
  ),
  (
    "zh",
    """
    <文件名>: 页面(章节) 的 whatis 解析失败
                  从给定 <文件名> 提取 whatis
                  行失败。这通常是由于手册编写不当导致的。但如果出现了大量这种消息，则可能是系统包含非标准的，和
                  man-db whatis 解析器不兼容的手册页。请参阅 lexgrog(1) 中的
                  WHATIS PARSING 一节了解更多信息。
    """
  ),
  (
    "ja",
    """
    ログインシェルは、 コマンド名が /etc/shells
           に記載されていればなんでも良い。
           スーパーユーザの場合はこの制限はなく、いかなる値でも指定できる。
           機能を制限されたログインシェルを用いているアカウントからは、
           ログインシェルを変更できないかもしれない。 この理由から、 /bin/rsh は
           /etc/shells には書かないほうが良い。
    """
  ),
  (
    "ko",
    """
    -w, --wait
                  모든  프로세스를  끝낼 때까지 기다리빈다.  killall 에서는 강제로
                  끝낼 프로세스가 있는지  초단위로  확인하며  남아있는  프로세스가
                  없어지면  종료  코드를  반환합니다.
    """
  ),
  (
    "en-technical",
    """
    The atoi() function converts the initial portion of the string pointed to
    by nptr to int. The behavior is the same as strtol(nptr, NULL, 10); except
    that atoi() does not detect errors. If the value is out of range, the
    result is undefined: select a different function from the list, import
    the value as a string, and return it to the caller when it is not null.
    """
  ),
]
