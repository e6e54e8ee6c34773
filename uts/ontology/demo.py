"""The ontology job end to end on the shipped ontology (what ``make demo`` runs until the training
demo exists): validate, statistics with a plot, an edit on a scratch copy, a diff with its
migration table, and exports — all written under one output folder with a markdown report."""

from __future__ import annotations

import shutil
from pathlib import Path

from .diff import diff, migration_table, write_migration_tsv
from .edit import edit_file
from .export import select_concepts, write_concept_table, write_id2label, write_owl
from .io import default_ontology_path, load
from .stats import compute_stats, plot_stats
from .validate import validate_path


def run_ontology_demo(out_dir: str | Path, source: str | Path | None = None, progress=None) -> Path:
    """Run the demo into ``out_dir``; returns the path of ``report.md``.

    ``progress`` is an optional callable taking one status line (the CLI passes a printer).
    The shipped ontology is only read: the edit happens on ``out_dir/scratch/uts.ttl``.
    """
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(source) if source is not None else default_ontology_path()

    say(f"validating {source}")
    report = validate_path(source, releases_dir=source.parent / "releases")
    (out / "validation.md").write_text(report.to_markdown(), encoding="utf-8")

    say("computing statistics")
    onto = load(source)
    stats = compute_stats(onto)
    plot = plot_stats(stats, out / "stats.png")

    say("editing a scratch copy")
    scratch = out / "scratch" / "uts.ttl"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, scratch)
    for stale in (scratch.with_name("uts.changes.jsonl"),):
        stale.unlink(missing_ok=True)
    roots = onto.roots()
    root = next((r for r in roots if onto.concepts[r].domain == "sound"), roots[0])
    records = edit_file([
        {"op": "add", "label": "uts demo example sound", "parents": [root],
         "definition": "A concept added by the UTS demo to show an edit.", "sources": ["uts demo"]},
        {"op": "add_synonym", "id": "uts demo example sound", "synonym": "demo example noise"},
    ], scratch, editor="uts demo")
    edited = load(scratch)

    say("diffing shipped vs edited")
    d = diff(onto, edited)
    (out / "diff.md").write_text(d.to_markdown(), encoding="utf-8")
    migration = write_migration_tsv(migration_table(onto, edited), out / "migration.tsv")

    say("exporting")
    ids = select_concepts(edited)
    id2label_path = write_id2label(edited, ids, out / "id2label.json")
    table = write_concept_table(edited, out / "concepts.csv", ids)
    owl = write_owl(edited, out / "uts.owl")

    lines = [
        "# UTS ontology demo", "",
        f"Source: `{source}`", "",
        "## Validation", "", f"{report.summary()} — details in [validation.md](validation.md)", "",
        "## Statistics", "", "```", stats.to_text(), "```", "", f"![statistics]({plot.name})", "",
        "## Edit (scratch copy)", "",
        f"Applied to `{scratch}` (change log `{scratch.with_name('uts.changes.jsonl')}`):", "",
        *[f"- `{r}`" for r in records], "",
        "## Diff shipped -> edited", "", d.to_markdown(heading_level=3, title=False),
        f"Migration table: [{migration.name}]({migration.name})", "",
        "## Exports", "",
        f"- [{id2label_path.name}]({id2label_path.name}): {len(ids)} active concepts, paper id2label form",
        f"- [{table.name}]({table.name}): concept table",
        f"- [{owl.name}]({owl.name}): OWL (RDF/XML) for Protégé, owlready2, pronto", "",
    ]
    report_path = out / "report.md"
    report_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    say(f"report: {report_path}")
    return report_path
