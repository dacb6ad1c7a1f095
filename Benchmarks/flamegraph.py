#!/usr/bin/env python3
"""Folds `perf script` output (read from stdin) into stacks and draws a flame graph as a
self-contained SVG (Brendan Gregg's layout: x = share of samples, y = stack depth, root at
the bottom), and prints the symbols with the most self samples. No dependencies.

usage: perf script | flamegraph.py --svg out.svg [--title T] [--top N] [--folded out.txt]
"""
import argparse
import html
import re
import sys
import zlib
from collections import Counter, defaultdict

FRAME = re.compile(r"^\s*[0-9a-f]+\s+(.+?)\s+\((.*)\)\s*$")


def short(symbol: str, module: str) -> str:
    symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol)
    if symbol == "[unknown]":
        return "[" + module.rsplit("/", 1)[-1] + "]"
    return symbol


def demangle(names):
    """Swift symbols through swift-demangle when available (simplified form)."""
    import shutil, subprocess
    tool = shutil.which("swift-demangle") or ("/opt/swift/usr/bin/swift-demangle" if shutil.os.path.exists("/opt/swift/usr/bin/swift-demangle") else None)
    mangled = sorted(n for n in names if n.startswith(("$s", "_$s")))
    if not tool or not mangled:
        return {}
    out = subprocess.run([tool, "--simplified", "--compact"], input="\n".join(mangled), capture_output=True, text=True).stdout.splitlines()
    return {m: re.sub(r"\s+", " ", d)[:160] for m, d in zip(mangled, out)}


def fold(lines):
    stacks = Counter()
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                stacks[tuple(reversed(frames))] += 1
                frames = []
            continue
        match = FRAME.match(line)
        if match:
            frames.append(short(match.group(1), match.group(2)))
        elif not line.startswith((" ", "\t")):
            frames = []  # header line of a sample (comm pid time event)
    if frames:
        stacks[tuple(reversed(frames))] += 1
    return stacks


def color(name):
    h = zlib.crc32(name.encode())
    if name.startswith("[") or "kernel" in name:
        return f"rgb({200 + h % 55},{120 + h % 60},{60 + h % 40})"
    return f"rgb({220 + h % 35},{100 + (h >> 8) % 110},{40 + (h >> 16) % 50})"


def svg(stacks, title, width=1600, row=16):
    total = sum(stacks.values())
    tree = lambda: defaultdict(tree)
    root = {"n": 0, "c": {}}
    for stack, count in stacks.items():
        node = root
        node["n"] += count
        for frame in stack:
            node = node["c"].setdefault(frame, {"n": 0, "c": {}})
            node["n"] += count
    depth = max((len(s) for s in stacks), default=0)
    height = (depth + 3) * row + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="11">',
             f'<rect width="100%" height="100%" fill="#f8f8f0"/>',
             f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="14">{html.escape(title)} — {total} samples</text>']
    scale = (width - 20) / max(total, 1)

    def draw(name, node, x, level):
        w = node["n"] * scale
        if w < 0.3:
            return
        y = height - (level + 1) * row - 10
        pct = 100.0 * node["n"] / total
        label = html.escape(name)
        parts.append(f'<g><title>{label} ({node["n"]} samples, {pct:.2f}%)</title>'
                     f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 1}" fill="{color(name)}" rx="2"/>')
        chars = int(w / 7)
        if chars >= 3:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            parts.append(f'<text x="{x + 3:.1f}" y="{y + row - 4}">{html.escape(text)}</text>')
        parts.append("</g>")
        cx = x
        for child_name, child in sorted(node["c"].items()):
            draw(child_name, child, cx, level + 1)
            cx += child["n"] * scale

    draw("all", root, 10, 0)
    parts.append("</svg>")
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--svg", required=True)
    parser.add_argument("--title", default="flame graph")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--folded")
    parser.add_argument("--inclusive", default="", help="comma-separated substrings: share of samples with a matching frame")
    args = parser.parse_args()
    stacks = fold(sys.stdin)
    names = {f for s in stacks for f in s}
    mapping = demangle(names)
    if mapping:
        renamed = Counter()
        for stack, count in stacks.items():
            renamed[tuple(mapping.get(f, f) for f in stack)] += count
        stacks = renamed
    with open(args.svg, "w") as f:
        f.write(svg(stacks, args.title))
    if args.folded:
        with open(args.folded, "w") as f:
            for stack, count in stacks.most_common():
                f.write(";".join(stack) + f" {count}\n")
    total = sum(stacks.values())
    self_counts = Counter()
    for stack, count in stacks.items():
        if stack:
            self_counts[stack[-1]] += count
    print(f"{total} samples; top self time:")
    for name, count in self_counts.most_common(args.top):
        print(f"  {100.0 * count / total:5.1f}%  {name}")
    patterns = [p for p in args.inclusive.split(",") if p]
    if patterns:
        print("inclusive share (samples with a frame containing):")
        for pattern in patterns:
            hits = sum(count for stack, count in stacks.items() if any(pattern in frame for frame in stack))
            print(f"  {100.0 * hits / max(total, 1):5.1f}%  {pattern}")


if __name__ == "__main__":
    main()
