"""Render both services' settings as Markdown tables (key, default, environment variable, meaning),
with `voice_common.settings.settings_table`; the meaning is each setting's `Field(description=...)`.

  python scripts/config_docs.py              # print both tables
  python scripts/config_docs.py --write      # rewrite the tables between the README markers
The README test fails when the README's tables differ from this output.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from voice_common.settings import settings_table, undocumented

README = Path(__file__).resolve().parent.parent / "README.md"


def table(model, env_prefix: str) -> str:
    """The table of one service; every setting must say what it means (`Field(description=...)`)."""
    missing = undocumented(model)
    if missing:
        raise ValueError(f"{model.__module__}: settings without a description: {', '.join(missing)}")
    return settings_table(model, env_prefix)


def tables() -> dict[str, str]:
    from ai_engine.config import ENV_PREFIX, Settings

    out = {"ai-engine": table(Settings, ENV_PREFIX)}
    try:
        from local_ai_server.config import Settings as ServerSettings
    except ImportError:
        return out
    out["local-ai-server"] = table(ServerSettings, "LOCAL_AI_")
    return out


def render_into(text: str) -> str:
    for name, body in tables().items():
        pattern = re.compile(rf"(<!-- config:{re.escape(name)}:start -->\n)(?:.*?\n)?(<!-- config:{re.escape(name)}:end -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


if __name__ == "__main__":
    if "--write" in sys.argv:
        README.write_text(render_into(README.read_text()))
    else:
        for name, body in tables().items():
            print(f"## {name}\n\n{body}\n")
