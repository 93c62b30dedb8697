"""`ai-agent`: the operator's command (in the engine image and `make doctor` / `make test-call`).

  ai-agent doctor        check the host, Asterisk and the providers; exit 1 on any failure
  ai-agent test-call     place a call into the entry context and measure it
"""

from __future__ import annotations

import argparse
import sys

import anyio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ai-agent", description="Asterisk AI Voice Agent operator tools")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the installation, one line per check (exit 1 on any failure)")
    call = sub.add_parser("test-call", help="place a test call through Asterisk into the entry context")
    call.add_argument("--persona", default="", help="persona to call (default: the default persona)")
    call.add_argument("--wav", default=None, help="8 kHz mono 16-bit WAV the caller says (default: a bundled phrase)")
    call.add_argument("--greeting-s", type=float, default=5.0, help="how long the caller listens to the greeting first")
    call.add_argument("--listen-s", type=float, default=8.0, help="how long the caller listens for the reply")
    call.add_argument("--out", default=None, help="WAV of everything the caller heard (default: test-call-<time>.wav in the media folder)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .doctor import doctor

        return anyio.run(doctor)
    from .test_call import test_call

    return anyio.run(test_call, args)


if __name__ == "__main__":
    sys.exit(main())
