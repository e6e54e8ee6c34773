"""``uts ontology site OUT/``: the taxonomy as a static website, publishable as it is.

Every page, the stylesheet, the script and the search index are written into OUT (no CDN, no
network); links are relative, so the site also works opened from disk. The site is built in a
temporary folder beside OUT and swapped in at the end, so a failure leaves any earlier build
whole; a folder that is not an earlier build is never overwritten.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from uts.ontology import Ontology
from uts.ontology.stats import compute_stats, plot_stats

from .mappings import ServeError, dataset_labels
from .pages import STATIC_DIR, Pages, page_name
from .search import search_index, search_index_js

MARKER = ".uts-site"  # marks a folder as a site build we may replace


@dataclass
class SiteSummary:
    out: Path
    concepts: int  # concept pages written (deprecated concepts have pages too)
    active: int
    files: int


def write_search_index(onto: Ontology, assets: Path) -> None:
    """``search-index.json`` for programs and the same data as ``search-index.js``, the
    script the pages load."""
    data = json.dumps(search_index(onto), ensure_ascii=False, separators=(",", ":"))
    (assets / "search-index.json").write_text(data, encoding="utf-8")
    (assets / "search-index.js").write_text(search_index_js(onto), encoding="utf-8")


def build_site(onto: Ontology, out: str | Path, mapping_dirs: Iterable[Path] = (), *, plot: bool = True,
               progress: Callable[[Iterable], Iterable] | None = None) -> SiteSummary:
    """Write the site of ``onto`` into ``out``; dataset labels come from the SSSOM files under
    ``mapping_dirs``. ``progress`` wraps the concept loop (e.g. ``rich.progress.track``)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise ServeError(f"{out} exists and is not an earlier site build; choose an empty or new folder")
    pages = Pages(onto, dataset_labels(list(mapping_dirs)))
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (work / "c").mkdir()
        assets = work / "assets"
        shutil.copytree(STATIC_DIR, assets)
        write_search_index(onto, assets)
        if plot:
            plot_stats(compute_stats(onto), assets / "stats.png")
        (work / "index.html").write_text(pages.home("", stats_plot=plot), encoding="utf-8")
        (work / "tree.html").write_text(pages.tree(""), encoding="utf-8")
        (work / "concepts.html").write_text(pages.az(""), encoding="utf-8")
        (work / "search.html").write_text(pages.search(""), encoding="utf-8")
        ids = sorted(onto.concepts)
        for cid in progress(ids) if progress else ids:
            (work / "c" / page_name(cid)).write_text(pages.concept(cid, "../"), encoding="utf-8")
        (work / MARKER).write_text("built by `uts ontology site`; the whole folder is replaced on rebuild\n")
        files = sum(1 for p in work.rglob("*") if p.is_file())
        work.chmod(0o755)  # mkdtemp makes it private; a published site is world-readable
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            work.rename(out)
            shutil.rmtree(old)
        else:
            work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return SiteSummary(out, len(ids), sum(1 for _ in onto.active()), files)
