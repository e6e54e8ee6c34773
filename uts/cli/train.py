"""``uts train``, ``uts eval`` and ``uts demo``: thin wrappers over uts.training (torch is
imported inside the commands so that ``uts --help`` stays fast)."""

from __future__ import annotations

from pathlib import Path

import typer

from uts.cli.errors import user_errors


def train(
    recipe: Path = typer.Argument(None, help="YAML recipe (e.g. training/base.yaml); omitted: built-in defaults."),
    set_: list[str] = typer.Option([], "--set", "-s", help=(
        "Override a recipe value, dotted key=value, repeatable: --set optim.lr=3e-4 "
        "--set objective.name=flat --set 'model.encoder_args={channels: [32, 64]}'.")),
    out: Path = typer.Option(None, "--out", "-o", help="Run folder (same as --set run.out=DIR)."),
    resume: Path = typer.Option(None, "--resume", help=(
        "Continue the run in this folder from its last checkpoint (its config.json is used; "
        "--set may still change e.g. optim.epochs).")),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier run in the run folder (without "
                                   "it such a folder is refused: its model and checkpoints would be mixed with "
                                   "the new run's). Same as --set run.overwrite=true."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 1) a manifest with entries that would be "
                                "skipped (missing or unreadable audio, labels that are no UTS id) instead of "
                                "skipping and counting them (same as --set data.strict=true)."),
) -> None:
    """Train an audio encoder on a UTS-labelled manifest (flat BCE, hierarchical, caption-contrastive, captioning).

    objective.name: flat (BCE), hier (max constraint: a parent is scored at least as high as
    its children, and MCLoss), contrastive (CLAP-style InfoNCE between the clip and its caption,
    text tower = the bundled MiniLM, hierarchy-aware soft targets) or hier+contrastive (both,
    weighted by objective.tagging_weight / objective.contrastive_weight). Clips without a
    caption get one written from their UTS labels (contrastive.captions). caption (the paper's
    objective: a transformer decoder over the encoder's frames writes the clip's caption, WordPiece
    from the bundled MiniLM vocab) trains alone or with the others: hier+caption, flat+caption,
    contrastive+caption, hier+contrastive+caption (objective.caption_weight; section caption).
    model.encoder=hf takes AST, Whisper's encoder, HuBERT or wav2vec2 from transformers
    (model.encoder_args: kind + config, or path to a local checkpoint). Writes checkpoints
    (safetensors), metrics.csv, TensorBoard logs and curves.png to the run folder.

    Example: uts train training/demo.yaml --set data.train=corpus/manifest.jsonl --out runs/hier

    Several processes (DDP; gloo on CPU, NCCL on GPU):
    torchrun --nproc_per_node 2 -m uts.cli.main train RECIPE --out runs/x
    """
    # lazy: torch loads when the command runs, so `uts --help` stays fast
    from uts.training.config import load_config
    from uts.training.trainer import end_worker, is_main_process
    from uts.training.trainer import train as run_train

    overrides = (list(set_) + ([f"run.out={out}"] if out else []) + (["data.strict=true"] if strict else [])
                 + (["run.overwrite=true"] if overwrite else []))
    with user_errors():
        if resume is not None:
            if recipe is not None:
                raise typer.BadParameter("give either a recipe or --resume, not both")
            run_dir = run_train(resume=resume, overrides=tuple(overrides))
        else:
            run_dir = run_train(load_config(recipe, overrides))
    if is_main_process():
        typer.echo(f"run finished -> {run_dir} (model.safetensors, metrics.csv, curves.png)")
    end_worker()


def evaluate(
    run: Path = typer.Argument(..., help="Run folder written by uts train."),
    manifest: Path = typer.Argument(..., help="Manifest to evaluate on (flat JSONL/Parquet or Lhotse cuts)."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write eval.json, report.md and plots (default RUN/eval)."),
    threshold: float = typer.Option(None, min=0.0, max=1.0,
                                    help="Decision threshold for the set-based metrics, a probability in [0, 1] "
                                         "(default: the run's, 0.5)."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Also fit a linear probe (domain) on the frozen embeddings."),
    probe_manifest: Path = typer.Option(None, "--probe-train", help="Clips to fit the probe on (default: the run's training manifest)."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 1) if any clip would be skipped "
                                "(bad manifest entry, audio that fails to decode) instead of skipping it."),
) -> None:
    """Evaluate a trained run with hierarchy-aware metrics and a linear probe.

    Macro/micro mAP, mAP per hierarchy level, hierarchical P/R/F1, violation rate, mistake
    severity and a linear probe on the frozen embeddings. Runs with a text tower (objective
    contrastive or hier+contrastive) also get zero-shot tagging (clips scored against the UTS
    concepts' labels, synonyms and definitions) and text<->audio retrieval (R@1/5/10, mAP@10;
    captions from the manifest's captions/caption column, else written from its labels).
    Captioning runs also get the held-out caption loss and perplexity, BLEU-4 / ROUGE-L /
    CIDEr-D of generated captions (a few in report.md), and, without a text tower, zero-shot
    tagging and retrieval by the decoder's likelihood.
    Prints how many clips were evaluated and skipped (and why; --strict refuses instead), the
    headline figures and where the report is.

    Example: uts eval runs/hier corpus-test/manifest.jsonl
    """
    # lazy: torch loads when the command runs, so `uts --help` stays fast
    from uts.training.evaluate import evaluate as run_eval

    with user_errors():
        res = run_eval(run, manifest, out, probe=probe, probe_manifest=probe_manifest,
                       threshold=threshold, device=device, progress=True, strict=strict)
    # lazy: torch loads when the command runs, so `uts --help` stays fast
    from uts.training.report import headline

    typer.echo(headline(res))
    typer.echo(f"report -> {(out or run / 'eval') / 'report.md'}")


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder for the corpus, the runs and the report."),
    clips: int = typer.Option(None, "--clips", help="Training clips to synthesise (default 320; validation and test corpora scale with it)."),
    steps: int = typer.Option(None, "--steps", help="Training steps per objective (default: the recipe's optim.max_steps, 150)."),
    recipe: Path = typer.Option(None, "--recipe", help="Training recipe (default training/demo.yaml)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into --out even if it holds files not written by uts demo (an earlier demo is always replaced)."),
    with_contrastive: bool = typer.Option(True, "--with-contrastive/--no-contrastive", help=(
        "Also train hier+contrastive (caption InfoNCE, bundled MiniLM text tower, frozen) and report "
        "its zero-shot tagging and text-audio retrieval (about a third of the demo's time).")),
    seeds: int = typer.Option(3, "--seeds", help="Training seeds per objective; the report gives mean ± s.d. over them."),
    budget: float = typer.Option(6.0, "--budget-min", help="Start a further seed only if it should end within this many minutes (the report says how many ran)."),
) -> None:
    """Synthesise a small corpus, train flat, hier and hier+contrastive on it, evaluate, report.

    The main job end to end: the training corpus has leaf-only labels (ancestors omitted, as in
    real datasets); its tags are mapped to UTS; the objectives train with the same recipe, data
    and seed; all are scored against the true labels, and the contrastive run also by zero-shot
    tagging and text-audio retrieval. Each objective trains with --seeds seeds while --budget-min
    allows, and the report gives mean ± s.d. (or says that one seed ran). A few minutes on 2 CPU
    cores (--no-contrastive: flat and hier only).

    Example: uts demo --out runs/demo
    """
    # lazy: torch loads when the command runs, so `uts --help` stays fast
    from uts.training.demo import run_demo

    with user_errors():
        report = run_demo(out, clips=clips, steps=steps, recipe=recipe, overwrite=overwrite,
                          with_contrastive=with_contrastive, seeds=seeds, budget_min=budget)
    typer.echo(f"demo report -> {report}")


def register(app: typer.Typer) -> None:
    """Attach ``uts train``, ``uts eval`` and ``uts demo`` to the top-level app."""
    app.command("train")(train)
    app.command("eval")(evaluate)
    app.command("demo")(demo)
