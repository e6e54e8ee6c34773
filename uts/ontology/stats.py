"""Counts that describe the shape of UTS (per domain, facet and depth; leaves; coverage) and a
plot of them."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from .model import Ontology


@dataclass
class OntologyStats:
    concepts: int
    active: int
    deprecated: int
    roots: int
    leaves: int
    multi_parent: int
    synonyms: int
    definition_coverage: float  # share of active concepts with a definition
    leaf_depth_median: float
    max_depth: int
    by_domain: dict[str, int]
    by_facet: dict[str, int]
    by_depth: dict[int, int]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["by_depth"] = {str(k): v for k, v in self.by_depth.items()}
        return d

    def to_text(self) -> str:
        lines = [
            f"concepts: {self.concepts} ({self.active} active, {self.deprecated} deprecated)",
            f"roots: {self.roots}  leaves: {self.leaves}  with several parents: {self.multi_parent}",
            f"synonyms: {self.synonyms}  definition coverage: {self.definition_coverage:.1%}",
            f"depth: max {self.max_depth}, median leaf depth {self.leaf_depth_median:g}",
            "per domain: " + ", ".join(f"{k} {v}" for k, v in self.by_domain.items()),
            "per facet: " + ", ".join(f"{k} {v}" for k, v in self.by_facet.items()),
            "per depth: " + ", ".join(f"{k}: {v}" for k, v in self.by_depth.items()),
        ]
        return "\n".join(lines)


def compute_stats(onto: Ontology) -> OntologyStats:
    active = list(onto.active())
    leaves = [c.id for c in active if not onto.children(c.id)]
    depths = {c.id: onto.depth(c.id) for c in active}
    leaf_depths = [depths[i] for i in leaves]
    by_depth = Counter(depths.values())
    return OntologyStats(
        concepts=len(onto),
        active=len(active),
        deprecated=len(onto) - len(active),
        roots=len(onto.roots()),
        leaves=len(leaves),
        multi_parent=sum(1 for c in active if len(c.parents) > 1),
        synonyms=sum(len(c.synonyms) for c in active),
        definition_coverage=(sum(1 for c in active if c.definition) / len(active)) if active else 0.0,
        leaf_depth_median=float(statistics.median(leaf_depths)) if leaf_depths else 0.0,
        max_depth=max(depths.values(), default=0),
        by_domain=dict(Counter(c.domain or "(none)" for c in active).most_common()),
        by_facet=dict(Counter(c.facet or "(none)" for c in active).most_common()),
        by_depth=dict(sorted(by_depth.items())),
    )


def plot_stats(stats: OntologyStats, path: str | Path) -> Path:
    """A PNG with three bar charts: concepts per domain, per facet, per depth."""
    # lazy: matplotlib costs ~0.3 s at import; only the plot needs it
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [("per domain", stats.by_domain), ("per facet", stats.by_facet),
              ("per depth (0 = root)", {str(k): v for k, v in stats.by_depth.items()})]
    for ax, (title, data) in zip(axes, panels):
        ax.bar(list(data), list(data.values()), color="#4C72B0")
        ax.set_title(f"Active concepts {title}")
        ax.tick_params(axis="x", rotation=45)
        for x, v in enumerate(data.values()):
            ax.annotate(str(v), (x, v), ha="center", va="bottom", fontsize=8)
    fig.suptitle(f"UTS: {stats.active} active concepts, {stats.leaves} leaves, "
                 f"median leaf depth {stats.leaf_depth_median:g}, "
                 f"definitions {stats.definition_coverage:.0%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
