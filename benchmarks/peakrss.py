"""Run a command and write its peak RSS: peakrss.py OUT_FILE COMMAND [ARGS...]

Why a launcher: on Linux a child's ru_maxrss also counts the memory of the process that spawned it
(exec folds the old address space's high-water mark into the child's), so os.wait4() straight from the
benchmark process would report at least the benchmark's own RSS. This launcher is tiny (os and sys only),
so what it folds in is far below any real child's peak. Writes `pid N` at once (for sampling
/proc/N/status), then `peak_kib N` and `exit N` when the command ends; stdio is inherited.
"""

import os
import sys


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    pid = os.posix_spawn(argv[0], argv, os.environ)
    with open(out, "w") as f:
        f.write(f"pid {pid}\n")
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, "a") as f:
        f.write(f"peak_kib {usage.ru_maxrss}\nexit {code}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
