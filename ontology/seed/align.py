"""Assemble the shipped, reviewed SSSOM alignments of UTS 1.0 from the curation tables.

Sources of each row, in order of precedence:
1. a curated row in ``mapping/curation/*.tsv`` (``source, source_id, source_label, predicate,
   target, comment``; target is a seed key, ``=label``, or ``none`` for a reviewed "no concept
   fits", written as ``sssom:NoTermFound``);
2. an ``AudioSet:<id>`` cross-reference on a concept (AudioSet only: exactMatch);
3. a direct ``lookup`` of the label: the curators made every variant of a concept one of its
   labels or synonyms, so a lookup hit is their decision (exactMatch).
All rows were looked at by a curator: ``mapping_justification`` is semapv:ManualMappingCuration and
``reviewer_id`` names the curation team. Labels nothing resolves are listed, not guessed.

    .venv/bin/python ontology/seed/align.py     # writes mapping/*.sssom.tsv, prints coverage
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from datetime import date
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from build import check, read_seeds  # noqa: E402

from uts import __version__  # noqa: E402
from uts.mapping.sssom import MANUAL, NO_TERM_FOUND, Mapping, MappingSet, default_metadata, write_sssom  # noqa: E402
from uts.ontology import load, normalize_label  # noqa: E402

SHARED = next((Path(p) for p in (os.environ.get("UTS_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data")
               if p and Path(p).is_dir()), REPO.parent / "shared" / "data")
MAPPING = REPO / "mapping"
REVIEWER = "utsteam:curation"
PREDICATE = {p: f"skos:{p}" for p in ("exactMatch", "closeMatch", "broadMatch", "narrowMatch", "relatedMatch")}
TEAM = {"utsteam": "https://w3id.org/uts/team/"}


def read_curation() -> dict[tuple[str, str], dict]:
    rows: dict[tuple[str, str], dict] = {}
    for path in sorted((MAPPING / "curation").glob("*.tsv")):
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if not row.get("source") or not row.get("source_id"):
                    continue
                row["_file"] = path.name
                rows[(row["source"].strip(), row["source_id"].strip())] = row
    return rows


class Resolver:
    def __init__(self):
        self.onto = load()  # $UTS_ONTOLOGY or ontology/uts.ttl
        errors, self.by_key = check(read_seeds())
        if errors:
            raise SystemExit(f"seed errors: {errors[:5]}")
        self.curation = read_curation()
        self.xref = {x: c for c in self.onto.active() for x in c.xrefs}
        self.problems: list[str] = []

    def target(self, ref: str) -> str | None:
        ref = ref.strip()
        label = ref[1:] if ref.startswith("=") else (self.by_key[ref]["label"] if ref in self.by_key else ref)
        hits = self.onto.lookup(label)
        return hits[0].id if len(hits) == 1 else None

    def decide(self, source: str, source_id: str, text: str, xref: str | None = None):
        """(predicate, object_id, comment) or None when nothing resolves."""
        row = self.curation.get((source, source_id))
        if row:
            pred = PREDICATE.get(row["predicate"].strip().replace("skos:", ""))
            # "none": a curator looked and decided nothing fits (e.g. "do_not_wish_to_say").
            obj = NO_TERM_FOUND if row["target"].strip() == "none" else self.target(row["target"])
            if pred and obj:
                return pred, obj, (row.get("comment") or "").strip() or "curated"
            self.problems.append(f"{row['_file']}: bad curation row {source}/{source_id} -> {row['target']} ({row['predicate']})")
        if xref and xref in self.xref:
            return PREDICATE["exactMatch"], self.xref[xref].id, "home concept of this class"
        hits = self.onto.lookup(text)
        if len(hits) == 1:
            return PREDICATE["exactMatch"], hits[0].id, f"{hits[0].matched_by} of the concept"
        if len(hits) > 1:
            self.problems.append(f"{source}/{source_id}: ambiguous lookup {[h.id for h in hits]}")
        return None

    def mapping_set(self, name, items, subject_prefix, description, extra_curies=None):
        """items: (source_key, subject_local_id, subject_label, xref)"""
        rows, unmapped = [], []
        for source_key, local, label, xref in items:
            decided = self.decide(source_key, local, label, xref)
            if decided is None:
                unmapped.append(label)
                continue
            pred, obj, comment = decided
            rows.append(Mapping(
                subject_id=f"{subject_prefix}:{quote(local, safe='/-_.~')}", subject_label=label,
                predicate_id=pred, object_id=obj,
                object_label=None if obj == NO_TERM_FOUND else self.onto.get(obj).label,
                mapping_justification=MANUAL, confidence=1.0, reviewer_id=REVIEWER,
                mapping_date=date.today().isoformat(), mapping_tool="uts ontology/seed/align.py",
                mapping_tool_version=__version__, comment=comment))
        meta = default_metadata(f"https://w3id.org/uts/mappings/{name}.sssom.tsv",
                                curie_map={**TEAM, **(extra_curies or {})},
                                mapping_set_description=description,
                                object_source="https://w3id.org/uts/uts.owl")
        path = write_sssom(MAPPING / f"{name}.sssom.tsv", MappingSet(rows, meta))
        return path, rows, unmapped


def main() -> int:
    r = Resolver()
    report = {}
    # The paper's vocabulary (3k includes the smaller ones).
    tags = list(dict.fromkeys(json.loads((SHARED / "uts-paper" / "label_3k.json").read_text()).values()))
    _, rows, unmapped = r.mapping_set("uts-paper", [("paper", t, t, None) for t in tags], "UTSpaper",
                                      "The flat tag vocabulary released with arXiv 2603.25767 aligned to UTS 1.0.")
    report["uts-paper"] = {"tags": len(tags), "aligned": len(rows), "unmapped": unmapped}
    # AudioSet ontology.
    classes = json.loads((SHARED / "audioset" / "ontology.json").read_text())
    _, rows, unmapped = r.mapping_set("audioset", [("audioset", c["id"], c["name"], f"AudioSet:{c['id']}") for c in classes],
                                      "AudioSet", "All 632 classes of the AudioSet ontology aligned to UTS 1.0.")
    exact_close = sum(m.predicate_id in ("skos:exactMatch", "skos:closeMatch") for m in rows)
    report["audioset"] = {"classes": len(classes), "aligned": len(rows), "exact_or_close": exact_close, "unmapped": unmapped}
    # MTG-Jamendo tags occurring in the annotation files.
    mtg = set()
    for f in sorted((SHARED / "mtg-jamendo").glob("autotagging-*.tsv")):
        for line in f.read_text().splitlines()[1:]:
            mtg.update(t for t in line.split("\t")[5:] if "---" in t)
    _, rows, unmapped = r.mapping_set("mtg-jamendo", [("mtg-jamendo", t, t.split("---", 1)[1], None) for t in sorted(mtg)],
                                      "MTGJamendo", "Genre, instrument and mood/theme tags of MTG-Jamendo aligned to UTS 1.0.")
    report["mtg-jamendo"] = {"tags": len(mtg), "aligned": len(rows), "unmapped": unmapped}
    # Speech label sets authored under mapping/labelsets/.
    for f in sorted((MAPPING / "labelsets").glob("*.txt")):
        labels = [l.strip() for l in f.read_text().splitlines() if l.strip() and not l.startswith("#")]
        prefix = re.sub(r"[^A-Za-z0-9]", "", f.stem.title())
        _, rows, unmapped = r.mapping_set(
            f"labelsets/{f.stem}", [(f"labelset:{f.stem}", l, l, None) for l in labels], prefix,
            f"The {f.stem} label set aligned to UTS 1.0.",
            extra_curies={prefix: f"https://w3id.org/uts/labelsets/{f.stem}#"})
        report[f"labelset:{f.stem}"] = {"labels": len(labels), "aligned": len(rows), "unmapped": unmapped}
    for name, rep in report.items():
        print(name, {k: (len(v) if isinstance(v, list) else v) for k, v in rep.items()})
        if rep["unmapped"]:
            print("   unmapped:", ", ".join(rep["unmapped"][:60]))
    for p in r.problems:
        print("PROBLEM", p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
