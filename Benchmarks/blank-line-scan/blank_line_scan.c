#include "blank_line_scan.h"

// Page-aligned, so the byte loop sits at the same address modulo 4096 in every build: inlined
// in Swift it moved with the size of the code linked before it, and ran 72 to 160 ns by where
// it landed (Benchmarks/README.md, issue 15).
__attribute__((aligned(4096), noinline))
size_t blank_line_scan(const uint8_t *bytes, size_t count) {
    size_t index = 3;
    while (index < count && !(bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10)) index += 1;
    return index;
}
