"""A short soak (issue 5, "Resources"; the full one is `python -m bench soak`): 40 calls to a
file-mode and a stream-mode engine, each caller hanging up at a seeded random point (during setup,
the greeting, its own speech, or the agent's reply), and nothing is left behind. And what a
teardown could not remove (a REST error, or a hang-up storm running past the teardown bound) is
swept soon after, not left in Asterisk until the next reconnect."""
import pytest

from ai_engine.calls import manager
from bench.soak import POINTS, run_soak
from engine_harness import eventually, running_rig

pytestmark = pytest.mark.anyio


async def test_forty_calls_hung_up_at_random_points_leave_nothing_behind(tmp_path):
    report = await run_soak(tmp_path, calls=40, concurrency=20, every=20, seed=5)
    for row in report["curve"]:
        assert row["media_files"] == 0, row
        assert row["bridges"] == 0 and row["engine_channels"] == 0, row
        assert row["engine_calls"] == 0, row
        assert not [k for k in row["extra_tasks"] if not k.startswith("emulator:")], row  # no leftover tasks
        assert not row["extra_engine_objects"], row
    outcomes = report["outcomes"]
    assert outcomes["ended"] == 40 and outcomes["not_ended"] == 0, outcomes
    assert sum(report["engine_outcomes"].values()) == 40, report["engine_outcomes"]  # every call ended in the engine
    assert not [k for k in report["warnings"] if "crashed" in k], report["warnings"]
    # The seeded plan covers every hang-up point in both modes, and callers got there.
    assert len(outcomes["points"]) == 2 * len(POINTS), outcomes["points"]
    reached = sum(counts.get("reached", 0) for counts in outcomes["points"].values())
    assert reached >= 30, outcomes["points"]


async def test_what_a_failed_teardown_left_behind_is_swept_soon_after(tmp_path, monkeypatch):
    monkeypatch.setattr(manager, "SWEEP_DELAY_S", 0.2)
    async with running_rig(tmp_path) as rig:
        call = await rig.emu.place_call(exten="5551234", stasis_args=["default"])
        await call.wait_answered(5)
        await eventually(lambda: len(rig.emu.bridges) == 2, 5, "call and capture bridges")
        rig.emu.inject_rest_error("DELETE", r"^/ari/bridges/", 500, {"message": "boom"}, count=1)
        await call.hangup()
        await eventually(lambda: not rig.engine.registry.calls, 5, "call ended in the engine")
        await eventually(lambda: not rig.emu.bridges, 5, "the bridge the teardown could not destroy is swept")
