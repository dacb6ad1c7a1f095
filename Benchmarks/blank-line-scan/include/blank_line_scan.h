#ifndef COUPOND_BLANK_LINE_SCAN_H
#define COUPOND_BLANK_LINE_SCAN_H
#include <stddef.h>
#include <stdint.h>

/// The scan of coupon-bench's copy-and-scan baseline (issue 15): the index of the LF that ends
/// the first blank line (LF CR LF) at or after index 3 of `bytes`, or `count` if none.
size_t blank_line_scan(const uint8_t *bytes, size_t count);
#endif
