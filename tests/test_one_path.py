"""One path from tag to training label: every label of the paper's 3k vocabulary, AudioSet's
class names and the shipped label sets goes through

* the **vocab** path (``uts vocab build``'s tag -> concept table, with the data set's reviewed
  alignment as the resolver's curated tier, as ``--alignment`` gives it),
* the **mapping-apply** path (``uts map apply`` on a table whose clips carry the label), and
* the **training** path (``uts train``'s ``read_manifest`` of what apply wrote),

and must land on the same concept set. The one difference allowed is the documented context
rule of :mod:`uts.ontology.resolve` / :func:`uts.mapping.apply.text_table`:

* ``NOT_IN_ALIGNMENT``: a label its reviewed alignment does not decide is left unmapped (and
  reported) by apply, while the vocab path, which serves free caption tags, still resolves it
  lexically. Every such label is listed by the test when it fails.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from uts.mapping.apply import apply_file
from uts.mapping.labelsets import from_ontology, read_text
from uts.mapping.sssom import read_sssom
from uts.ontology import load
from uts.ontology.resolve import Curated, Resolver
from uts.training.data import read_manifest
from uts.vocab.build import tag_mapping

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/data")


def _paper_labels() -> list[str]:
    path = SHARED / "uts-paper" / "label_3k.json"
    if not path.is_file():
        pytest.skip(f"shared data not here: {path}")
    return list(json.loads(path.read_text()).values())


def _audioset_labels() -> list[str]:
    path = SHARED / "audioset" / "class_labels_indices.csv"
    if not path.is_file():
        pytest.skip(f"shared data not here: {path}")
    with open(path, encoding="utf-8") as fh:
        return [row["display_name"] for row in csv.DictReader(fh)]


CASES = [("uts-paper", _paper_labels, ROOT / "mapping" / "uts-paper.sssom.tsv"),
         ("audioset", _audioset_labels, ROOT / "mapping" / "audioset.sssom.tsv")] + [
    (p.stem, (lambda p=p: [lab.label for lab in read_text(p)]), p.with_suffix(".sssom.tsv"))
    for p in sorted((ROOT / "mapping" / "labelsets").glob("*.txt"))]


@pytest.fixture(scope="module")
def onto():
    return load()


@pytest.mark.parametrize("name,labels,alignment", CASES, ids=[c[0] for c in CASES])
def test_vocab_apply_and_training_give_the_same_concepts(tmp_path, onto, name, labels, alignment):
    labels = list(dict.fromkeys(labels()))  # the paper's vocabulary repeats a few entries
    mapping = read_sssom(alignment)
    curated = mapping.curated_labels()

    # vocab path: the tag -> concept table `uts vocab build --alignment` ranks with
    tags = pl.Series("tag", labels)
    table = tag_mapping(pl.LazyFrame({"tags": [labels]}), tags, Resolver(onto, curated), has_ids=False)
    vocab = {t: set() for t in labels}
    for tag, cid in table.iter_rows():
        vocab[tag].add(cid)

    # mapping-apply path: one clip per label (JSON Lines keeps AudioSet's commas inside a name)
    clips = tmp_path / "clips.jsonl"
    clips.write_text("".join(json.dumps({"id": str(i), "audio_path": "a.wav", "tags": [t]}) + "\n"
                             for i, t in enumerate(labels)))
    applied = tmp_path / "applied.jsonl"
    apply_file(clips, mapping, from_ontology(onto), applied)
    by_apply = {labels[int(i)]: set(ids) for i, ids in pl.read_ndjson(applied).select("id", "labels").iter_rows()}

    # training path: what `uts train` reads from that manifest (it resolves nothing itself)
    trained = read_manifest(applied, onto=onto)
    by_training = {labels[int(i)]: set(ids) for i, ids in trained.select("id", "labels").iter_rows()}

    decided = Curated(curated)
    allowed = {t for t in labels if decided.lookup(t) is None}  # NOT_IN_ALIGNMENT
    differ = sorted(t for t in labels if not vocab[t] == by_apply[t] == by_training[t])
    unexplained = [(t, sorted(vocab[t]), sorted(by_apply[t]), sorted(by_training[t]))
                   for t in differ if t not in allowed]
    assert not unexplained, f"{name}: {len(unexplained)} labels resolve differently: {unexplained[:20]}"
    # apply and training never differ, not even where the rule applies
    assert all(by_apply[t] == by_training[t] for t in labels)
    # and the rule only ever leaves apply empty, it never picks another concept
    assert all(not by_apply[t] for t in differ)


def test_the_disagreements_the_review_found_are_settled(onto):
    """The cases a review measured between the six old resolvers, now answered once."""
    paper = read_sssom(ROOT / "mapping" / "uts-paper.sssom.tsv").curated_labels()
    resolver = Resolver(onto, paper)
    label = {c.id: c.label for c in onto}
    assert [label[i] for i in resolver.ids("pops")] == ["burst"]  # not pop music, not both
    assert [label[i] for i in resolver.ids("pop")] == ["pop music"]
    assert [label[i] for i in resolver.ids("horns")] == ["brass section"]
    assert [label[i] for i in resolver.ids("keys")] == ["keyboard (musical)"]
    # without the paper's context, the ontology's own reading (plural folds to the singular)
    assert [label[i] for i in onto.resolver.ids("pops")] == ["pop music"]
    # a concept id is its own answer: no id -> label -> id round trip can change it
    for cid in ("UTS:0001445", "UTS:0001861"):
        assert resolver.ids(cid) == (cid,)


def test_vocab_filter_writes_the_manifest_apply_writes(tmp_path, onto):
    """`uts vocab filter` -> manifest read and validated -> training targets: the same concepts,
    clip for clip, as `uts map apply` on the same tags (every paper tag its alignment decides)."""
    import soundfile as sf

    from uts.manifest import validate_manifest
    from uts.training.data import ClipDataset, LabelSpace
    from uts.vocab.filter import Vocabulary, filter_manifest

    mapping = read_sssom(ROOT / "mapping" / "uts-paper.sssom.tsv")
    curated = mapping.curated_labels()
    decided = Curated(curated)
    labels = [t for t in dict.fromkeys(_paper_labels()) if decided.lookup(t)]
    sf.write(tmp_path / "a.wav", [0.1] * 800, 8000)
    clips = tmp_path / "clips.jsonl"
    clips.write_text("".join(json.dumps({"id": str(i), "audio_path": "a.wav", "tags": [t]}) + "\n"
                             for i, t in enumerate(labels)))
    applied = tmp_path / "applied.jsonl"
    apply_file(clips, mapping, from_ontology(onto), applied)

    # a concept vocabulary holding every concept those tags name (what `vocab build --unit concept` writes)
    ids = sorted({i for row in pl.read_ndjson(applied)["labels"].to_list() for i in row})
    vocab = tmp_path / "concepts_all.json"
    vocab.write_text(json.dumps({"unit": "concept", "concepts": [{"id": i, "label": onto.concepts[i].label}
                                                                 for i in ids]}))
    filtered = tmp_path / "out" / "filtered.jsonl"
    stats = filter_manifest(clips, Vocabulary(vocab, onto, curated), filtered)

    def targets(path):
        df, report = validate_manifest(read_manifest(path, onto=onto))
        assert report.skipped == 0
        space = LabelSpace.from_manifest(df, onto)
        data = ClipDataset(df, space, sample_rate=8000)
        return {i: ({space.ids[k] for k in data.targets(n).nonzero().flatten().tolist()}, set(lab) | set(inf))
                for n, (i, lab, inf) in enumerate(df.select("id", "labels", "inferred").iter_rows())}

    by_apply = {i: t for i, t in targets(applied).items() if t[0]}
    by_filter = targets(filtered)
    assert stats["kept"] == len(by_filter) == len(by_apply) > 2500
    differ = [(labels[int(i)], by_filter.get(i), t) for i, t in by_apply.items() if by_filter.get(i) != t]
    assert not differ, differ[:10]


def test_the_alignment_wins_over_the_ids_vocab_extract_recorded(tmp_path, onto):
    """`vocab extract` records each tag's ids, resolved without the alignment ("pops" -> pop
    music). `vocab build` and `vocab filter` with `--alignment` took those ids and ignored the
    alignment, so the documented pipeline extract -> build -> filter gave pop music where `map
    apply` gives burst. The alignment decides the tags it names; the record's ids the rest."""
    from uts.vocab.filter import Vocabulary

    paper = read_sssom(ROOT / "mapping" / "uts-paper.sssom.tsv").curated_labels()
    label = {c.id: c.label for c in onto}
    plain = Resolver(onto)  # what the extractor resolved with
    tags = ["pops", "horns", "dog"]
    records = [{"id": "x1", "tags": tags, "concept_ids": [list(plain.ids(t)) for t in tags]}]
    assert [label[i] for i in plain.ids("pops")] == ["pop music"]  # the premise

    lf = pl.LazyFrame(records, schema={"id": pl.Utf8, "tags": pl.List(pl.Utf8), "concept_ids": pl.List(pl.List(pl.Utf8))})
    table = tag_mapping(lf, pl.Series("tag", tags), Resolver(onto, paper), has_ids=True)
    by_build = {t: sorted(label[c] for tt, c in table.iter_rows() if tt == t) for t in tags}
    assert by_build["pops"] == ["burst"] and by_build["horns"] == ["brass section"]

    vocab_file = tmp_path / "concepts.json"
    wanted = sorted({c for _, c in table.iter_rows()})
    vocab_file.write_text(json.dumps({"concepts": [{"id": c} for c in wanted]}))
    fields = Vocabulary(vocab_file, onto, paper).keep(tags, records[0]["concept_ids"])
    assert sorted(label[c] for c in fields["labels"]) == sorted(by_build["pops"] + by_build["horns"] + by_build["dog"])
