"""Peak memory while analysing 100,000 documents streamed from disk.

`python -m bench memory`. Writes a gzipped archive of 100,000 news briefs (two to four
sentences, about 70 words each, so the run takes minutes, not hours; memory depends on
what is held per batch, not on document length) and runs `tracker backfill --engine
local` on it in a child process; the peak resident set size comes from the kernel
(``os.wait4``). The baseline is the same command on the first 1,000 documents: a
streaming run keeps the same peak whatever the number of documents.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import synthetic

N_DOCUMENTS = 100_000
BASELINE = 1_000
TARGET_MB = 500
COMMAND = "from tracker.cli_backfill import backfill_command; backfill_command(prog_name='tracker backfill')"


# The command runs under a small Python that reports its peak: a child started straight
# from this (large) process would be charged this process's size, which Linux counts in the
# peak of a child that forks and then executes.
WRAPPER = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, time.perf_counter() - started)
print(out.strip().splitlines()[-1] if out.strip() else "")
"""


def peak_rss(archive: Path, db: Path) -> tuple[float, float, str]:
    """(peak MB, seconds, last line of output) of `tracker backfill --engine local`."""
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, sys.executable, "-c", COMMAND, str(archive), "--db", str(db), "--engine", "local"],
        capture_output=True, text=True, check=True,
    )
    head, summary = (result.stdout.splitlines() + ["", ""])[:2]
    code, maxrss_kb, seconds = head.split()
    if code != "0":
        raise RuntimeError(f"backfill failed ({code}): {summary}")
    return int(maxrss_kb) / 1024, float(seconds), summary


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
        folder = Path(tmp)
        archive = synthetic.write_archive(folder / "briefs.jsonl.gz", N_DOCUMENTS, seed=9, short=True)
        small = folder / "briefs-1k.jsonl.gz"
        with gzip.open(archive, "rt", encoding="utf-8") as src, gzip.open(small, "wt", encoding="utf-8") as dst:
            for _, line in zip(range(BASELINE), src):
                dst.write(line)
        base_mb, base_s, _ = peak_rss(small, folder / "small.db")
        peak_mb, seconds, summary = peak_rss(archive, folder / "big.db")
        size_mb = archive.stat().st_size / 1e6
        db_mb = (folder / "big.db").stat().st_size / 1e6
    print(f"{N_DOCUMENTS} documents in a {size_mb:.0f} MB gzipped archive -> a {db_mb:.0f} MB database")
    print(f"{'backfill of the first 1,000 documents':<40}{base_mb:>8.0f} MB peak  {base_s:>7.1f} s   1.00x")
    print(f"{'backfill of all 100,000 documents':<40}{peak_mb:>8.0f} MB peak  {seconds:>7.1f} s  "
          f"{peak_mb / base_mb:5.2f}x the memory (target < {TARGET_MB} MB: {'PASS' if peak_mb < TARGET_MB else 'FAIL'})")
    print(f"  {N_DOCUMENTS / seconds:.0f} documents/s; {summary}")


if __name__ == "__main__":
    main()
