#!/bin/sh
# CPU per body byte of HTTPRequestParser for a 4 MiB body framed by Content-Length vs
# Transfer-Encoding: chunked (chunks of 16 B … 64 KiB), fed in 64 KiB reads like a connection.
# Same run, same bytes; CPU time of the process (CLOCK_PROCESS_CPUTIME_ID). Built with -O from
# the parser's own sources (no stack needed): sh Benchmarks/chunked-decode.sh
set -e
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/coupond-chunked-decode"
swiftc -O -module-name ChunkedDecode Sources/HTTPServer/Parser/*.swift Sources/HTTPServer/Types/*.swift \
    Sources/HTTPServer/Connection/HTTPBodyStream.swift Benchmarks/chunked-decode/main.swift -o "$out" 2>&1 | grep -v warning || true
"$out"
