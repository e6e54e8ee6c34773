"""The ontology tutorial (docs/ontology.md) runs as written: its bash blocks, in order, in one
shell that stops at the first failing command, on a scratch folder instead of /tmp/uts-tutorial.
The checks after the run read what the tutorial says its commands produce."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.S | re.M)


def test_bash_blocks_are_found():
    text = "x\n```bash\necho a\n```\n```python\nno\n```\n```bash\necho b\necho c\n```\n"
    assert bash_blocks(text) == ["echo a\n", "echo b\necho c\n"]


@pytest.mark.skipif(shutil.which("java") is None, reason="the tutorial runs the HermiT reasoner (needs java)")
def test_ontology_tutorial_runs_as_written(repo, tmp_path):
    blocks = bash_blocks((repo / "docs" / "ontology.md").read_text())
    assert len(blocks) >= 8, "the tutorial's bash blocks were not found"
    work = tmp_path / "tutorial"
    script = "set -euo pipefail\n" + "\n".join(blocks).replace("/tmp/uts-tutorial", str(work))
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "UTS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("UTS_ONTOLOGY", None)
    proc = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # what the tutorial tells the reader to expect
    assert "refused, as it should be" in proc.stdout + proc.stderr
    assert "refused: these changes need a major release" in proc.stdout + proc.stderr
    assert {p.name for p in (work / "releases").glob("uts-*.ttl")} >= {"uts-1.1.0.ttl", "uts-2.0.0.ttl"}
    migration = (work / "migration-1.1.0-2.0.0.tsv").read_text().splitlines()
    assert len([x for x in migration[1:] if "unchanged" not in x]) == 1  # the one merged id
    # `upgrade --json` is the last thing printed before the validation report is written:
    # the merged concept's old label leads to the concept it was merged into
    upgraded = json.loads(proc.stdout[proc.stdout.rindex('[\n  {\n    "input"'):].split("\n]\n")[0] + "\n]")
    merged_into = next(x for x in migration[1:] if "merged" in x).split("\t")[3]
    assert upgraded[0]["input"] == "tutorial chime" and upgraded[0]["current_ids"] == [merged_into]
    for name in ("stats.png", "id2label-music.json", "concepts.parquet", "concepts.csv", "uts.owl",
                 "ancestors.tsv", "validation.md", "demo/report.md"):
        assert (work / name).stat().st_size > 0, name
    # the shipped ontology was never touched: the tutorial works on its scratch copy
    assert subprocess.run(["git", "diff", "--quiet", "--", "ontology/"], cwd=repo).returncode == 0
