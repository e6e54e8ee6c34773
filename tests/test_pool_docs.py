"""docs/training.md, "Pooling datasets": the real-data commands run as written and print the
coverage rows the page shows (AudioSet eval segments + MTG-Jamendo test split, real size)."""

from __future__ import annotations

from test_docs_examples import bash_blocks, run_blocks


def test_pooling_real_data_prints_the_table_the_docs_show(repo, tmp_path, shared_data):
    text = (repo / "docs" / "training.md").read_text()
    (block,) = [b for b in bash_blocks(text) if "uts pool /tmp/uts-pool" in b]
    work = tmp_path / "uts-pool"
    proc = run_blocks([block.replace("../shared/data", str(shared_data))], repo, tmp_path, "/tmp/uts-pool", work)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    section = text[text.index("## Pooling datasets"):text.index("## Measured")]
    shown = [line for line in section.splitlines()
             if line.startswith(("| audioset-eval |", "| mtg-jamendo-test |", "| pooled |"))]
    assert len(shown) == 3
    printed = set(proc.stdout.splitlines())
    assert [line for line in shown if line not in printed] == []
    promised = " ".join(section.split("`source audioset-eval: ", 1)[1].split("`", 1)[0].split())
    assert f"source audioset-eval: {promised}" in proc.stdout  # the apply line the page quotes
    assert (work / "coverage.png").is_file() and (work / "pooled.sources.json").is_file()
