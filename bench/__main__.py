"""Run benchmarks by name: python -m bench [name ...] (all when none is given)."""

from __future__ import annotations

import importlib
import sys

BENCHES = ["local_ai_server", "answer_quality", "tool_calls", "local_ai_server_attack", "latency", "wideband", "turn_taking",
           "bargein", "media_load", "audiosocket_fuzz", "soak", "records_store", "providers", "knowledge_base"]


def main(argv: list[str]) -> int:
    names, options, prev = [], [], ""
    for arg in argv:
        if arg.startswith("-") or (prev.startswith("-") and "=" not in prev and arg not in BENCHES):
            options.append(arg)  # an option, or the value of the one before it (--n 10,100)
        else:
            names.append(arg)
        prev = arg
    names = names or BENCHES
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
