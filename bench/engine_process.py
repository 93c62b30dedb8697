"""The engine under load, as a process of its own (bench/media_load.py): CPU pinning and
scheduling, its CPU and memory use from /proc, its HTTP API, and how it is stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx

from bench.calibration import calibration_ms
from bench.ports import free_port

ENGINE_CPU, GENERATOR_CPU = 0, 1
CLK_TCK = os.sysconf("SC_CLK_TCK")
CAN_PIN = {ENGINE_CPU, GENERATOR_CPU} <= os.sched_getaffinity(0)
PRIORITY = -10  # nice value for both processes (best effort)
RT_PRIORITY = 10  # SCHED_FIFO priority for both processes during a measurement window


def start_engine(env: dict[str, str], cwd: Path, log_path: Path, profile: Path | None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ai_engine"]
    if profile is not None:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "ai_engine"]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    pin(proc.pid, ENGINE_CPU)
    return proc


def pin(pid: int, cpu: int, realtime: bool = False) -> None:
    """Pin every thread of `pid` to `cpu` (no-op on a one-CPU machine), and raise its priority
    where allowed (root): other work on the machine then disturbs the figures less. `realtime`:
    SCHED_FIFO, so a frame's wake-up preempts other processes at once."""
    for tid in os.listdir(f"/proc/{pid}/task") if pid else [0]:
        try:
            if CAN_PIN:
                os.sched_setaffinity(int(tid), {cpu})
            if realtime:
                os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
            else:
                os.sched_setscheduler(int(tid), os.SCHED_OTHER, os.sched_param(0))
                os.setpriority(os.PRIO_PROCESS, int(tid), PRIORITY)
        except OSError:
            pass


def engine_cpu_calibration(realtime: bool) -> float:
    """`calibration_ms` on the engine's CPU at the engine's priority (this thread moves there for
    it, then back): what a CPU second was worth to the engine, on a machine others share."""
    pin(0, ENGINE_CPU, realtime)
    try:
        return calibration_ms()
    finally:
        pin(0, GENERATOR_CPU)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def busy_seconds() -> dict[str, float]:
    """Busy CPU seconds of the whole machine and of each CPU (/proc/stat), to see other load."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu"):
            name, *v = line.split()
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in v[:8])
            busy[name] = (user + nice + system + irq + softirq + steal) / CLK_TCK
    return busy


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_ready(http: httpx.AsyncClient, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the engine exited with {proc.returncode}")
        try:
            if (await http.get("/health")).json().get("ari_connected"):
                return
        except (httpx.TransportError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the engine did not connect to ARI")
        await anyio.sleep(0.1)


async def active_calls(http: httpx.AsyncClient) -> int:
    return int((await http.get("/health")).json().get("active_calls", -1))


async def engine_metric(http: httpx.AsyncClient, name: str) -> float:
    text = (await http.get("/metrics")).text
    m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


async def stop_engine(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with anyio.move_on_after(20):
            while proc.poll() is None:
                await anyio.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    return proc.wait()


class EngineGroup:
    """Several engine processes measured as one (bench/media_load.py --engines): each its own Stasis
    app, ports and log; CPU, memory, calls and counters are their sums."""

    def __init__(self, apps: list[str], procs: list[subprocess.Popen], https: list[httpx.AsyncClient]):
        self.apps, self.procs, self.https = apps, procs, https

    def app_for(self, i: int) -> str:
        return self.apps[i % len(self.apps)]  # calls spread in turn, as the dialplan of docs/scaling.md

    async def wait_ready(self) -> None:
        for http, proc in zip(self.https, self.procs):
            await wait_ready(http, proc)

    def pin(self, cpu: int, realtime: bool = False) -> None:
        for proc in self.procs:
            pin(proc.pid, cpu, realtime)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs)

    def rss_mb(self) -> float:
        return sum(rss_mb(p.pid) for p in self.procs)

    async def active_calls(self) -> int:
        return sum([await active_calls(http) for http in self.https])

    async def metric(self, name: str) -> float:
        return sum([await engine_metric(http, name) for http in self.https])
