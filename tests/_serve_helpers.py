"""A small workspace for the web tests: the shared small ontology as ontology/uts.ttl, a mapping
file with candidates in mapping/, laid out like the repository (so the default mapping folder
beside the ontology is found)."""

from __future__ import annotations

from pathlib import Path

from _ontology_helpers import build_small

from uts.mapping.sssom import CLOSE, EXACT, RELATED, SEMANTIC, Mapping, MappingSet, default_metadata, write_sssom
from uts.ontology import save

ME = "orcid:0000-0002-1825-0097"
DEMO = {"DEMO": "https://example.org/demo#"}


def _m(subject, label, pred, target, target_label, p):
    return Mapping(f"DEMO:{subject}", pred, target, SEMANTIC, subject_label=label, object_label=target_label,
                   confidence=p)


def make_workspace(root: Path) -> tuple[Path, Path]:
    """(ontology file, mapping folder) under ``root``; one concept label carries markup to check
    that nothing from the files is ever rendered as HTML."""
    onto = build_small()
    onto.concepts["UTS:0000010"].synonyms = ["<script>window.pwned=1</script>"]
    path = root / "ontology" / "uts.ttl"
    path.parent.mkdir(parents=True)
    save(onto, path)
    mapping = root / "mapping"
    rows = [_m("drums", "Drums", EXACT, "UTS:0000004", "drum", 0.92),
            _m("hihat", "HiHat", CLOSE, "UTS:0000005", "hi-hat", 0.61),
            _m("auto", "Auto", CLOSE, "UTS:0000007", "vehicle", 0.35),
            _m("motor", "Motor <engine>", RELATED, "UTS:0000010", "machine", 0.22)]
    cands = rows + [_m("auto", "Auto", CLOSE, "UTS:0000008", "car", 0.30),
                    _m("motor", "Motor <engine>", CLOSE, "UTS:0000009", "engine", 0.20),
                    _m("gong", "Gong", CLOSE, "UTS:0000003", "percussion", 0.15)]
    write_sssom(mapping / "demo.sssom.tsv", MappingSet(rows, default_metadata("https://example.org/demo.sssom.tsv", DEMO)))
    write_sssom(mapping / "demo.candidates.sssom.tsv",
                MappingSet(cands, default_metadata("https://example.org/demo.candidates.sssom.tsv", DEMO)))
    return path, mapping
