"""Folds `perf script -F ip,sym,dso` of malloc uprobe samples into counts per nearest app frame.

argv: granted claims (to print per-claim figures), how many sites to print. A stack's "site" is
its first frame that is not libc, the Swift runtime or stdlib (demangled with swift-demangle),
shown with the frame above it for context.
"""
import collections
import re
import subprocess
import sys

claims = max(int(sys.argv[1]), 1)
top = int(sys.argv[2])
stacks, current = [], []
for line in sys.stdin:
    line = line.strip()
    if not line:
        if current:
            stacks.append(current)
        current = []
        continue
    parts = line.split(None, 1)
    if len(parts) < 2:
        continue
    rest = parts[1]
    sym, _, dso = rest.rpartition(" (")
    current.append((sym.split("+0x")[0], dso.rstrip(")")))
if current:
    stacks.append(current)

names = sorted({sym for stack in stacks for sym, _ in stack})
demangled = dict(zip(names, subprocess.run(
    ["swift-demangle", "--simplified", "--compact"], input="\n".join(names), capture_output=True, text=True
).stdout.split("\n")))

MODULES = {"HTTPServer", "EventLoop", "CouponService", "Issuance", "RedisClient", "RiskControl", "CouponCore",
           "Store", "GrantFlusher", "PostgresClient", "Redemption", "Finance", "Points", "BulkIssuance", "coupond"}
SKIP = ("libc.so", "libswiftCore", "libFoundation", "libdispatch", "libswift_", "inlined", "unknown")


def is_app(sym, dso):
    """A frame of coupond's own modules (Swift mangling `$s<len><Module>`) or of a C library it links (hiredis, libpq)."""
    match = re.match(r"\$s(\d+)", sym)
    if match:
        return sym[match.end():match.end() + int(match.group(1))] in MODULES
    if sym.startswith("$s"):
        return False  # stdlib, or a stdlib generic specialized into coupond
    return not any(s in dso for s in SKIP) and not sym.startswith(("swift_", "_swift", "__GI", "malloc"))


def site(stack):
    frames = [(demangled.get(sym, sym), dso) for sym, dso in stack]
    for index, (name, dso) in enumerate(frames):
        if not is_app(stack[index][0], dso):
            continue
        above = frames[index + 1][0] if index + 1 < len(frames) else ""
        return f"{name[:110]}  <- {above[:70]}"
    return "(no app frame)"


counts = collections.Counter(site(s) for s in stacks)
print(f"{len(stacks)} mallocs sampled over {claims} granted claims: {len(stacks) / claims:.1f} per claim")
for name, count in counts.most_common(top):
    print(f"{count / claims:7.2f}  {name}")
