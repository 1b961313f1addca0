"""Run a command and report its peak resident memory, as the kernel accounted it.

Usage:
    python benchmarks/peak_rss.py COMMAND [ARG ...]

Passes the command's output through, then prints one line ``peak_rss_kib N``: the
``ru_maxrss`` of ``getrusage(RUSAGE_CHILDREN)``. This process imports nothing heavy and
runs nothing else, so its only child is the command and the figure is that command's own
peak (``RUSAGE_CHILDREN`` is a maximum over every child ever waited for, which is why
benchmarks/run.py starts one of these per measurement). Exits with the command's status.
"""

from __future__ import annotations

import resource
import subprocess
import sys


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    proc = subprocess.run(sys.argv[1:], check=False)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if sys.platform == "darwin":  # bytes there, KiB on Linux
        peak //= 1024
    print(f"peak_rss_kib {peak}", flush=True)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
