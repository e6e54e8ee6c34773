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

import copy
import json
import math
import shutil
import statistics
import time
from pathlib import Path

import polars as pl
from rich.console import Console

from uts.ontology import load
from uts.synth import SynthConfig, SynthError, synthesize

from .config import load_config
from .data import read_manifest, write_manifest
from .evaluate import evaluate
from .report import write_comparison
from .trainer import train

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RECIPE = REPO / "training" / "demo.yaml"
DEFAULT_CLIPS = 320
SPEECH_BACKENDS = {
    "espeak": "espeak-ng (real synthesised speech)",
    "numpy": "formant-babble fallback (espeak-ng is not installed: speech clips are vowel and "
             "consonant babble with an intonation contour, in no language; install it with "
             "`sudo apt-get install espeak-ng` for real speech in five languages)",
    "none": "none (no speech concepts in this ontology)",
}


class DemoError(RuntimeError):
    pass


def map_tags_to_uts(manifest: Path, onto, out: Path) -> dict:
    """Map the corpus' published text tags (``source_labels``, what a dataset would give) to UTS
    with the one resolver (:meth:`uts.ontology.resolve.Resolver.one`: a tag must name exactly
    one concept), and write the mapped manifest. The generator's own ids are only used to count.

    Returns counts: tags seen, mapped, unmapped, and mapped to a different concept than the
    generator intended (should be 0; the synthetic corpus knows its truth).
    """
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
             with_contrastive: bool = False, seeds: int = 1, budget_min: float | None = None) -> Path:
    """Run the demo into ``out``; returns the path of the comparison report.

    Every objective trains with ``seeds`` training seeds (``seed``, ``seed + 1``, ...: model
    initialisation and batch order; the corpus stays the same) and the report gives mean ± spread.
    A further seed starts only while the time taken so far says it ends within ``budget_min``
    minutes; the report says how many seeds ran and why."""
    console = console or Console()
    out = Path(out)
    clips = DEFAULT_CLIPS if clips is None else clips  # 0 is a mistake to refuse, not "the default"
    if clips < 16:
        raise DemoError("--clips must be at least 16")
    if seeds < 1:
        raise DemoError("--seeds must be at least 1")
    load_config(recipe or DEFAULT_RECIPE)  # a bad recipe is refused before anything is written
    # A folder written by an earlier demo (it has our marker) is replaced, so `make demo` can be
    # run again; any other non-empty folder is left alone unless --overwrite.
    marker = out / "uts-demo.json"
    if out.exists() and any(out.iterdir()):
        if not (marker.exists() or overwrite):
            raise DemoError(f"{out} is not empty and was not written by uts demo; choose another "
                            "--out or pass --overwrite")
        for name in ("corpus", "flat", "hier", "hier_contrastive", "seeds", "report.md", "summary.json",
                     "per_level.png", "curves.png"):
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"clips": clips, "steps": steps, "seed": seed, "seeds": seeds,
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
    speech = res.speech_backend
    if speech == "numpy":
        console.print("[yellow]espeak-ng not found: speech is formant babble (sudo apt-get install "
                      "espeak-ng for real speech)[/yellow]")
    console.print(f"{clips} training clips, {speech} speech, "
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

    names = ("flat", "hier", "hier+contrastive") if with_contrastive else ("flat", "hier")
    per_seed: list[dict[str, dict]] = []  # one {objective: eval result} per seed that ran
    seeds_note = ""
    for k in range(seeds):
        if k and budget_min is not None:
            spent = time.perf_counter() - t0
            estimate = spent + (time.perf_counter() - t_seeds) / k
            if estimate > budget_min * 60:
                seeds_note = (f"stopped after {k} of {seeds} seeds: one more would end at about "
                              f"{estimate / 60:.1f} min, past the {budget_min:g} min budget")
                console.print(f"[yellow]{seeds_note}[/yellow]")
                break
        if k == 0:
            t_seeds = time.perf_counter()
        s = seed + k
        base = out if k == 0 else out / "seeds" / str(s)
        runs, results = {}, {}
        for i, name in enumerate(names):
            console.rule(f"[bold]3/4 training {name} ({i + 1}/{len(names)}), seed {s} ({k + 1}/{seeds})")
            overrides = [f"data.train={corpus['train']}", f"data.val={corpus['val']}",
                         f"objective.name={name}", f"run.out={base / name.replace('+', '_')}", f"run.seed={s}",
                         *([f"optim.max_steps={steps}"] if steps else []), *extra_overrides]
            runs[name] = train(load_config(recipe or DEFAULT_RECIPE, overrides), onto=onto)
        console.rule(f"[bold]4/4 evaluating on the held-out test corpus, seed {s}")
        for name, run in runs.items():
            results[name] = evaluate(run, corpus["test"], run / "eval", onto=onto, name=name)
            r = results[name]
            console.print(f"{name}: macro mAP {r['macro_map']:.3f}, parent mAP {r['parent_map']:.3f}, "
                          f"hier. F1 {r['hierarchical_f1']:.3f}, violations {r['violation_rate']:.3f}")
            if "zero_shot" in r and "t2a_R@1" in r["retrieval"]:
                console.print(f"{name}: zero-shot macro mAP {r['zero_shot']['macro_map']:.3f}, "
                              f"text->audio R@1 {r['retrieval']['t2a_R@1']:.3f}, audio->text R@1 {r['retrieval']['a2t_R@1']:.3f}")
        if k == 0:
            first_runs = runs
        per_seed.append(results)
    minutes = (time.perf_counter() - t0) / 60
    ran = [seed + k for k in range(len(per_seed))]
    if len(ran) > 1:
        seed_text = (f"**{len(ran)} training seeds** ({', '.join(map(str, ran))}: initialisation and batch "
                     "order; same corpus): the table gives mean ± sample standard deviation over seeds, "
                     f"the plots their means (bars: ± 1 s.d.). Per-run details are for seed {seed}.")
    else:
        seed_text = (f"**One training seed ran** ({seed}), so the table shows no spread"
                     f"{' (' + seeds_note + ')' if seeds_note else ''}: differences between objectives "
                     "may be seed noise; " + ("a larger `--budget-min` (or a quieter machine) gives the spread."
                                              if seeds_note else "`uts demo --seeds 3` reports mean ± spread."))
    intro = (f"Synthetic corpus: {clips} training clips with **leaf-only** labels (ancestors omitted, "
             f"as in real datasets), {sizes['test'][1]} test clips scored against their complete labels. "
             f"{'All' if with_contrastive else 'Both'} runs use the same recipe (`{Path(recipe or DEFAULT_RECIPE).name}`), data and seed; "
             f"only the objective differs{' (hier+contrastive: captions of the corpus, frozen MiniLM text tower)' if with_contrastive else ''}. Tag mapping: {m['mapped']}/{m['tags']} tags mapped to UTS. "
             f"Wall time {minutes:.1f} min.\n\n{seed_text}\n\nSpeech back end: {SPEECH_BACKENDS.get(speech, speech)}.")
    results = aggregate_seeds(per_seed)
    report = write_comparison(results, out, first_runs, intro=intro)
    summary = {name: {k: v for k, v in r.items() if k != "per_class_ap"} for name, r in per_seed[0].items()}
    (out / "summary.json").write_text(json.dumps({
        "mapping": mapping, "speech_backend": speech, "seeds": ran, "seeds_note": seeds_note or None,
        "results": summary, "mean_sd_over_seeds": {n: r["spread"] for n, r in results.items()},
    }, indent=2))
    console.print(f"done in {minutes:.1f} min")
    return report


def aggregate_seeds(per_seed: list[dict[str, dict]]) -> dict[str, dict]:
    """One result per objective for the report: the first seed's result with every number of the
    headline table (and the mAP per level) replaced by its mean over seeds, plus ``spread``:
    {metric: [mean, sample s.d., seeds]} (s.d. None for a single seed)."""
    def numbers(results: list[dict], prefix: str = "") -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for r in results:
            for key, v in r.items():
                if isinstance(v, dict) and key in ("zero_shot", "retrieval", "probe", "map_per_level"):
                    for sub, vals in numbers([v], f"{prefix}{key}.").items():
                        found.setdefault(sub, []).extend(vals)
                elif isinstance(v, float) and not math.isnan(v):  # metrics; counts stay as they are
                    found.setdefault(prefix + key, []).append(float(v))
        return found

    out = {}
    for name in per_seed[0]:
        runs = [seed_results[name] for seed_results in per_seed]
        merged = copy.deepcopy(runs[0])
        spread = {}
        for key, vals in numbers(runs).items():
            mean = statistics.fmean(vals)
            sd = statistics.stdev(vals) if len(vals) > 1 else None
            spread[key] = [mean, sd, len(vals)]
            *parents, last = key.split(".")
            target = merged
            for p in parents:
                target = target[p]
            target[last] = mean
        merged["spread"] = spread
        out[name] = merged
    return out
