"""The pages of the taxonomy, rendered from Jinja2 templates; shared by the static site
(:mod:`uts.serve.site`) and the web app (:mod:`uts.serve.app`), which serves the same pages at
the same paths and adds the review and edit forms.

Paths: ``index.html`` (roots and statistics), ``tree.html`` (the whole hierarchy, collapsible,
no JavaScript needed), ``concepts.html`` (A-Z), ``search.html``, ``c/UTS_0000123.html`` (one per
concept, deprecated ones too) and ``assets/`` (stylesheet, scripts, search index). Templates
link with ``{{ root }}``: a relative prefix on the static site, ``/`` in the app.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from itertools import groupby
from pathlib import Path

import jinja2

from uts.ontology import Ontology
from uts.ontology.stats import compute_stats

from .mappings import DatasetLabel

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
MAX_PATHS = 12  # a concept deep in a DAG can have many root paths; the page shows the first few


def page_name(concept_id: str) -> str:
    """``UTS:0000123`` -> ``UTS_0000123.html`` (no colon in file names or URLs)."""
    return concept_id.replace(":", "_") + ".html"


def concept_version(onto: Ontology, concept_id: str) -> str:
    """A short hash of one concept's content: edit forms carry it, and an edit made on a page
    older than the concept is refused as a conflict."""
    data = json.dumps(asdict(onto.get(concept_id)), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def environment() -> jinja2.Environment:
    # Autoescape everywhere: labels and mapping rows are data, never markup or script.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["page"] = page_name
    return env


class Pages:
    """Renders every page of one ontology (plus the dataset labels aligned to its concepts)."""

    def __init__(self, onto: Ontology, datasets: dict[str, list[DatasetLabel]] | None = None,
                 env: jinja2.Environment | None = None):
        self.onto = onto
        self.datasets = datasets or {}
        self.env = env or environment()
        self._counts: dict[str, int] = {}

    # -- shared bits -------------------------------------------------------------------------
    def ref(self, concept_id: str) -> dict:
        c = self.onto.concepts.get(concept_id)
        return {"id": concept_id, "label": c.label if c else f"{concept_id} (missing)",
                "deprecated": bool(c and c.deprecated), "exists": c is not None}

    def below(self, concept_id: str) -> int:
        """Active concepts below ``concept_id``."""
        if concept_id not in self._counts:
            self._counts[concept_id] = sum(1 for d in self.onto.descendants(concept_id)
                                           if not self.onto.concepts[d].deprecated)
        return self._counts[concept_id]

    def render(self, template: str, root: str, **context) -> str:
        title = self.onto.meta.title
        version = self.onto.meta.version or "working copy"
        context = {"app": None, "message": None, "error": None, **context}
        return self.env.get_template(template).render(root=root, site_title=title, version=version, **context)

    # -- pages -------------------------------------------------------------------------------
    def concept_context(self, concept_id: str) -> dict:
        onto = self.onto
        c = onto.get(concept_id)
        paths = sorted(onto.paths_to_root(c.id), key=lambda p: (len(p), p))
        groups = [{"dataset": name, "labels": sorted(rows, key=lambda r: r.subject_label.casefold())}
                  for name, rows in groupby(sorted(self.datasets.get(c.id, []), key=lambda r: r.dataset),
                                            key=lambda r: r.dataset)]
        return {
            "c": c,
            "parents": [self.ref(p) for p in c.parents],
            "children": [dict(self.ref(k), below=self.below(k)) for k in onto.children(c.id)],
            "replaced_by": [self.ref(r) for r in c.replaced_by],
            # typed non-is-a links (part of, source of, ...): shown, never part of the paths
            "links": [dict(self.ref(t), relation=rel.replace("_", " ")) for rel, t in c.links],
            "current": [self.ref(r) for r in onto.current_ids(c.id) if r != c.id] if c.deprecated else [],
            "paths": [[self.ref(i) for i in reversed(p)] for p in paths[:MAX_PATHS]],
            "more_paths": max(0, len(paths) - MAX_PATHS),
            "ancestors": len(onto.ancestors(c.id)),
            "depth": onto.depth(c.id),
            "datasets": groups,
            "version_hash": concept_version(onto, c.id),
        }

    def concept(self, concept_id: str, root: str, **extra) -> str:
        return self.render("concept.html", root, **self.concept_context(concept_id), **extra)

    def home(self, root: str, **extra) -> str:
        stats = compute_stats(self.onto)
        roots = [dict(self.ref(r), below=self.below(r), domain=self.onto.concepts[r].domain)
                 for r in self.onto.roots()]
        sets: dict[str, set[str]] = {}
        for cid, rows in self.datasets.items():
            for r in rows:
                sets.setdefault(r.dataset, set()).add(r.subject_id)
        alignments = [{"dataset": k, "labels": len(v)} for k, v in sorted(sets.items())]
        return self.render("home.html", root, stats=stats, roots=roots, alignments=alignments, **extra)

    def tree(self, root: str, **extra) -> str:
        kids = {c.id: self.onto.children(c.id) for c in self.onto.active()}
        labels = {cid: self.onto.concepts[cid].label for cid in kids}
        return self.render("tree.html", root, roots=self.onto.roots(), kids=kids, labels=labels, **extra)

    def az(self, root: str, **extra) -> str:
        ordered = sorted(self.onto, key=lambda c: (c.label.casefold(), c.id))
        return self.render("concepts.html", root, active=[c for c in ordered if c.active],
                           deprecated=[c for c in ordered if c.deprecated], **extra)

    def search(self, root: str, query: str = "", hits=None, **extra) -> str:
        return self.render("search.html", root, query=query, hits=hits, **extra)
