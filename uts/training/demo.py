"""``uts demo`` (what ``make demo`` runs): the pre-training job end to end on a synthetic corpus.

1. synthesise a training, a validation and a test corpus (``uts synth``; leaf-only labels for
   training, as in real datasets: "snare drum" without "drum" or "music");
2. map the corpus' text tags to UTS concepts (what ``uts map apply`` does for a real dataset);
3. train the ``flat`` (BCE, the paper's baseline) and the ``hier`` (max constraint + MCLoss)
   objective with the same recipe, data and seed -- and, with ``with_contrastive``, the
   ``hier+contrastive`` objective too (caption InfoNCE with the bundled MiniLM as a frozen text
   tower; ``uts demo`` does by default, ``--no-contrastive`` leaves it out);
4. evaluate them against the true labels (plus zero-shot tagging and text-audio retrieval for
   the contrastive run) and write ``report.md`` comparing them.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RECIPE = REPO / "training" / "demo.yaml"
DEFAULT_CLIPS = 320


class DemoError(RuntimeError):
    pass


def map_tags_to_uts(manifest: Path, onto, out: Path) -> dict:
    """Map the corpus' published text tags (``source_labels``, what a dataset would give) to UTS
    with the one resolver (:meth:`uts.ontology.resolve.Resolver.one`: a tag must name exactly
    one concept), and write the mapped manifest. The generator's own ids are only used to count.

    Returns counts: tags seen, mapped, unmapped, and mapped to a different concept than the
    generator intended (should be 0; the synthetic corpus knows its truth).
    """
    import polars as pl

    from .data import read_manifest, write_manifest

    df = read_manifest(manifest)
    stats = {"tags": 0, "mapped": 0, "unmapped": 0, "changed": 0}
    mapped_rows = []
    for tags, intended in df.select("source_labels", "labels").iter_rows():
        hits = [onto.resolver.one(tag) for tag in tags]
        stats["tags"] += len(tags)
        stats["mapped"] += sum(h is not None for h in hits)
        stats["changed"] += sum(h is not None and h != i for h, i in zip(hits, intended))
        mapped_rows.append([h for h in hits if h is not None])
    stats["unmapped"] = stats["tags"] - stats["mapped"]
    df = df.with_columns(pl.Series("labels", mapped_rows, dtype=pl.List(pl.Utf8)))
    # paths are absolute after read_manifest, so the mapped manifest can live anywhere
    write_manifest(df, out)
    return stats


def run_demo(out: str | Path = "runs/demo", clips: int | None = None, steps: int | None = None,
             recipe: str | Path | None = None, overwrite: bool = False, seed: int = 0,
             onto=None, console: Console | None = None, extra_overrides: tuple[str, ...] = (),
             with_contrastive: bool = False) -> Path:
    """Run the demo into ``out``; returns the path of the comparison report."""
    from uts.ontology import load

    from .config import load_config
    from .evaluate import evaluate
    from .report import write_comparison
    from uts.synth import SynthConfig, SynthError, synthesize
    from .trainer import train

    console = console or Console()
    out = Path(out)
    clips = clips or DEFAULT_CLIPS
    if clips < 16:
        raise DemoError("--clips must be at least 16")
    # A folder written by an earlier demo (it has our marker) is replaced, so `make demo` can be
    # run again; any other non-empty folder is left alone unless --overwrite.
    marker = out / "uts-demo.json"
    if out.exists() and any(out.iterdir()):
        if not (marker.exists() or overwrite):
            raise DemoError(f"{out} is not empty and was not written by uts demo; choose another "
                            "--out or pass --overwrite")
        for name in ("corpus", "flat", "hier", "hier_contrastive", "report.md", "summary.json", "per_level.png", "curves.png"):
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"clips": clips, "steps": steps, "seed": seed,
                                  "with_contrastive": with_contrastive}) + "\n")
    t0 = time.perf_counter()
    onto = onto or load()
    console.rule("[bold]1/4 synthesising a corpus")
    corpus = {}
    sizes = {"train": ("leaf-only", clips, seed), "val": ("leaf-only", max(16, clips // 5), seed + 1),
             "test": ("leaf-only", max(32, clips // 3), seed + 2)}
    try:
        for split, (mode, n, s) in sizes.items():
            res = synthesize(out / "corpus" / split, onto, SynthConfig(
                n=n, seed=s, label_mode=mode, skip_missing_labels=True), progress=True)
            corpus[split] = res.manifest
    except SynthError as exc:
        raise DemoError(f"cannot synthesise the demo corpus: {exc}") from None
    console.print(f"{clips} training clips, {res.speech_backend} speech, "
                  f"{len(set(res.labels.values()))} source concepts; left out: "
                  f"{', '.join(sorted(res.skipped_keys)) or 'nothing'}")

    console.rule("[bold]2/4 mapping the corpus' tags to UTS")
    mapping = {}
    for split in ("train", "val"):
        mapped = corpus[split].with_name("manifest.uts.jsonl")
        mapping[split] = map_tags_to_uts(corpus[split], onto, mapped)
        corpus[split] = mapped
    m = mapping["train"]
    console.print(f"train: {m['mapped']} of {m['tags']} tags mapped, {m['unmapped']} unmapped, "
                  f"{m['changed']} to a different concept")

    runs, results = {}, {}
    names = ("flat", "hier", "hier+contrastive") if with_contrastive else ("flat", "hier")
    for i, name in enumerate(names):
        console.rule(f"[bold]3/4 training {name} ({i + 1}/{len(names)})")
        overrides = [f"data.train={corpus['train']}", f"data.val={corpus['val']}",
                     f"objective.name={name}", f"run.out={out / name.replace('+', '_')}", f"run.seed={seed}",
                     *([f"optim.max_steps={steps}"] if steps else []), *extra_overrides]
        runs[name] = train(load_config(recipe or DEFAULT_RECIPE, overrides), onto=onto)
    console.rule("[bold]4/4 evaluating on the held-out test corpus")
    for name, run in runs.items():
        results[name] = evaluate(run, corpus["test"], run / "eval", onto=onto, name=name)
        r = results[name]
        console.print(f"{name}: macro mAP {r['macro_map']:.3f}, parent mAP {r['parent_map']:.3f}, "
                      f"hier. F1 {r['hierarchical_f1']:.3f}, violations {r['violation_rate']:.3f}")
        if "zero_shot" in r and "t2a_R@1" in r["retrieval"]:
            console.print(f"{name}: zero-shot macro mAP {r['zero_shot']['macro_map']:.3f}, "
                          f"text->audio R@1 {r['retrieval']['t2a_R@1']:.3f}, audio->text R@1 {r['retrieval']['a2t_R@1']:.3f}")
    minutes = (time.perf_counter() - t0) / 60
    intro = (f"Synthetic corpus: {clips} training clips with **leaf-only** labels (ancestors omitted, "
             f"as in real datasets), {sizes['test'][1]} test clips scored against their complete labels. "
             f"{'All' if with_contrastive else 'Both'} runs use the same recipe (`{Path(recipe or DEFAULT_RECIPE).name}`), data and seed; "
             f"only the objective differs{' (hier+contrastive: captions of the corpus, frozen MiniLM text tower)' if with_contrastive else ''}. Tag mapping: {m['mapped']}/{m['tags']} tags mapped to UTS. "
             f"Wall time {minutes:.1f} min.")
    report = write_comparison(results, out, runs, intro=intro)
    summary = {name: {k: v for k, v in r.items() if k != "per_class_ap"} for name, r in results.items()}
    (out / "summary.json").write_text(json.dumps({"mapping": mapping, "results": summary}, indent=2))
    console.print(f"done in {minutes:.1f} min")
    return report
