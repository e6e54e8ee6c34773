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


def printed_blocks(markdown: str) -> list[str]:
    """The plain ``` blocks that directly follow a bash block: what the docs say it prints."""
    return re.findall(r"^```bash\n.*?^```\n```\n(.*?)^```", markdown, flags=re.S | re.M)


def run_blocks(blocks: list[str], repo: Path, tmp_path: Path, scratch: str, work: Path):
    script = "set -euo pipefail\n" + "\n".join(blocks).replace(scratch, str(work))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "UTS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("UTS_ONTOLOGY", None)
    return subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)


def test_bash_blocks_are_found():
    text = "x\n```bash\necho a\n```\n```\na\n```\n```python\nno\n```\n```bash\necho b\necho c\n```\n"
    assert bash_blocks(text) == ["echo a\n", "echo b\necho c\n"]
    assert printed_blocks(text) == ["a\n"]


@pytest.mark.skipif(shutil.which("java") is None, reason="the tutorial runs the HermiT reasoner (needs java)")
def test_ontology_tutorial_runs_as_written(repo, tmp_path):
    blocks = bash_blocks((repo / "docs" / "ontology.md").read_text())
    assert len(blocks) >= 8, "the tutorial's bash blocks were not found"
    work = tmp_path / "tutorial"
    proc = run_blocks(blocks, repo, tmp_path, "/tmp/uts-tutorial", work)
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


def test_vocabulary_walkthrough_prints_what_the_docs_show(repo, tmp_path):
    """docs/vocab.md on its shipped caption file: every command runs (the LLM one needs a local
    model and is left out) and prints exactly the lines the page shows after it."""
    text = (repo / "docs" / "vocab.md").read_text()
    blocks = [b for b in bash_blocks(text) if "--extractor llm" not in b]
    work = tmp_path / "vocab-demo"
    work.mkdir()
    proc = run_blocks(blocks, repo, tmp_path, "/tmp/vocab-demo", work)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out_lines = set(proc.stdout.splitlines())
    shown = [line.replace("/tmp/vocab-demo", str(work)) for block in printed_blocks(text)
             for line in block.splitlines() if line.strip()]
    assert len(shown) >= 3
    assert [line for line in shown if line not in out_lines] == []


def test_error_examples_print_what_the_docs_show(repo, tmp_path):
    """docs/errors.md: its commands print (stdout and stderr together) the lines the page shows."""
    text = (repo / "docs" / "errors.md").read_text()
    work = tmp_path / "uts-errors"
    proc = run_blocks(bash_blocks(text), repo, tmp_path, "/tmp/uts-errors", work)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out_lines = set((proc.stdout + proc.stderr).splitlines())
    shown = [line.replace("/tmp/uts-errors", str(work)) for block in printed_blocks(text)
             for line in block.splitlines() if line.strip()]
    assert len(shown) >= 5
    assert [line for line in shown if line not in out_lines] == []
