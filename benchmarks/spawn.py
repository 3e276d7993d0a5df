"""Run one command; write its wall time, exit code and own peak RSS as JSON.

    python -S benchmarks/spawn.py RESULT.json CMD [ARG ...]

Why a separate small process: on Linux a child's `ru_maxrss` includes the memory of the
process it was forked (or vfork-spawned) from, up to the moment it calls exec. Spawned straight
from the bench — which holds the data tables — every child would report at least the bench's
own peak. Spawned from this stdlib-only interpreter (about 10 MB), the figure is the
command's own. Wall time is taken here, around spawn → wait, so this wrapper's start-up is
not counted.
"""

import json
import os
import sys
import time


def main() -> None:
    out, cmd = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    result = {
        "wall_s": wall,
        "maxrss_bytes": usage.ru_maxrss * scale,
        "rc": os.waitstatus_to_exitcode(status),
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
