"""Run benchmarks by name: python -m bench [name ...] (all when none is given)."""

from __future__ import annotations

import importlib
import sys

BENCHES = ["local_ai_server", "latency", "bargein", "media_load", "audiosocket_fuzz"]


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or BENCHES
    options = [a for a in argv if a.startswith("-")]
    status = 0
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"[{name}] not written yet, skipped")
                continue
            raise
        print(f"\n=== {name} ===", flush=True)
        status |= module.main(options)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
