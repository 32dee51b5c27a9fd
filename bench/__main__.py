"""Every benchmark in turn, each in its own process: `python -m bench [--out DIR] [--only NAME ...]`.

Each script's JSON goes to DIR/NAME.json (default: bench-results/) and its summary to the terminal. Run
from the project root, with the data where the sweeps find it ($SWEEPS_DATA_DIR); `make bench` does both.
About 50 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from trainables.data import DataError, load_data

SCRIPTS = ("throughput", "epoch", "tune_overhead", "packing", "search", "warm_start", "tsne", "end_to_end", "cli",
           "report", "ask")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench-results", help="folder for the JSON files (default: bench-results)")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, default=SCRIPTS, metavar="NAME",
                        help=f"run only these: {', '.join(SCRIPTS)}")
    args = parser.parse_args()
    try:  # every script needs MNIST: say so once, with the fix, rather than fail seven times
        load_data("mnist", os.environ.get("SWEEPS_DATA_DIR"))
    except DataError as error:
        print(f"python -m bench: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in args.only:
        print(f"== bench.{name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        with open(out / f"{name}.json", "w") as stdout:
            code = subprocess.run([sys.executable, "-m", f"bench.{name}"], stdout=stdout).returncode
        print(f"   ({time.perf_counter() - start:.0f} s, {out / f'{name}.json'})", file=sys.stderr, flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
