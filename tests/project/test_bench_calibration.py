"""Every bench's figures come with how fast the machine was (`calibration_ms`, issue 15): a figure
from one machine, or one moment of a shared VM, is only comparable next to it."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.__main__ import BENCHES  # noqa: E402
from bench.calibration import calibrated, calibration_ms  # noqa: E402


def test_calibrated_adds_the_machine_figures_and_leaves_the_result_alone():
    result = {"stream": {"p50": 500}}
    out = calibrated(result, calibration=12.5)
    assert out["stream"] == {"p50": 500}
    assert out["calibration_ms"] == 12.5
    assert out["cpus"] >= 1 and len(out["loadavg"]) == 3
    assert result == {"stream": {"p50": 500}}  # the caller's dict (printed after) is unchanged


def test_the_calibration_workload_is_timed_in_milliseconds():
    assert 0 < calibration_ms(runs=1) < 60_000


def test_every_bench_that_writes_json_writes_it_calibrated():
    for name in BENCHES:
        path = ROOT / "bench" / f"{name}.py"
        if not path.exists():
            continue
        source = path.read_text()
        for dumped in re.findall(r"write_text\(json\.dumps\(([^,]+),", source):
            assert dumped.startswith("calibrated("), f"bench/{name}.py writes {dumped} without calibration_ms"
