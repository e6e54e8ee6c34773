"""The matcher with the real bundled MiniLM on a small hierarchical target: lexical, synonym,
compound and paraphrase matches, predicates, abstention, negation and non-content guards,
rejected pairs, hierarchy repair, and SSSOM output that passes validation."""

from __future__ import annotations

import pytest

from uts.embedding import Embedder
from uts.mapping.labelsets import Label, LabelSet, from_texts
from uts.mapping.match import MatchConfig, Matcher, candidates_set, to_mapping_set, unmapped
from uts.mapping.pipeline import match_files
from uts.mapping.sssom import BROAD, EXACT, LEXICAL, read_sssom, validate_sssom

from _mapping_helpers import (BARK, DOG, DRUM, EGUITAR, GUITAR, HIHAT, INSTRUMENTAL, PERC, RAIN, SNARE,
                              VOCALS, mini_target)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory):
    return Matcher(mini_target(), Embedder(cache_dir=tmp_path_factory.mktemp("emb")))


def _decided(matcher, labels, **kw):
    results = matcher.match(from_texts(labels, "src"), **kw)
    return {r.subject.label: r for r in results}


def test_lexical_synonym_and_compound_matches_are_exact(matcher):
    got = _decided(matcher, ["Drums", "HiHats", "hi_hat", "electricguitar", "barking", "Snare Drum"])
    assert got["Drums"].decided.object_id == DRUM
    assert got["HiHats"].decided.object_id == HIHAT and got["hi_hat"].decided.object_id == HIHAT
    assert got["electricguitar"].decided.object_id == EGUITAR  # split into "electric guitar"
    assert got["barking"].decided.object_id == BARK
    for r in got.values():
        assert r.decided.predicate == EXACT and r.decided.justification == LEXICAL
        assert r.decided.probability > 0.9


def test_qualified_labels_map_broad_and_paraphrases_map_semantically(matcher):
    got = _decided(matcher, ["heavy rain", "distorted electric guitar", "dog barking loudly"])
    assert got["heavy rain"].decided.object_id == RAIN
    assert got["heavy rain"].decided.predicate == BROAD  # the target is the broader concept
    assert got["distorted electric guitar"].decided.object_id == EGUITAR
    assert got["dog barking loudly"].decided.object_id in {BARK, DOG}


def test_negated_and_non_content_labels_never_map_to_the_positive_concept(matcher):
    got = _decided(matcher, ["no vocals", "no voice", "without drums", "none", "other", "unknown", "n/a",
                             "other sounds", "vocals"])
    assert got["vocals"].decided.object_id == VOCALS
    # "no vocals" is literally a synonym of "instrumental": the guard allows that twin only
    assert got["no vocals"].decided.object_id == INSTRUMENTAL
    for label in ["no voice", "without drums", "none", "other", "unknown", "n/a", "other sounds"]:
        r = got[label]
        assert r.decided is None, label
        assert r.reason in ("negated label", "non-content label")
        assert all(c.object_id not in (VOCALS, DRUM) for c in r.candidates)


def test_unrelated_labels_abstain_and_are_reported(matcher):
    results = matcher.match(from_texts(["tax accounting software", "drum"], "src"))
    by = {r.subject.label: r for r in results}
    assert by["tax accounting software"].decided is None
    assert "below threshold" in by["tax accounting software"].reason
    assert [u[1] for u in unmapped(results)] == ["tax accounting software"]


def test_recorded_xrefs_decide_the_mapping(matcher):
    src = LabelSet("AudioSet", {"AudioSet:/m/05tny_": Label("AudioSet:/m/05tny_", "Woof woof")},
                   {"AudioSet": "https://research.google.com/audioset/ontology/index.html#"})
    r = matcher.match(src)[0]
    assert r.decided.object_id == BARK and r.decided.predicate == EXACT
    assert r.decided.justification == "semapv:BackgroundKnowledgeBasedMatching"
    assert r.decided.probability == pytest.approx(0.99)


def test_recorded_xrefs_outrank_a_lexical_hit_on_another_concept(matcher):
    # The label is literally another target's label (a lexical hit scored above 0.99), but the
    # cross-reference recorded on "bark" says where this class belongs.
    src = LabelSet("AudioSet", {"AudioSet:/m/05tny_": Label("AudioSet:/m/05tny_", "Dog")},
                   {"AudioSet": "https://research.google.com/audioset/ontology/index.html#"})
    r = matcher.match(src)[0]
    assert r.decided.object_id == BARK
    assert r.decided.justification == "semapv:BackgroundKnowledgeBasedMatching"
    assert r.candidates[1].object_id == DOG  # the lexical hit stays a candidate for review


def test_rejected_pairs_are_never_proposed(matcher):
    src = from_texts(["Drums"], "src")
    results = matcher.match(src, rejected={("src:Drums", DRUM)})
    assert all(c.object_id != DRUM for c in results[0].candidates)


def test_threshold_controls_abstention(tmp_path_factory, matcher):
    strict = Matcher(mini_target(), matcher.embedder, MatchConfig(accept=0.999))
    assert strict.match(from_texts(["dog barking loudly"], "src"))[0].decided is None


def test_weak_semantic_guesses_are_related_not_close(matcher):
    loose = Matcher(mini_target(), matcher.embedder, MatchConfig(accept=0.0, related_below=1.0))
    r = loose.match(from_texts(["thunderstorm ambience"], "src"))[0]
    assert r.decided.predicate == "skos:relatedMatch"
    assert loose.match(from_texts(["Drums"], "src"))[0].decided.predicate == EXACT  # lexical stays exact


def test_hierarchy_context_and_repair(matcher):
    # A source hierarchy: "kit pieces" > "snare"; "instrument" is context only.
    src = LabelSet("kit", {
        "kit:perc": Label("kit:perc", "percussion instruments"),
        "kit:snare": Label("kit:snare", "snare", parents=["kit:perc"]),
        "kit:guitar": Label("kit:guitar", "electric guitar", parents=["kit:perc"]),
    }, {"kit": "https://example.org/kit/"})
    results = {r.subject.id: r for r in matcher.match(src)}
    assert results["kit:perc"].decided.object_id == PERC
    assert results["kit:snare"].decided.object_id == SNARE
    # electric guitar is not under percussion in the target: flagged, confidence lowered
    guitar = results["kit:guitar"]
    assert guitar.decided.object_id in (EGUITAR, GUITAR)
    assert "hierarchy conflict" in guitar.comment


def test_children_context_supports_the_matching_subtree(matcher):
    def prob_of_percussion(children):
        labels = {"k:kit": Label("k:kit", "kit pieces")}
        for i, c in enumerate(children):
            labels[f"k:{i}"] = Label(f"k:{i}", c, parents=["k:kit"])
        r = next(r for r in Matcher(mini_target(), matcher.embedder, MatchConfig(accept=0.0, candidates=30))
                 .match(LabelSet("k", labels, {"k": "https://example.org/k/"})) if r.subject.id == "k:kit")
        c = next(c for c in r.candidates if c.object_id == PERC)
        return c.probability, c.features
    alone, f_alone = prob_of_percussion([])
    with_kids, f_kids = prob_of_percussion(["snare", "hihat", "tom drum"])
    assert f_alone["has_kids"] == 0.0 and f_kids["has_kids"] == 1.0 and f_kids["kids"] > 0.6
    assert with_kids > alone


def test_sssom_output_and_candidates_validate(tmp_path, matcher):
    src = from_texts(["Drums", "heavy rain", "no voice"], "src")
    results = matcher.match(src)
    out = tmp_path / "m.sssom.tsv"
    from uts.mapping.sssom import write_sssom
    write_sssom(out, to_mapping_set(results, src, mini_target()))
    write_sssom(tmp_path / "c.sssom.tsv", candidates_set(results, src, mini_target(), k=3))
    assert validate_sssom(out) == [] and validate_sssom(tmp_path / "c.sssom.tsv") == []
    back = read_sssom(out)
    assert len(back) == 2  # one decided row per mapped label, abstention left out
    row = back.mappings[0]
    assert row.subject_label == "Drums" and row.mapping_tool == "uts-map" and row.mapping_tool_version
    cands = read_sssom(tmp_path / "c.sssom.tsv")
    assert max(sum(m.subject_id == s for m in cands.mappings) for s in ("src:Drums",)) <= 3
    assert all(m.similarity_score is not None for m in cands.mappings)


def test_rerun_keeps_reviewed_rows_and_rejections(tmp_path, matcher, monkeypatch):
    from uts.mapping.review import Decision, apply_decisions
    from uts.mapping.sssom import write_sssom

    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path / "cache"))  # never the user's cache
    src, target, out = from_texts(["Drums", "heavy rain"], "src"), mini_target(), tmp_path / "m.sssom.tsv"
    match_files(src, target, out, candidates_k=3, model=str(matcher.embedder.model_path))
    first = read_sssom(out)
    reviewed = apply_decisions(first, [Decision("src:Drums", "reject"),
                                       Decision("src:heavy%20rain", "predicate", predicate_id="close")],
                               "orcid:0000-0002-1825-0097")
    write_sssom(out, reviewed)
    summary = match_files(src, target, out, model=str(matcher.embedder.model_path))
    again = read_sssom(out)
    rain = [m for m in again.mappings if m.subject_id == "src:heavy%20rain"]
    assert len(rain) == 1 and rain[0].predicate_id == "skos:closeMatch" and rain[0].reviewer_id
    drums = [m for m in again.mappings if m.subject_id == "src:Drums"]
    assert any(m.negated and m.object_id == DRUM for m in drums)
    assert all(m.object_id != DRUM for m in drums if not m.negated)
    assert summary.kept_reviewed == 2
    assert summary.kept_elsewhere == 0


def test_rerun_under_other_ids_counts_only_this_sources_labels(tmp_path, matcher, monkeypatch):
    from uts.mapping.review import Decision, apply_decisions
    from uts.mapping.sssom import write_sssom

    monkeypatch.setenv("UTS_CACHE_DIR", str(tmp_path / "cache"))
    target, out = mini_target(), tmp_path / "m.sssom.tsv"
    match_files(from_texts(["Drums", "heavy rain"], "old"), target, out, model=str(matcher.embedder.model_path))
    write_sssom(out, apply_decisions(read_sssom(out), [Decision("old:Drums", "accept")], "orcid:0000-0002-1825-0097"))
    # Same labels, other ids (another file name): the kept row is not one of this source's mappings.
    summary = match_files(from_texts(["Drums", "tax accounting software"], "new"), target, out,
                          model=str(matcher.embedder.model_path))
    assert (summary.labels, summary.mapped, summary.unmapped) == (2, 1, 1)
    assert summary.kept_reviewed == 1 and summary.kept_elsewhere == 1
