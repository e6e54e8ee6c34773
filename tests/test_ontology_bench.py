"""The benchmark script runs (tiny sizes) and its generator makes valid multi-parent ontologies.
No timing is asserted: figures are recorded in docs/benchmarks.md."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ontology_bench  # noqa: E402

from uts.ontology.validate import validate  # noqa: E402


def test_generator_and_changes_are_valid():
    onto = ontology_bench.generate(400)
    assert len(onto) == 400 and validate(onto).ok
    assert sum(1 for c in onto if len(c.parents) > 1) > 20
    changed = ontology_bench.change(onto, 40)
    assert validate(changed).ok


def test_benchmark_runs_and_reports_every_figure(capsys):
    figures = ontology_bench.main(["--concepts", "300", "--changes", "40", "--repeats", "1",
                                   "--lookups", "2000", "--batch-adds", "30", "--json"])
    assert figures["diff_changes_reported"] >= 40
    assert figures["batch_adds"] == figures["per_op_path_ops"] == 30
    for key in ("bare_rdflib_parse_s", "load_validate_ratio", "diff_ratio", "lookups_per_s", "batch_s",
                "per_op_path_s", "batch_speedup", "batch_speedup_cpu"):
        assert figures[key] > 0
    assert '"lookups_per_s"' in capsys.readouterr().out


def test_batch_ops_are_a_valid_batch_with_awkward_parent_names():
    from uts.ontology import load
    from uts.ontology.edit import apply_ops

    base = load(Path(__file__).resolve().parents[1] / "ontology" / "uts.ttl")
    ops = ontology_bench.batch_ops(base, 200)
    parents = [p for op in ops for p in op["parents"]]
    assert any(p.isupper() for p in parents) and any("batch concept" in p for p in parents)
    edited, records = apply_ops(base, ops)
    assert len(records) == 200 and len(edited) == len(base) + 200
