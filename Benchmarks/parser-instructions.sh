#!/bin/sh
# Instructions per typical claim request: HTTPRequestParser against the copy-and-scan baseline
# of `coupon-bench --parser-only`, by callgrind (valgrind: `make profile-tools`). Built like
# chunked-decode.sh, with -O -wmo from the parser's own sources, no stack needed. Each loop runs
# 2,000 and 1,000 times; the difference ÷ 1,000 leaves out start-up and the first request.
#   sh Benchmarks/parser-instructions.sh
set -e
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: make profile-tools"; exit 1; }
out="${TMPDIR:-/tmp}/coupond-parser-instructions"
swiftc -O -wmo -module-name ParserInstructions Sources/HTTPServer/Parser/*.swift Sources/HTTPServer/Types/*.swift \
    Sources/HTTPServer/Connection/HTTPBodyStream.swift Benchmarks/coupon-bench/ParserSample.swift \
    Benchmarks/parser-instructions/main.swift -o "$out" 2>&1 | grep -v warning || true
instructions() {  # total instructions of one run: loop $1, $2 iterations
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$out" "$1" "$2" 2>&1 | sed -n 's/.*Collected : *//p'
}
parser=$(( ($(instructions parser 2000) - $(instructions parser 1000)) / 1000 ))
baseline=$(( ($(instructions baseline 2000) - $(instructions baseline 1000)) / 1000 ))
echo "HTTPRequestParser $parser instructions/request, copy + scan baseline $baseline: $(awk "BEGIN { printf \"%.2f\", $parser / $baseline }")x"
