"""A Python interpreter that measures what it runs: the benchmarks set ``ansible_python_interpreter`` to a
script that runs it (Ansible takes the interpreter as one path):

    #!/bin/sh
    exec <the venv's python> benchmarks/measured_python.py "$@"

so that each module Ansible starts runs as a child of this script. When the child ends, one JSON line is
appended to the file named in $PHOENIX_MODULE_COST_FILE (nothing is written without it): the module's file
name, its user and system CPU seconds and its peak resident memory (ru_maxrss). The child gets the same
arguments, standard input and output, and this script exits with its exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

COST_FILE_ENV = "PHOENIX_MODULE_COST_FILE"


def module_name(argv):
    """The file the interpreter was asked to run (AnsiballZ_blue_green.py -> blue_green), or "<stdin>"."""
    for argument in argv:
        if not argument.startswith("-"):
            name = os.path.basename(argument)
            if name.startswith("AnsiballZ_"):
                name = name[len("AnsiballZ_") :]
            return name[:-3] if name.endswith(".py") else name
    return "<stdin>"


def cost_record(argv, usage, status):
    """The JSON-ready record of one finished child: ``usage`` is its resource.struct_rusage (Linux: KiB)."""
    return {
        "module": module_name(argv),
        "argv": list(argv),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 4),
        "user_seconds": round(usage.ru_utime, 4),
        "system_seconds": round(usage.ru_stime, 4),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 2),
        "exit_code": os.waitstatus_to_exitcode(status),
    }


def main(argv):
    child = subprocess.Popen([sys.executable, *argv])  # the same stdin/stdout/stderr, inherited
    status, usage = os.wait4(child.pid, 0)[1:]
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait for it again
    record = cost_record(argv, usage, status)
    path = os.environ.get(COST_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
