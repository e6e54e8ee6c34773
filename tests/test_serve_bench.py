"""The site benchmark runs (on the small workspace) and reports every figure. No timing is
asserted: figures are recorded in docs/benchmarks.md."""

import sys
from pathlib import Path

from _serve_helpers import make_workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import site_bench  # noqa: E402


def test_site_benchmark_reports_every_figure(tmp_path, capsys):
    onto_path, mapping = make_workspace(tmp_path)
    figures = site_bench.main(["--ontology", str(onto_path), "--mappings", str(mapping), "--repeats", "1",
                               "--no-plot", "--json"])
    assert figures["concept_pages"] == 11 and figures["files"] == 11 + 4 + 4 + 1  # concept pages, other pages, assets, the build marker
    for key in ("load_s", "write_floor_s", "build_s", "build_over_load", "ms_per_concept_page"):
        assert figures[key] > 0
    assert '"build_s"' in capsys.readouterr().out
