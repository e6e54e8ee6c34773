"""``uts pool``: several mapped manifests -> one training manifest with source ids, label spaces
and sampling weights, and a coverage report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from uts.cli.errors import plot_path


def _positive(value: float) -> float:
    """A usage error (exit 2, naming the option) before any work; click's ranges have no open bound."""
    if not value > 0:
        raise typer.BadParameter(f"{value:g} is not > 0")
    return value


def pool_cmd(
    manifests: list[Path] = typer.Argument(..., help="Manifests written by `uts map apply` (each with its "
                                           "NAME.sources.json), or earlier pools. A manifest without a "
                                           "sidecar gets the labels its clips use as its label space."),
    output: Path = typer.Option(..., "-o", "--output", help="Pooled manifest: .jsonl, .jsonl.gz or .parquet "
                                "(NAME.sources.json is written beside it)."),
    sampling: str = typer.Option("temperature", "--sampling", help="How often training draws each source: "
                                 "proportional (n_s), balanced (equal), temperature (n_s^(1/T))."),
    temperature: float = typer.Option(2.0, "--temperature", "-T", callback=_positive, help="T for --sampling "
                                      "temperature: 1 is proportional, larger moves towards balanced (> 0)."),
    name: Optional[list[str]] = typer.Option(None, "--name", help="Source id for each input, in order "
                                             "(default: the id its sidecar records)."),
    prefix_ids: bool = typer.Option(False, "--prefix-ids", help="Write clip ids as SOURCE/ID (when sources share ids)."),
    ontology: Optional[Path] = typer.Option(None, "--ontology", help="UTS ontology [default: the shipped one]."),
    report: Optional[Path] = typer.Option(None, "--report", help="Coverage report as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot", callback=plot_path, help="Coverage heat map (PNG): sources x UTS roots."),
) -> None:
    """Pool mapped datasets into one training manifest.

    Each source only annotated its own labels, so the sidecar keeps, once per source, which UTS
    concepts it annotates; `uts train` masks the others out of the loss (docs/training.md,
    "Pooling datasets"). Prints the coverage per source and UTS root: annotated/concepts (clips).

    Example: uts pool audioset.jsonl mtg.jsonl -o pooled.jsonl --plot coverage.png
    """
    # lazy: the library loads when the command runs, so `uts --help` stays fast
    from uts.inputs import refuse_clashing_outputs
    from uts.ontology import load
    from uts.pool import coverage, coverage_table, plot_coverage, pool_manifests, sources_path

    refuse_clashing_outputs({"MANIFESTS": list(manifests), "--ontology": ontology},
                            {"--output": output, "its sidecar": sources_path(output), "--report": report, "--plot": plot})
    onto = load(ontology) if ontology else load()  # errors: the one table in uts/cli/errors.py
    res = pool_manifests(list(manifests), output, onto=onto, mode=sampling, temperature=temperature,
                         names=list(name) if name else None, prefix_ids=prefix_ids)
    sources = res.sources
    rep = coverage(res.frame, sources, onto)
    rep["pool"] = {"clips": res.clips, "seconds": round(res.seconds, 3), "python_peak_mib": round(res.peak_mib, 1),
                   "sampling": sources.sampling}
    typer.echo(f"{res.clips} clips from {len(sources.sources)} sources -> {res.manifest} "
               f"(label spaces in {res.sidecar.name}); {res.seconds:.2f} s")
    typer.echo(coverage_table(rep))
    if any(s.inferred_space for s in sources.sources):
        typer.echo("* no sidecar: label space taken from the labels its clips use")
    if report:
        report.write_text(json.dumps(rep, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"report -> {report}")
    if plot:
        typer.echo(f"plot -> {plot_coverage(rep, plot)}")


def register(app: typer.Typer) -> None:
    app.command("pool")(pool_cmd)
