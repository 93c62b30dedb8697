"""scripts/init-host.sh on a scratch copy: one token, the same in both services' env files; a
generated ARI password; the media folder made; secrets files private; nothing overwritten on a
second run; a media folder under /root refused."""
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [".env.example", "ai-engine.env.example", "local-ai-server.env.example", "scripts/init-host.sh"]


def env_file(path: Path) -> dict[str, str]:
    return dict(l.split("=", 1) for l in path.read_text().splitlines() if l and not l.startswith("#"))


@pytest.fixture
def clone(tmp_path) -> Path:
    for rel in FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp_path / rel)
    return tmp_path


def run(clone: Path, media: str) -> subprocess.CompletedProcess:
    if not (clone / ".env").exists():  # the admin's .env, made once; later runs keep it
        (clone / ".env").write_text((clone / ".env.example").read_text().replace(
            "AI_MEDIA_HOST_DIR=/var/lib/asterisk/sounds/ai-generated", f"AI_MEDIA_HOST_DIR={media}"))
    env = {**os.environ, "ROOT_DIR": str(clone), "ASTERISK_USER": "root", "SKIP_COMPOSE_CHECK": "1", "SKIP_CHOWN": "1"}
    return subprocess.run(["bash", str(clone / "scripts/init-host.sh")], env=env, capture_output=True, text=True)


def test_init_generates_one_shared_token_and_a_password_and_keeps_them(clone):
    media = clone / "sounds" / "ai-generated"
    first = run(clone, str(media))
    assert first.returncode == 0, first.stderr
    engine, server = env_file(clone / "ai-engine.env"), env_file(clone / "local-ai-server.env")
    token = server["LOCAL_AI_AUTH_TOKEN"]
    assert len(token) == 48 and engine["AI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN"] == token
    password = engine["AI_ENGINE_ARI__PASSWORD"]
    assert len(password) == 48 and password != token and password in first.stdout
    api_token = engine["AI_ENGINE_API__TOKEN"]
    assert len(api_token) == 48 and api_token not in (token, password) and api_token in first.stdout
    assert "AI_ENGINE_ARI__PASSWORD" not in (clone / "local-ai-server.env").read_text()
    for name in ("ai-engine.env", "local-ai-server.env"):
        assert stat.S_IMODE((clone / name).stat().st_mode) == 0o600, name
    assert media.is_dir()
    dotenv = env_file(clone / ".env")
    assert dotenv["MEDIA_UID"] == str(os.getuid()) and dotenv["MEDIA_GID"] == str(os.getgid())
    assert dotenv["AI_AGENT_VERSION"] == env_file(clone / ".env.example")["AI_AGENT_VERSION"]

    # An upgrade (git pull) brings a new version: the tag follows, the secrets stay.
    (clone / ".env.example").write_text((clone / ".env.example").read_text().replace("AI_AGENT_VERSION=", "AI_AGENT_VERSION=9"))
    second = run(clone, str(media))
    assert second.returncode == 0, second.stderr
    assert env_file(clone / "ai-engine.env") == engine and env_file(clone / "local-ai-server.env") == server
    assert password not in second.stdout
    assert env_file(clone / ".env")["AI_AGENT_VERSION"].startswith("9")


def test_init_refuses_a_media_folder_under_root(clone):
    result = run(clone, "/root/ai-generated")
    assert result.returncode != 0 and "/root" in result.stderr


def test_init_refuses_two_different_tokens(clone):
    (clone / "ai-engine.env").write_text("AI_ENGINE_ARI__PASSWORD=x\nAI_ENGINE_PROVIDERS__LOCAL__AUTH_TOKEN=aaa\n")
    (clone / "local-ai-server.env").write_text("LOCAL_AI_AUTH_TOKEN=bbb\n")
    result = run(clone, str(clone / "media"))
    assert result.returncode != 0 and "differ" in result.stderr
