"""``uts map``: align a dataset's label set to UTS (or any target), review, evaluate, apply.

``uts map SOURCE ...`` is short for ``uts map match SOURCE ...``. The commands only parse
arguments and call :mod:`uts.mapping`; heavy imports happen inside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from uts.cli.errors import fail as _fail, plot_path, user_errors
from typer.core import TyperGroup

SUBCOMMAND_HELP = """Map a dataset's labels onto UTS and turn its annotations into UTS labels.

\b
  uts map labels.txt -o labels.sssom.tsv            match (default target: the UTS ontology)
  uts map labels.txt --target ontology.json -o m.sssom.tsv --candidates 5
  uts map review m.sssom.tsv --reviewer orcid:0000-0002-1825-0097
  uts map evaluate m.sssom.tsv gold.tsv --candidates m.candidates.sssom.tsv
  uts map apply eval_segments.csv --mapping m.sssom.tsv -o clips.parquet

Label sets: plain text (one per line), CSV/TSV (--column), AudioSet ontology.json, OWL/Turtle (a UTS release or any ontology), SSSOM, MTG-Jamendo TSVs, Lhotse manifests, id2label JSON.
"""


class _DefaultToMatch(TyperGroup):
    """A group whose first argument, when it is not a sub-command, is the SOURCE of ``match``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["match", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_DefaultToMatch, help=SUBCOMMAND_HELP, no_args_is_help=True,
                  rich_markup_mode=None)


_user_errors = user_errors  # the one table, uts/cli/errors.py


@app.command("match")
def match_cmd(
    source: Path = typer.Argument(..., help="Label set to map (the format is guessed; see --format)."),
    output: Path = typer.Option(None, "-o", "--output",
                                help="SSSOM TSV to write [default: ./SOURCE-stem.sssom.tsv]. If it exists, "
                                     "its reviewed rows are kept and its rejected pairs stay rejected."),
    target: Optional[Path] = typer.Option(None, "--target", "-t",
                                          help="Target label set [default: the UTS ontology, $UTS_ONTOLOGY or ontology/uts.ttl]."),
    candidates: int = typer.Option(0, "--candidates", "-k", min=0,
                                   help="Also write the top-K candidates per label, with scores, to OUT.candidates.sssom.tsv."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Source format: text, table, audioset, id2label, owl, sssom, mtg-jamendo, lhotse."),
    target_format: Optional[str] = typer.Option(None, "--target-format", help="Target format (as --format)."),
    column: Optional[str] = typer.Option(None, "--column", help="CSV/TSV: the column holding the labels."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="CSV/TSV: a column of ids (e.g. mid)."),
    name: Optional[str] = typer.Option(None, "--name", help="Label-set name, also the CURIE prefix of generated ids."),
    model: Optional[Path] = typer.Option(None, "--model", help="Local sentence-transformers model directory [default: bundled all-MiniLM-L6-v2]."),
    threshold: Optional[float] = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                              help="Abstain when the best candidate's calibrated probability is below this [default: tuned value]."),
    no_repair: bool = typer.Option(False, "--no-repair", help="Skip hierarchy-aware repair."),
    context: Optional[str] = typer.Option(None, "--context", help="What the labels are, in your words "
                                          "(\"acoustic scenes\", \"music tags\"): evidence for ambiguous labels "
                                          "[default: a '# context: ...' line of the label file]."),
    domain: Optional[str] = typer.Option(None, "--domain", help="The target concept the labels fall under, by "
                                         "its label (e.g. 'speech', 'acoustic scene'): like --context, but exact."),
    no_context: bool = typer.Option(False, "--no-context", help="Judge every label alone: no set profile, "
                                    "no stated context."),
    via_uts: bool = typer.Option(False, "--via-uts", help="For a target other than UTS: also map through UTS "
                                 "(its synonyms, definitions and cross-references) and take the chained mapping "
                                 "where it is more probable. Embeds UTS once (minutes on a cold cache)."),
    verify: Optional[str] = typer.Option(None, "--verify", help="Optional verifier (off by default): an "
                                         "OpenAI-compatible endpoint URL (with --verify-model) or a local "
                                         "transformers model directory; confirms or rejects each label's top "
                                         "candidates. Costs one request per label (reported)."),
    verify_model: Optional[str] = typer.Option(None, "--verify-model", help="Model name the --verify endpoint serves."),
    verify_k: int = typer.Option(3, "--verify-k", min=1, help="Candidates shown to the verifier per label."),
) -> None:
    """Match SOURCE's labels onto the target and write one decided mapping per label (SSSOM).

    Labels that fit nothing, and negated or non-content labels ("no vocals", "other"), are left
    unmapped and listed in OUT.unmapped.tsv with the reason. The set is read as a whole: labels
    mapped confidently say what kind of set it is (music tags, acoustic scenes), and that decides
    between the senses of ambiguous ones (in a music tag set 'female' is not a female speaker).

    \b
    uts map scenes.txt --context "acoustic scenes"     # 'bus' -> bus interior, not the vehicle"""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.labelsets import read_labelset
    from uts.mapping.match import MatchConfig
    from uts.mapping.pipeline import load_target, match_files

    from uts.inputs import refuse_clashing_outputs

    out = output or Path(source.name.split(".")[0] + ".sssom.tsv")  # in the working directory
    with _user_errors():
        refuse_clashing_outputs({"SOURCE": source, "--target": target}, {"--output": out})
        src = read_labelset(source, fmt, column=column, id_column=id_column, name=name)
        tgt = load_target(target, target_format)
        config = MatchConfig(repair=not no_repair, collective=not no_context)
        if threshold is not None:
            config.accept = threshold
        verifier = None
        if verify:
            # lazy: the library loads when the command runs, so `uts --help` stays fast
            from uts.mapping.verify import load_verifier

            verifier = load_verifier(verify, verify_model)
        summary = match_files(src, tgt, out, candidates, str(model) if model else None, config, progress=True,
                              context=context, domain=domain, via_uts=via_uts, verifier=verifier, verify_k=verify_k)
    typer.echo(f"{summary.labels} labels: {summary.mapped} mapped, {summary.unmapped} unmapped"
               + (f", {summary.kept_reviewed} reviewed rows kept" if summary.kept_reviewed else "")
               + (f" ({summary.kept_elsewhere} of them for ids not in this source: made with another --name?)"
                  if summary.kept_elsewhere else ""))
    if summary.verified is not None:
        typer.echo(summary.verified.summary())
    typer.echo(f"mappings:   {summary.output}")
    if summary.candidates:
        typer.echo(f"candidates: {summary.candidates}")
    typer.echo(f"unmapped:   {summary.unmapped_report}")


@app.command("review")
def review_cmd(
    mapping: Path = typer.Argument(..., help="SSSOM mapping file to review (updated in place)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", "-r", help="Your id as a CURIE, e.g. orcid:0000-0002-1825-0097."),
    candidates: Optional[Path] = typer.Option(None, "--candidates", help="Candidates file [default: MAPPING's .candidates.sssom.tsv when present]."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write a review table (TSV) to fill in instead of asking."),
    decisions: Optional[Path] = typer.Option(None, "--decisions", help="Apply a filled-in review table."),
    all_rows: bool = typer.Option(False, "--all", help="With --export: include rows already reviewed."),
    target: Optional[Path] = typer.Option(None, "--target", help="With --decisions: the target label set "
                                          "picked or accepted ids must belong to (ontology or label list) [default: UTS]."),
) -> None:
    """Accept, reject, pick another candidate or change the predicate of mappings.

    \b
    Interactive:      uts map review m.sssom.tsv -r orcid:...
    Non-interactive:  uts map review m.sssom.tsv --export todo.tsv
                      (fill the 'decision' column: accept / reject / pick + new_object_id /
                       predicate + new_predicate_id; leave empty to skip)
                      uts map review m.sssom.tsv --decisions todo.tsv -r orcid:...
    Decisions are stored with reviewer_id and date; rejected pairs stay rejected."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.pipeline import load_target, sibling
    from uts.mapping.review import (apply_decisions, count_decisions, export_review_table, needs_target,
                                    read_decisions)
    from uts.inputs import refuse_clashing_outputs
    from uts.mapping.sssom import read_sssom, write_sssom

    with _user_errors():
        refuse_clashing_outputs({"MAPPING": mapping, "--candidates": candidates, "--decisions": decisions},
                                {"--export": export})
        mset = read_sssom(mapping)
        cand_path = candidates or sibling(mapping, "candidates")
        cands = read_sssom(cand_path) if candidates is not None or cand_path.exists() else None
        if candidates and cands is None:
            _fail(f"no candidates file at {candidates}")
        if export:
            n = export_review_table(mset, export, cands, include_reviewed=all_rows)
            typer.echo(f"{n} rows to review written to {export}")
            return
        if not reviewer:
            _fail("give your reviewer id with --reviewer (a CURIE such as orcid:0000-0002-1825-0097)")
        if decisions:
            todo = read_decisions(decisions)
            updated = apply_decisions(mset, todo, reviewer, cands,
                                      target=load_target(target) if needs_target(todo) else None)  # read only to check ids
            write_sssom(mapping, updated)
            typer.echo(f"{count_decisions(todo)} decisions applied to {mapping}")
            return
        _interactive(mapping, mset, reviewer, cands)


def _interactive(path: Path, mset, reviewer: str, cands) -> None:
    # lazy: rich (~50 ms) loads only for the commands that draw with it
    from rich.console import Console
    from rich.prompt import Prompt
    from rich.table import Table

    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.review import KEYS_HELP, decision_for_key, review_interactively
    from uts.mapping.sssom import write_sssom

    console = Console()

    def ask(row: dict):
        table = Table(title=f"{row['subject_label']}  ({row['subject_id']})", show_lines=False)
        table.add_column("#")
        table.add_column("target")
        table.add_column("label")
        table.add_column("p", justify="right")
        if row["object_id"]:
            table.add_row("*", row["object_id"], f"{row['object_label']}  [{row['predicate_id']}]",
                          f"{row['confidence'] or 0:.2f}")
        for i, alt in enumerate(row["alternatives"], 1):
            table.add_row(str(i), alt.object_id, alt.object_label or "", f"{alt.confidence or 0:.2f}")
        console.print(table)
        return decision_for_key(row, Prompt.ask(KEYS_HELP, default="s"))

    _, done = review_interactively(mset, reviewer, ask, lambda m: write_sssom(path, m), cands)
    console.print(f"{done} decisions saved to {path}")


@app.command("evaluate")
def evaluate_cmd(
    prediction: Path = typer.Argument(..., help="SSSOM mapping to score."),
    gold: Path = typer.Argument(..., help="Gold TSV (subject_id, object_id; sssom:NoTermFound or empty = no target; optional split)."),
    candidates: Optional[Path] = typer.Option(None, "--candidates", help="Candidates file for Hits@k and MRR [default: PREDICTION's .candidates.sssom.tsv when present]."),
    split: Optional[str] = typer.Option(None, "--split", help="Score only gold rows of this split (e.g. test)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    errors: bool = typer.Option(False, "--errors", help="List every wrong or missing mapping."),
    plot: Optional[Path] = typer.Option(None, "--plot", callback=plot_path, help="Save a PNG: P/R/F1 against the abstention threshold, and calibration."),
) -> None:
    """Precision, recall, F1, Hits@1/5 and MRR of a mapping against gold.

    A gold label without target counts as correct only when the mapper abstained."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.evaluate import evaluate, plot_evaluation, read_gold
    from uts.mapping.pipeline import sibling
    from uts.mapping.sssom import read_sssom

    with _user_errors():
        pred = read_sssom(prediction)
        cand_path = candidates or sibling(prediction, "candidates")
        cands = read_sssom(cand_path) if candidates is not None or cand_path.exists() else None
        gold_entries = read_gold(gold)
        report = evaluate(pred, gold_entries, cands, split=split)
        if plot:
            plot_evaluation(pred, gold_entries, plot, split)
    figures = report.as_dict()
    if as_json:
        typer.echo(json.dumps({**figures, **({"errors": report.errors} if errors else {})}, indent=2))
        return
    for k, v in figures.items():
        typer.echo(f"{k:>20}  {v}")
    if report.by_label:  # another data set's gold file shares labels, not ids: say so
        typer.echo(f"note: {report.by_label} of {report.n} gold rows were matched by label, their ids not being in "
                   f"{prediction}; is {gold} the gold of this label set?")
    if errors:
        for e in report.errors:
            typer.echo(f"  {e['subject_label'] or e['subject_id']}: predicted {e['predicted_label'] or e['predicted']}, gold {', '.join(e['gold'])}")


@app.command("apply")
def apply_cmd(
    annotations: Path = typer.Argument(..., help="AudioSet segment CSV, MTG-Jamendo TSV, Lhotse manifest, or CSV/TSV/Parquet/JSONL with a tags column."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="SSSOM mapping from the dataset's labels to the target."),
    output: Path = typer.Option(..., "-o", "--output", help="Output manifest: .parquet, .jsonl or .jsonl.gz."),
    target: Optional[Path] = typer.Option(None, "--target", "-t", help="Target label set the mapping points into [default: UTS]."),
    fmt: Optional[str] = typer.Option(None, "--format", help="audioset, mtg-jamendo, lhotse or table [default: guessed]."),
    tags_column: str = typer.Option("tags", "--tags-column", help="Tables: the column of labels (a list or a joined string)."),
    id_column: str = typer.Option("id", "--id-column", help="Tables: the clip id column (row number when absent)."),
    separator: str = typer.Option(",", "--separator", help="Tables: separator inside a string tags column."),
    predicates: str = typer.Option("exact,close,broad", "--predicates",
                                   help="Mapping predicates to apply. narrowMatch is off by default (a 'drum' clip is not "
                                        "necessarily a 'snare drum' clip), relatedMatch too (weak guesses awaiting review)."),
    report_path: Optional[Path] = typer.Option(None, "--report", help="Write the report (JSON) here too."),
    source: Optional[str] = typer.Option(None, "--source", help="Source id recorded in the sidecar "
                                         "[default: the annotation file's name]."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 1, nothing written) if any line is "
                                "no clip or any label maps to nothing, instead of skipping and counting it."),
) -> None:
    """Turn a dataset's annotations into target labels (streamed with polars).

    Each clip gets `labels` (mapped) and `inferred` (their ancestors), plus its `source_labels`;
    a report counts unmapped labels, clips left with none and lines that are no clip (skipped,
    with examples; --strict refuses instead). The concepts this source
    annotates are recorded once in OUTPUT's sidecar NAME.sources.json, for `uts pool`."""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.apply import apply_file
    from uts.mapping.pipeline import load_target
    from uts.inputs import refuse_clashing_outputs
    from uts.mapping.sssom import parse_predicates, read_sssom
    from uts.pool import sources_path

    with _user_errors():
        refuse_clashing_outputs({"ANNOTATIONS": annotations, "--mapping": mapping, "--target": target},
                                {"--output": output, "its sidecar": sources_path(output), "--report": report_path})
        preds = parse_predicates(predicates)
        mset = read_sssom(mapping)
        tgt = load_target(target)
        rep = apply_file(annotations, mset, tgt, output, fmt, preds, tags_column, id_column, separator, source,
                         strict=strict)
    figures = rep.as_dict()
    typer.echo(rep.summary(output))
    if report_path:
        report_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


@app.command("upgrade")
def upgrade_cmd(
    mappings: list[Path] = typer.Argument(..., help="SSSOM files whose objects are UTS concepts (rewritten in place)."),
    ontology: Optional[Path] = typer.Option(None, "--ontology", "-O", help="The UTS release to upgrade to "
                                            "(default: $UTS_ONTOLOGY or ontology/uts.ttl)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change, write nothing."),
) -> None:
    """Point alignments made for an older UTS release at the concepts that carry their meaning now.

    A deprecated object goes to its replacement; relabelled objects get their new label. Rows
    whose object was split or retired are refused by name (a person picks). Example:
    uts map upgrade mapping/*.sssom.tsv -O ontology/releases/uts-1.1.0.ttl"""
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.mapping.upgrade import upgrade_files
    from uts.ontology import load

    with _user_errors():
        lines = upgrade_files(mappings, load(ontology), dry_run)
    typer.echo("\n".join(lines))
