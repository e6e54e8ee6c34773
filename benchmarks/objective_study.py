"""The paper's objective study on the synthetic corpus: objectives x data conditions.

Objectives ``flat``, ``hier``, ``contrastive``, ``hier+contrastive``, ``caption`` and
``hier+caption`` (same demo CNN6 recipe, steps and seed; the contrastive ones with the bundled
MiniLM as a frozen text tower and hierarchy-aware soft targets; the caption ones with a 2-layer
transformer decoder over the CNN's frames) are pre-trained under these conditions of the *same*
synthetic audio (fixed seeds):

- ``clean``: complete labels (every source's concepts closed over ancestors);
- ``leaf-only``: only the most specific labels, as in most real datasets;
- ``noisy``: each true label replaced, with probability ``--noise``, by the concept of another
  source that is not in the clip;
- ``no-<domain>``: clean labels, but a domain (default ``sound``) left out of pre-training
  (a separate corpus of the same size without it);
- **caption strength** (the paper's own lever), clean labels, text objectives only (the tagging
  objectives see the same labels as ``clean``): ``rich-captions`` -- the generator's sentences
  (what each source does, where, how: "A dog barks twice in the distance while rain falls"),
  ``weak-captions`` -- one template over the clip's flat tags ("The sound of dog, bark and rain.",
  :func:`uts.training.text.tag_caption`).

In the label conditions the corpus counts as tags-only: captions for the text objectives are
written from the *given* labels (``contrastive.captions=labels``, ``caption.captions=labels``),
so every condition touches every objective. Evaluation is on one held-out corpus with all domains and complete labels, over
one common label space (its labels and their ancestors; a class a run never saw scores 0):

- linear probe per domain: logistic regression (scikit-learn, :func:`uts.training.metrics.linear_probe`)
  on the frozen encoder embedding of a separate,
  cleanly labelled probe-training corpus, predicting that domain's concepts; probe mAP on the test;
- tagging mAP and hierarchical F1 from the tagging head (n/a for ``contrastive``: it has none);
- zero-shot mAP and hierarchical F1 (contrastive: clips scored against the concepts' prompt
  embeddings; caption: by the decoder's centred likelihood of "the sound of {label}" prompts,
  :mod:`uts.training.caption_eval`);
- retrieval R@1 and mAP@10 both ways, two captions per test clip (the generator's sentence and
  one written from its complete labels); for caption models by centred likelihood;
- per domain: tagging and zero-shot macro mAP over that domain's classes, text->audio R@1 of the
  captions of that domain's clips (gallery: all clips).

Prints the table of means, the per-domain table, per condition and metric the best objective
against the runner-up, then paired differences for the comparisons the write-up makes (per
seed, same corpora: mean difference and a 95% t-interval over seeds), and writes every figure as
JSON.

``--objectives`` may add the variants ``contrastive/hard`` and ``hier+contrastive/hard`` (CLIP's
hard targets instead of the label-overlap soft targets); ``--seeds 0 1 2`` repeats everything
(corpora included) and the table shows means, with the median seed-to-seed spread below it.

Usage: .venv/bin/python benchmarks/objective_study.py [--clips 256] [--steps 100] [--seeds 0 1 2]
       [--objectives flat hier contrastive hier+contrastive hier+contrastive/hard] [--out DIR] [--json FILE]
       .venv/bin/python benchmarks/objective_study.py --merge A.json B.json ...   (the tables of several
       invocations, e.g. conditions or seeds split over processes; a cell in two files must have the
       same figures in both)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OBJECTIVES = ("flat", "hier", "contrastive", "hier+contrastive", "caption", "hier+caption")
TEXT_CONDITIONS = ("rich-captions", "weak-captions")  # caption strength: text objectives only
CAPTION_SOURCE = {"rich-captions": "manifest", "weak-captions": "tags"}
# the comparisons the write-up makes: (condition or None for every condition, a, b, metric)
PAIRS = [(None, "caption", "hier", "probe_speech"), (None, "caption", "hier", "probe_music"),
         (None, "caption", "hier", "probe_sound"), (None, "hier+caption", "hier", "tagging_map"),
         (None, "hier+caption", "hier", "probe_sound"), (None, "caption", "contrastive", "zero_shot_map"),
         (None, "caption", "contrastive", "t2a_R@1")]
PAIRS += [(None, "hier", "flat", "tagging_map"), (None, "hier", "flat", "tagging_hf1"),
          (None, "hier+contrastive", "hier", "tagging_map"), (None, "hier+caption", "caption", "zero_shot_map")]
# hard negatives (CLIP's identity targets) against the label-overlap soft targets
PAIRS += [(None, "hier+contrastive/hard", "hier+contrastive", m)
          for m in ("tagging_map", "zero_shot_map", "t2a_R@1", "a2t_R@1", "probe_speech", "probe_music", "probe_sound")]
CONDITION_PAIRS = [("rich-captions", "weak-captions", obj, m) for obj in ("caption", "hier+caption", "contrastive",
                                                                         "hier+contrastive")
                   for m in ("probe_music", "probe_sound", "zero_shot_map", "t2a_R@1")]
# the data-quality finding: each label condition against clean, per objective
CONDITION_PAIRS += [(cond, "clean", obj, m) for cond in ("noisy", "no-sound") for obj in OBJECTIVES
                    for m in ("probe_sound", "tagging_map", "zero_shot_map", "t2a_R@1")]
# "which objective wins where": per condition, the best objective on each of these against the runner-up
HEADLINE = ("probe_speech", "probe_music", "probe_sound", "tagging_map", "tagging_hf1", "zero_shot_map", "t2a_R@1",
            "a2t_R@1")
# extra variants: name -> (objective, overrides); "/hard" = CLIP's hard targets instead of soft
VARIANTS = {"contrastive/hard": ("contrastive", ["contrastive.targets=hard"]),
            "hier+contrastive/hard": ("hier+contrastive", ["contrastive.targets=hard"])}
DOMAINS = ("speech", "music", "sound")
CONDITIONS = ("clean", "leaf-only", "noisy", *(f"no-{d}" for d in DOMAINS), *TEXT_CONDITIONS)


def build_corpora(root: Path, onto, clips: int, seed: int, noise: float, left_out: str,
                  test_clips: int | None = None) -> dict[str, Path]:
    """Pre-training manifests per condition (same audio for clean / leaf-only / noisy), a probe
    training corpus and the test corpus (two captions per clip)."""
    import numpy as np
    import polars as pl

    from uts.training.data import read_manifest, write_manifest
    from uts.synth.corpus import SynthConfig, _apply_label_mode, most_specific, synthesize
    from uts.training.text import caption_from_labels

    def synth(name, n, s, exclude=()):
        return synthesize(root / name, onto, SynthConfig(n=n, seed=s, label_mode="complete", exclude_domains=exclude,
                                                         skip_missing_labels=True), progress=False).manifest

    pre = read_manifest(synth("pretrain", clips, seed))
    truth = pre["labels_complete"].to_list()
    leaves = sorted({c for ls in truth for c in most_specific(onto, ls)})
    rng = np.random.default_rng(seed)
    noisy_cfg = SynthConfig(label_mode="wrong", wrong_rate=noise)
    labels = {"clean": truth, "leaf-only": [most_specific(onto, ls) for ls in truth],
              "noisy": [_apply_label_mode(rng, onto, ls, noisy_cfg, leaves) for ls in truth]}
    out = {}
    for cond, rows in labels.items():
        out[cond] = root / f"pretrain-{cond}.jsonl"
        write_manifest(pre.with_columns(pl.Series("labels", rows, dtype=pl.List(pl.Utf8))), out[cond])
    out[f"no-{left_out}"] = synth(f"pretrain-no-{left_out}", clips, seed, exclude=(left_out,))
    for cond in TEXT_CONDITIONS:  # same clips and labels as clean; the recipe picks the captions
        out[cond] = out["clean"]
    out["probe"] = synth("probe", max(96, clips // 2), seed + 1)
    test = read_manifest(synth("test", test_clips or max(96, clips // 2), seed + 2))
    caps = [[c, caption_from_labels(onto, ls, seed=i)] for i, (c, ls) in
            enumerate(zip(test["caption"].to_list(), test["labels_complete"].to_list()))]
    out["test"] = root / "test-two-captions.jsonl"
    write_manifest(test.with_columns(pl.Series("captions", caps, dtype=pl.List(pl.Utf8))), out["test"])
    return out


def evaluate_run(run_dir: Path, corpora: dict[str, Path], onto) -> dict:
    import numpy as np
    import torch

    from uts.training.data import ClipDataset, LabelSpace, read_manifest, validate_manifest
    from uts.training.evaluate import load_run, predict
    from uts.training.hierarchy import Hierarchy
    from uts.training.metrics import hierarchical_report, linear_probe
    from uts.training.retrieval import clip_captions, retrieval_metrics
    from uts.training.caption_eval import zero_shot_caption_scores
    from uts.training.zeroshot import zero_shot_scores

    run = load_run(run_dir)
    d = run.cfg["data"]
    space = LabelSpace(run.labels)

    def scored(path):
        df, _ = validate_manifest(read_manifest(path, onto=onto))
        ds = ClipDataset(df, space, sample_rate=d["sample_rate"], clip_seconds=d["clip_seconds"], train=False)
        out = predict(run.model, run.objective, ds, run.cfg, num_workers=0)
        return df[out["index"], :], out

    test_df, test = scored(corpora["test"])
    probe_df, probe = scored(corpora["probe"])
    common = sorted({c for ls in test_df["labels_complete"].to_list() for c in ls},
                    key=lambda c: (onto.depth(c), c))
    hierarchy = Hierarchy.from_ontology(onto, common)
    common_space = LabelSpace(common)
    truth = np.stack([common_space.encode(ls) for ls in test_df["labels_complete"].to_list()])
    res: dict = {}
    clip_domain = [{onto.get(c).domain for c in ls if c in onto} for ls in test_df["labels_complete"].to_list()]

    def per_domain(rep, prefix):
        for dom in DOMAINS:
            aps = [v for cid, v in rep["per_class_ap"].items() if v is not None and onto.get(cid).domain == dom]
            if aps:
                res[f"{prefix}_{dom}"] = float(np.mean(aps))

    if run.objective.tagging is not None:
        scores = torch.zeros(len(truth), len(common))
        for j, cid in enumerate(common):
            if cid in space:
                scores[:, j] = test["scores"][:, space.index[cid]]
        rep = hierarchical_report(scores, truth, hierarchy)
        res.update(tagging_map=rep["macro_map"], tagging_hf1=rep["hierarchical_f1"])
        per_domain(rep, "tagging_map")
    texts, owner, _ = clip_captions(test_df, onto)
    sim = None
    if "audio" in test:  # contrastive: joint-space cosines
        zs = zero_shot_scores(run.model, test["audio"], hierarchy, onto)
        with torch.no_grad():
            emb = torch.cat([run.model.encode_text(texts[i:i + 64]).float() for i in range(0, len(texts), 64)])
        ret = retrieval_metrics(test["audio"], emb, owner)
        sim = (torch.nn.functional.normalize(emb, dim=-1) @ torch.nn.functional.normalize(test["audio"], dim=-1).T).numpy()
    elif "frames" in test:  # captioning: centred decoder likelihoods
        from uts.training.caption_eval import centred_likelihood

        from uts.training.retrieval import retrieval_from_similarity

        zs = zero_shot_caption_scores(run.model.decoder, run.model.tokenizer, test["frames"], hierarchy, onto)
        sim = centred_likelihood(run.model.decoder, run.model.tokenizer, test["frames"], texts).T.double().numpy()
        ret = retrieval_from_similarity(sim, owner)
    if sim is not None:
        rep = hierarchical_report(zs, truth, hierarchy)
        res.update(zero_shot_map=rep["macro_map"], zero_shot_hf1=rep["hierarchical_f1"])
        per_domain(rep, "zero_shot_map")
        res.update({k: ret[k] for k in ("t2a_R@1", "t2a_R@10", "t2a_mAP@10", "a2t_R@1", "a2t_R@10", "a2t_mAP@10")})
        from uts.training.retrieval import retrieval_from_similarity

        owner_np = np.asarray(owner)
        for dom in DOMAINS:  # text->audio of the captions of this domain's clips, all clips as gallery
            rows = [m for m, o in enumerate(owner_np) if dom in clip_domain[o]]
            if rows:
                res[f"t2a_R@1_{dom}"] = retrieval_from_similarity(sim[rows], owner_np[rows])["t2a_R@1"]
    # linear probe per domain on the frozen encoder embedding
    ptruth = np.stack([common_space.encode(ls) for ls in probe_df["labels_complete"].to_list()])
    for dom in DOMAINS:
        cols = [j for j, cid in enumerate(common) if onto.get(cid).domain == dom
                and ptruth[:, j].sum() > 0 and truth[:, j].sum() > 0]
        if cols:
            pr = linear_probe(probe["embeddings"], ptruth[:, cols], test["embeddings"], truth[:, cols])
            res[f"probe_{dom}"] = pr["probe_map"]
    return res


def _interval(diffs: list[float]) -> str:
    """Mean paired difference and its 95% t-interval over seeds."""
    import statistics

    from scipy import stats

    m = statistics.mean(diffs)
    if len(diffs) < 2:
        return f"{m:+.3f} (1 seed)"
    if statistics.stdev(diffs) < 1e-9:  # e.g. R@1 moves in steps of 1/clips: equal differences are no evidence
        return f"{m:+.3f} (the same in all {len(diffs)} seeds; no interval)"
    half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    mark = " *" if abs(m) > half else ""
    return f"{m:+.3f} [{m - half:+.3f}, {m + half:+.3f}]{mark}"


def paired_differences(results: list[dict], conditions: list[str]) -> list[str]:
    """Paired (same seed, same corpora) differences for the comparisons of the write-up;
    ``*``: the 95% interval excludes 0."""
    def value(cond, obj, seed, metric):
        return next((r.get(metric) for r in results
                     if r["condition"] == cond and r["objective"] == obj and r["seed"] == seed), None)

    seeds = sorted({r["seed"] for r in results})
    lines = ["| comparison | condition | metric | mean difference [95% CI] |", "|---|---|---|---|"]
    for cond_filter, a, b, metric in PAIRS:
        for cond in conditions:
            if cond_filter not in (None, cond):
                continue
            diffs = [va - vb for s in seeds if (va := value(cond, a, s, metric)) is not None
                     and (vb := value(cond, b, s, metric)) is not None]
            if diffs:
                lines.append(f"| {a} − {b} | {cond} | {metric} | {_interval(diffs)} |")
    for ca, cb, obj, metric in CONDITION_PAIRS:
        diffs = [va - vb for s in seeds if (va := value(ca, obj, s, metric)) is not None
                 and (vb := value(cb, obj, s, metric)) is not None]
        if diffs:
            lines.append(f"| {ca} − {cb} | {obj} | {metric} | {_interval(diffs)} |")
    return lines


def winners(results: list[dict], conditions: list[str]) -> list[str]:
    """Per condition and headline metric: the objective with the best mean over seeds, the
    runner-up, and their paired difference (``*``: the 95% interval excludes 0)."""
    import statistics

    lines = ["| condition | metric | best | runner-up | best − runner-up [95% CI] |", "|---|---|---|---|---|"]
    for cond in conditions:
        rows = [r for r in results if r["condition"] == cond]
        for metric in HEADLINE:
            by_obj: dict[str, dict[int, float]] = {}
            for r in rows:
                if metric in r:
                    by_obj.setdefault(r["objective"], {})[r["seed"]] = r[metric]
            if len(by_obj) < 2:
                continue
            ranked = sorted(by_obj, key=lambda o: -statistics.mean(by_obj[o].values()))
            best, second = ranked[:2]
            diffs = [by_obj[best][s] - by_obj[second][s] for s in sorted(by_obj[best]) if s in by_obj[second]]
            lines.append(f"| {cond} | {metric} | {best} | {second} | {_interval(diffs)} |")
    return lines


def print_tables(results: list[dict], conditions: list[str], objectives: list[str], seeds: list[int]) -> None:
    """The table of means, the per-domain table, the median spreads and the paired differences."""
    cols = [("probe_speech", "probe speech"), ("probe_music", "probe music"), ("probe_sound", "probe sound"),
            ("tagging_map", "tag mAP"), ("tagging_hf1", "tag hF1"), ("zero_shot_map", "0-shot mAP"),
            ("zero_shot_hf1", "0-shot hF1"), ("t2a_R@1", "t2a R@1"), ("t2a_mAP@10", "t2a mAP@10"),
            ("a2t_R@1", "a2t R@1"), ("a2t_mAP@10", "a2t mAP@10")]
    domain_cols = [(f"{m}_{d}", f"{short} {d}") for m, short in (("tagging_map", "tag"), ("zero_shot_map", "0-shot"),
                                                                  ("t2a_R@1", "t2a R@1")) for d in DOMAINS]
    import statistics

    lines = ["| condition | objective | seeds | " + " | ".join(c for _, c in cols) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    spreads: dict[str, list[float]] = {k: [] for k, _ in cols}
    for cond in conditions:
        for name in objectives:
            rows = [r for r in results if r["condition"] == cond and r["objective"] == name]
            if not rows:
                continue
            cells = []
            for k, _ in cols:  # mean ± seed-to-seed standard deviation
                vals = [r[k] for r in rows if k in r]
                sd = f"±{statistics.stdev(vals):.3f}" if len(vals) > 1 else ""
                cells.append(f"{statistics.mean(vals):.3f}{sd}" if vals else "n/a")
                if len(vals) > 1:
                    spreads[k].append(statistics.stdev(vals))
            lines.append(f"| {cond} | {name} | {len(rows)} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    # per-domain tagging / zero-shot mAP and text->audio R@1 (means over seeds)
    lines = ["| condition | objective | " + " | ".join(c for _, c in domain_cols) + " |",
             "|---|---|" + "---|" * len(domain_cols)]
    for cond in conditions:
        for name in objectives:
            rows = [r for r in results if r["condition"] == cond and r["objective"] == name]
            if rows:
                lines.append(f"| {cond} | {name} | " + " | ".join(
                    f"{statistics.mean(v):.3f}" if (v := [r[k] for r in rows if k in r]) else "n/a"
                    for k, _ in domain_cols) + " |")
    print("\n" + "\n".join(lines))
    print("\n" + "\n".join(winners(results, conditions)))
    print("\n" + "\n".join(paired_differences(results, conditions)))
    if len(seeds) > 1:
        print("median seed-to-seed std per column: " + ", ".join(
            f"{c} {statistics.median(spreads[k]):.3f}" for k, c in cols if spreads[k]))


def _order(known):
    """Sort key: the canonical order of ``known``, then anything else alphabetically."""
    return lambda name: (known.index(name), "") if name in known else (len(known), name)


def merge_results(files: dict[str, list[dict]]) -> list[dict]:
    """The rows of several result files, each (condition, objective, seed) once. A cell run by two
    invocations (e.g. rerun to check reproducibility) must have the same figures in both (run time
    aside); otherwise the files come from different code or settings and merging them is refused."""
    seen: dict[tuple, tuple[str, dict]] = {}
    for name, rows in files.items():
        for row in rows:
            key = (row["condition"], row["objective"], row["seed"])
            figures = {k: v for k, v in row.items() if k != "seconds"}
            if key in seen:
                first, earlier = seen[key]
                if earlier != figures:
                    differ = sorted(k for k in figures.keys() | earlier.keys() if figures.get(k) != earlier.get(k))
                    raise ValueError(f"{key[0]}/{key[1]}/seed {key[2]} is in {first} and {name} with different "
                                     f"figures ({', '.join(differ[:3])}): not the same code or settings")
                continue
            seen[key] = (name, figures)
    return [{**figures} for _, figures in seen.values()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=256, help="pre-training clips per condition")
    ap.add_argument("--steps", type=int, default=100, help="training steps per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="repeat everything per seed (corpora too); the table shows means")
    ap.add_argument("--noise", type=float, default=0.3, help="label replacement rate of the noisy condition")
    ap.add_argument("--left-out", default="sound", choices=DOMAINS, help="domain left out of pre-training")
    ap.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=[*OBJECTIVES, *VARIANTS])
    ap.add_argument("--conditions", nargs="+", default=None,
                    help="subset of: clean leaf-only noisy no-<domain> rich-captions weak-captions (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="keep corpora and runs here (default: a temp dir)")
    ap.add_argument("--test-clips", type=int, default=None, help="held-out clips (default: max(96, clips/2))")
    ap.add_argument("--json", type=Path, default=Path("objective_study.json"))
    ap.add_argument("--merge", type=Path, nargs="+", default=None,
                    help="print the tables of these result files (e.g. one per seed, run in parallel) and exit")
    args = ap.parse_args()
    if args.merge:
        runs = []
        for p in args.merge:
            try:
                runs.append(json.loads(p.read_text()))
                runs[-1]["results"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                sys.exit(f"error: --merge: {p}: not a result file of this script ({e})")
        try:
            results = merge_results({str(p): run["results"] for p, run in zip(args.merge, runs)})
        except ValueError as e:
            sys.exit(f"error: --merge: {e}")
        conditions = sorted({r["condition"] for r in results}, key=_order(CONDITIONS))
        objectives = sorted({r["objective"] for r in results}, key=_order((*OBJECTIVES, *VARIANTS)))
        print_tables(results, conditions, objectives, sorted({r["seed"] for r in results}))
        print(f"\nmerged {len(results)} runs from {len(runs)} files; wall time "
              f"{max(run['minutes'] for run in runs):.1f} min (files run in parallel)")
        return

    import torch

    from uts.ontology import load
    from uts.training.config import load_config
    from uts.training.demo import DEFAULT_RECIPE
    from uts.training.trainer import train

    # one intra-op thread: on a shared machine, thread contention made 2 threads up to 30x slower
    torch.set_num_threads(1)
    onto = load()
    t0 = time.perf_counter()
    tmp = None if args.out else tempfile.TemporaryDirectory()
    root = args.out or Path(tmp.name)
    conditions = args.conditions or ["clean", "leaf-only", "noisy", f"no-{args.left_out}", *TEXT_CONDITIONS]
    results = []
    for seed in args.seeds:
        # corpora seeds 10*seed + (0, 1, 2): no two seeds share a corpus
        corpora = build_corpora(root / f"seed{seed}" / "corpus", onto, args.clips, 10 * seed, args.noise, args.left_out,
                                args.test_clips)
        print(f"seed {seed}: corpora ready at {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        for cond in conditions:
            for name in args.objectives:
                obj, extra = VARIANTS.get(name, (name, []))
                text_objective = "contrastive" in obj or "caption" in obj
                if cond in TEXT_CONDITIONS and not text_objective:
                    continue  # same labels as clean: the tagging rows would repeat clean's
                source = CAPTION_SOURCE.get(cond, "labels")
                extra = [*extra, f"contrastive.captions={source}", f"caption.captions={source}"]
                t1 = time.perf_counter()
                overrides = [f"data.train={corpora[cond]}", f"objective.name={obj}", f"optim.max_steps={args.steps}",
                             f"run.out={root / f'seed{seed}' / 'runs' / cond / name.replace('+', '_').replace('/', '_')}",
                             f"run.seed={seed}", "run.progress=false", "run.tensorboard=false", "run.ckpt_every=100000",
                             "data.num_workers=1", "run.threads=1", *extra]
                run_dir = train(load_config(DEFAULT_RECIPE, overrides), onto=onto)
                row = {"objective": name, "condition": cond, "seed": seed, **evaluate_run(run_dir, corpora, onto),
                       "seconds": round(time.perf_counter() - t1, 1)}
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
    minutes = (time.perf_counter() - t0) / 60
    print_tables(results, conditions, args.objectives, args.seeds)
    print(f"\n{len(results)} runs ({len(args.seeds)} seed(s)), {args.clips} pre-training clips, {args.steps} steps each, "
          f"ontology {len(onto.concepts)} concepts, {minutes:.1f} min")
    args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "minutes": minutes,
                                     "results": results}, indent=2))
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
