"""Run ``flask`` under tracemalloc and say, at the end, what was allocated at the traced peak.

``bench/memory.py --trace`` runs the backfill through this: a thread looks at the traced size
every half second and, at each new high, keeps a snapshot; when the command ends, the top
allocation sites of the highest snapshot (grouped by the innermost frames) are written to the
file named by ``TRACE_PEAK_OUT``. Tracing costs time (two to four times slower) and about a
fifth more memory, so the peaks it sees are for finding what to shrink, not for the table.

    TRACE_PEAK_OUT=/tmp/peak.txt python -X tracemalloc=8 bench/trace_peak.py --app host sync HASH
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import tracemalloc

OUT = os.environ.get("TRACE_PEAK_OUT", "trace-peak.txt")
TOP = 25


class PeakWatcher(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="trace-peak", daemon=True)
        self.highest = 0
        self.snapshot: tracemalloc.Snapshot | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            current, _ = tracemalloc.get_traced_memory()
            if current > self.highest * 1.05:  # a snapshot costs: only at a clearly new high
                self.highest = current
                self.snapshot = tracemalloc.take_snapshot()

    def write(self) -> None:
        self.stopped.set()
        with open(OUT, "w") as out:
            if self.snapshot is None:
                out.write("no snapshot taken\n")
                return
            out.write(f"traced at the highest snapshot: {self.highest / 2**20:.0f} MB\n\n")
            for stat in self.snapshot.statistics("traceback")[:TOP]:
                out.write(f"{stat.size / 2**20:8.1f} MB in {stat.count:,} blocks\n")
                for line in stat.traceback.format()[-8:]:
                    out.write(f"    {line}\n")


def main() -> None:
    if not tracemalloc.is_tracing():
        tracemalloc.start(8)
    watcher = PeakWatcher()
    watcher.start()
    sys.argv = ["flask", *sys.argv[1:]]
    try:
        runpy.run_module("flask", run_name="__main__")
    finally:
        watcher.write()


if __name__ == "__main__":
    main()
