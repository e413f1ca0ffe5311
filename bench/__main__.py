"""Run every benchmark in this folder, in order: `python -m bench [NAME...]`."""

from __future__ import annotations

import importlib
import sys
import time

#: In the order `make bench` runs them (about 8 minutes on 2 cores); stance_quality last, it is slow.
BENCHMARKS = ["analysis_speed", "memory", "nightly_rerun", "fetch_speed", "db_queries", "stance_quality"]


def main(names: list[str]) -> int:
    for name in names or BENCHMARKS:
        print(f"\n=== bench/{name}.py ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"(bench/{name}.py took {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
