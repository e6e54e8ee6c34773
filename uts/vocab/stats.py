"""The report that comes with a vocabulary: where each cut falls (df and score at the cut rank),
how the domains share each size, how much of the raw tag mass resolves to UTS, and a plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from uts.ontology.files import atomic_write_text

from .io import size_name, write_json

DOMAIN_ORDER = ("speech", "music", "sound", "general", "unresolved")
DOMAIN_COLOURS = {"speech": "#4c72b0", "music": "#dd8452", "sound": "#55a868", "general": "#8c8c8c",
                  "unresolved": "#c44e52"}


def compute_stats(result) -> dict:
    tags = result.tag_table
    resolved = tags.filter(pl.col("concept_ids").list.len() > 0)
    total_mass = int(tags["df"].sum())
    cuts = []
    for size, chosen in result.selections.items():
        last = chosen.tail(1).row(0, named=True) if chosen.height else None
        per_domain = dict(chosen.group_by("domain").len().sort("domain").iter_rows())
        entry = {
            "size": size, "name": size_name(size), "items": chosen.height,
            "df_at_cut": last["df"] if last else None,
            "score_at_cut": round(last["score"], 4) if last else None,
            "per_domain": {d: int(per_domain.get(d, 0)) for d in DOMAIN_ORDER if d in per_domain},
        }
        if size in result.concept_vocabs:
            entry["concepts"] = len(result.concept_vocabs[size])
        if size in result.coverage:
            entry["clips_kept"] = result.coverage[size]
        cuts.append(entry)
    unresolved = (tags.filter(pl.col("concept_ids").list.len() == 0)
                  .sort(["df", "tag"], descending=[True, False]).head(20))
    return {
        "unit": result.unit,
        "n_clips": result.n_clips,
        "tagged_clips": result.tagged_clips,
        "distinct_tags": tags.height,
        "tag_occurrences": total_mass,
        "resolved_distinct_tags": resolved.height,
        "resolved_tag_share": round(int(resolved["df"].sum()) / total_mass, 4) if total_mass else 0.0,
        "ranked_items": result.ranking.height,
        "cuts": cuts,
        "top_unresolved": [{"tag": t, "df": d} for t, d in unresolved.select("tag", "df").iter_rows()],
        "top": [{"label": lab, "df": d} for lab, d in result.ranking.head(20).select("label", "df").iter_rows()],
    }


def _markdown(stats: dict) -> str:
    lines = [
        "# Vocabulary report", "",
        f"- clips: {stats['n_clips']:,} ({stats['tagged_clips']:,} with at least one tag)",
        f"- distinct tags: {stats['distinct_tags']:,}, resolved to UTS: {stats['resolved_distinct_tags']:,} "
        f"({stats['resolved_tag_share']:.1%} of tag occurrences)",
        f"- ranked unit: {stats['unit']} ({stats['ranked_items']:,} items)", "",
        "| size | items | df at cut | score at cut | speech | music | sound | general | unresolved |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in stats["cuts"]:
        d = c["per_domain"]
        lines.append(f"| {c['name']} | {c['items']} | {c['df_at_cut']} | {c['score_at_cut']} | "
                     + " | ".join(str(d.get(k, 0)) for k in DOMAIN_ORDER) + " |")
    if any("clips_kept" in c for c in stats["cuts"]):
        lines += ["", "Clips that keep at least one tag after filtering with each vocabulary (the paper's step 4):", "",
                  "| size | clips kept | share |", "|---|---|---|"]
        for c in stats["cuts"]:
            share = c["clips_kept"] / stats["n_clips"] if stats["n_clips"] else 0.0
            lines.append(f"| {c['name']} | {c['clips_kept']:,} | {share:.1%} |")
    lines += ["", "Top of the ranking: " + ", ".join(f"{t['label']} ({t['df']})" for t in stats["top"])]
    if stats["top_unresolved"]:
        lines += ["", "Most frequent tags without a UTS concept (see `uts vocab propose`): "
                  + ", ".join(f"{u['tag']} ({u['df']})" for u in stats["top_unresolved"][:10])]
    return "\n".join(lines) + "\n"


def plot_stats(stats: dict, ranking: pl.DataFrame, path: Path) -> None:
    """Two panels: df against rank (log-log) with the cuts marked, and the domain mix per size."""
    # lazy: matplotlib costs ~0.3 s at import; only the plot needs it
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.use("Agg")

    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)

    df = ranking["df"].to_numpy()
    # At most ~1,000 log-spaced ranks: the same curve, drawn in milliseconds for any vocabulary.
    ranks = np.unique(np.geomspace(1, len(df), num=min(len(df), 1000)).astype(int))
    left.loglog(ranks, df[ranks - 1], color="#333333", lw=1)
    for c in stats["cuts"]:
        left.axvline(c["size"], color="#c44e52", ls="--", lw=0.8)
        left.text(c["size"], df.max(), c["name"], rotation=90, va="top", ha="right", fontsize=8)
    left.set(xlabel="rank", ylabel="clips carrying the item (df)", title="document frequency by rank")
    names = [c["name"] for c in stats["cuts"]]
    bottom = [0] * len(names)
    for d in DOMAIN_ORDER:
        counts = [c["per_domain"].get(d, 0) for c in stats["cuts"]]
        if any(counts):
            right.bar(names, counts, bottom=bottom, label=d, color=DOMAIN_COLOURS[d])
            bottom = [b + n for b, n in zip(bottom, counts)]
    right.set(xlabel="vocabulary size", ylabel="items", title="domain mix per vocabulary")
    right.legend(fontsize=8)
    fig.subplots_adjust(left=0.085, right=0.98, bottom=0.13, top=0.92, wspace=0.25)
    fig.savefig(path, dpi=110)


def write_report(stats: dict, result, out_dir: Path, plot: bool = True) -> list[Path]:
    written = [out_dir / "stats.json", out_dir / "report.md"]
    write_json(written[0], stats)
    atomic_write_text(written[1], _markdown(stats))
    if plot:
        png = out_dir / "vocab_stats.png"
        plot_stats(stats, result.ranking, png)
        atomic_write_text(written[1], _markdown(stats) + "\n![vocabulary statistics](vocab_stats.png)\n")
        written.append(png)
    return written
