"""Run mcfast's benchmark suite and write bench/RESULTS.md and bench/speedup.png."""

import argparse
import pathlib

from mcfast import _bench

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (< 1 minute)")
    args = parser.parse_args()
    _bench.main(quick=args.quick, outdir=str(pathlib.Path(__file__).parent))
