"""A long fuzz run of the legacy importer (issue #12's guarantee).

Mutates every genuine fixture pickle (byte flips, truncations, opcode
insertions; `tests/helpers/guarded_load.py`) and runs the importer on each
mutation in a child process capped in memory. Prints every mutation that
crashed the child, hung, or raised an exception that is not keras-stylegan's
own, and exits 1 if there was one. CI runs a short version
(`tests/legacy/test_legacy_fuzz.py`).

    python bench/fuzz_importer.py --count 5000 [--seed 0] [--convert 20]
        [--fixtures ../shared/fixtures/legacy] [--memory-mb 1024]

`--convert N` also converts to Keras (needs ~3 GB of address space: use
--memory-mb 4096) the first N mutations per fixture that still read but
describe a different network.
"""

import argparse
import collections
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from helpers import guarded_load  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=5000, help="mutations per fixture")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--convert", type=int, default=0)
    p.add_argument("--memory-mb", type=int, default=1024)
    p.add_argument("--case-timeout", type=int, default=120,
                   help="seconds one mutation may take before it counts as a hang")
    p.add_argument("--fixtures", default=os.environ.get("KERAS_STYLEGAN_FIXTURES", os.path.join(
        REPO, "..", "shared", "fixtures")) + "/legacy")
    args = p.parse_args(argv)
    names = sorted(n for n in os.listdir(args.fixtures)
                   if os.path.isfile(os.path.join(args.fixtures, n, "network-stripped.pkl")))
    failures = 0
    for name in names:
        start = time.time()
        spec = {"fuzz": os.path.join(args.fixtures, name, "network-stripped.pkl"),
                "seed": args.seed, "count": args.count, "convert": args.convert}
        with tempfile.TemporaryDirectory() as tmp:
            lines = guarded_load.run("read", spec, tmp, memory_mb=args.memory_mb,
                                     case_timeout=args.case_timeout)
        counts = collections.Counter(
            "died" if ln["outcome"] == "died" else ln["outcome"] if ln["outcome"] == "ok"
            else "project error" if ln["project"] else "FOREIGN " + ln["type"] for ln in lines)
        print(f"{name}: {dict(counts)} in {time.time() - start:.0f} s", flush=True)
        for ln in lines:
            if ln["outcome"] == "died" or (ln["outcome"] == "error" and not ln["project"]):
                failures += 1
                print(f"  FAIL {ln}", flush=True)
    print("no failures" if not failures else f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
