"""The objective study's merge of result files and its paired intervals (no training here: the
study's figures are recorded in docs/benchmarks.md with their commands)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import objective_study  # noqa: E402


def _row(cond, obj, seed, **figures):
    return {"condition": cond, "objective": obj, "seed": seed, "seconds": 10.0 + seed, **figures}


def test_merge_keeps_each_cell_once_and_refuses_conflicting_reruns():
    a = [_row("clean", "flat", 2, tagging_map=0.5), _row("clean", "hier", 2, tagging_map=0.6)]
    rerun = [{**_row("clean", "flat", 2, tagging_map=0.5), "seconds": 99.0}, _row("noisy", "flat", 2, tagging_map=0.4)]
    merged = objective_study.merge_results({"a.json": a, "b.json": rerun})
    assert sorted((r["condition"], r["objective"]) for r in merged) == [("clean", "flat"), ("clean", "hier"),
                                                                        ("noisy", "flat")]
    changed = [_row("clean", "hier", 2, tagging_map=0.61)]
    with pytest.raises(ValueError, match=r"clean/hier/seed 2 is in a.json and c.json .*tagging_map"):
        objective_study.merge_results({"a.json": a, "c.json": changed})


def test_interval_is_a_t_interval_over_seeds():
    # 3 seeds: t(0.975, 2 dof) = 4.303; differences 0.1, 0.2, 0.3 -> sd 0.1, half-width 0.248
    assert objective_study._interval([0.1, 0.2, 0.3]) == "+0.200 [-0.048, +0.448]"
    assert objective_study._interval([0.3, 0.31, 0.29]).endswith("*")
    assert "no interval" in objective_study._interval([1 / 48, 1 / 48, 1 / 48])
    assert objective_study._interval([0.1]) == "+0.100 (1 seed)"


def test_merge_cli_prints_seed_counts_and_refuses_bad_files(tmp_path):
    rows = [_row(c, o, s, tagging_map=0.5 + 0.01 * s + (0.05 if o == "hier" else 0))
            for c in ("noisy", "clean") for o in ("hier", "flat") for s in (0, 1, 2)]
    (tmp_path / "a.json").write_text(json.dumps({"minutes": 1.0, "results": rows[:6]}))
    (tmp_path / "b.json").write_text(json.dumps({"minutes": 2.0, "results": rows[6:]}))
    script = str(ROOT / "benchmarks" / "objective_study.py")
    out = subprocess.run([sys.executable, script, "--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    # canonical order (clean before noisy, flat before hier) and the number of seeds per cell
    assert lines[2].startswith("| clean | flat | 3 | ") and lines[5].startswith("| noisy | hier | 3 | ")
    assert "| hier − flat | clean | tagging_map | +0.050 (the same in all 3 seeds; no interval) |" in out
    (tmp_path / "bad.json").write_text("{not json")
    bad = subprocess.run([sys.executable, script, "--merge", str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith(f"error: --merge: {tmp_path / 'bad.json'}: not a result file")
