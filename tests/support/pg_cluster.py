"""A throwaway PostgreSQL server for tests and benchmarks: Debian's postgresql binaries, a
cluster in its own temporary folder, a free loopback port, trust auth, stopped and deleted on
exit. postgres refuses to run as root, so as root it runs as `nobody`."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bench.ports import free_port


def pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_cluster(user: str = "records"):
    """Yields `postgresql://<user>@127.0.0.1:<port>/postgres`; raises FileNotFoundError without
    the binaries (`make system-deps` installs them)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl) not installed: make system-deps")
    # Its own folder under the system temp dir: pytest's is private to root, `nobody` could not enter it.
    root = Path(tempfile.mkdtemp(prefix="records-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        for p in (root, sock):
            os.chown(p, 65534, 65534)
    port = free_port()
    try:
        init = subprocess.run(_as_user([str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"]),
                              capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr}")
        opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = subprocess.run(_as_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-t", "60",
                                         "-l", str(root / "log"), "start"]), capture_output=True, text=True, timeout=90)
        if start.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {start.stderr}")
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        if data.exists():
            subprocess.run(_as_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
