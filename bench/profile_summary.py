"""Where a sampled process spent its time: py-spy's collapsed stacks (``--format raw``), summed
by function.

Each line of the file is one stack (outermost frame first, ``;``-separated) and how many samples
ended in it. "Self" counts the samples whose innermost frame is the function; "within" counts the
samples with the function anywhere on the stack (once per sample, however deep the recursion), so
``within`` of a sync phase is its share of the whole.

    .venv/bin/python bench/profile_summary.py PROFILE.txt [--top 30] [--match host/]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    """``function (path/to/file.py:12)`` → ``function (file path from the package on)``."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for root in ("site-packages/", "/host/", "/plugins/", "/emulators/", "/bench/"):
        if root in path:
            path = path.split(root, 1)[1] if root == "site-packages/" else root.strip("/") + "/" + path.split(root, 1)[1]
            break
    return f"{match['function']} ({path})"


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([frame_name(frame) for frame in stack.split(";")], int(count)))
    return stacks


def summarize(path: Path, top: int = 30, match: str = "") -> str:
    stacks = load(path)
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for name in set(frames):
            within[name] += count
    lines = [f"{path}: {total} samples (100 a second, every thread)", "", "self  function"]
    lines += [f"{count / total:5.1%} {name}" for name, count in own.most_common(top) if match in name]
    lines += ["", "within  function"]
    lines += [f"{count / total:5.1%}  {name}" for name, count in within.most_common(top * 4) if match in name][:top]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only functions whose name or file contains this")
    args = parser.parse_args(argv)
    print(summarize(args.profile, args.top, args.match))
    return 0


if __name__ == "__main__":
    sys.exit(main())
