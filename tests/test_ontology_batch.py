"""Batch edits refresh the resolver's lexicon and the graph incrementally (no rebuild per
operation); after any mix of operations the views must equal a rebuild from scratch, and a batch
is still all-or-nothing, validated once, with the failing operation named."""

from __future__ import annotations

import copy
import random

import pytest

from _ontology_helpers import build_small
from uts.ontology import Ontology
from uts.ontology.edit import EditError, apply_op, apply_ops


def views(onto: Ontology) -> tuple:
    onto.lookup("x")  # build both views if they are not built
    edges = sorted(onto.graph.edges)
    lex = onto.resolver.lexicon  # lists in order: the first id under a key is the one preferred
    return (sorted(onto.graph.nodes), edges, lex.exact, lex.normalized, lex.lemma, lex.longest,
            onto.resolver.max_ngram, onto.next_id())


def rebuilt(onto: Ontology) -> tuple:
    fresh = copy.deepcopy(onto)
    fresh.touch()
    return views(fresh)


def random_op(onto: Ontology, rng: random.Random, n: int) -> dict:
    active = sorted(c.id for c in onto.active())
    pick = lambda: rng.choice(active)  # noqa: E731
    kind = rng.choice(["add", "add", "relabel", "add_synonym", "remove_synonym", "move", "add_parent",
                       "remove_parent", "merge", "split", "deprecate"])
    if kind == "add":
        return {"op": "add", "label": f"thing {n}", "parents": [pick()], "synonyms": [f"Thing-{n}s"]}
    if kind == "relabel":  # now and then a long label, so the lexicon's longest text grows and shrinks
        label = f"renamed {n}" if rng.random() < 0.7 else f"a much longer renamed label number {n}"
        return {"op": "relabel", "id": pick(), "label": label}
    if kind == "add_synonym":
        return {"op": "add_synonym", "id": pick(), "synonym": rng.choice([f"alias {n}", "drum", "Drums"])}
    if kind == "remove_synonym":
        cid = rng.choice([c.id for c in onto.active() if c.synonyms] or active)
        syns = onto.concepts[cid].synonyms
        return {"op": "remove_synonym", "id": cid, "synonym": rng.choice(syns) if syns else "none"}
    if kind in ("move", "add_parent"):
        return {"op": kind, "id": pick(), ("to" if kind == "move" else "parent"): pick()}
    if kind == "remove_parent":
        return {"op": "remove_parent", "id": pick(), "parent": pick()}
    if kind == "merge":
        return {"op": "merge", "source": pick(), "target": pick()}
    if kind == "split":
        return {"op": "split", "id": pick(), "into": [f"part {n} a", f"part {n} b"], "children_to": pick()}
    return {"op": "deprecate", "id": pick(), "reparent_to": "parents", "replaced_by": [pick()]}


@pytest.mark.parametrize("seed", range(6))
def test_incremental_views_equal_a_rebuild_after_any_ops(seed):
    rng = random.Random(seed)
    onto = build_small()
    views(onto)  # built once up front, then only refreshed
    applied = 0
    for n in range(120):
        resolver, graph = onto.resolver, onto.graph
        try:
            apply_op(onto, random_op(onto, rng, n))
            applied += 1
            assert onto.resolver is resolver  # refreshed in place, not dropped and rebuilt
        except EditError:
            onto.touch()  # a refused op may have half-changed onto; apply_ops works on a copy
        assert views(onto) == rebuilt(onto), f"after op {n}"
    assert applied > 30  # the walk really edits


def test_a_refreshed_resolver_forgets_its_cached_answers():
    onto = build_small()
    drum = onto.resolve("drum").id
    assert onto.resolver.ids("tom tom") == ()  # cached: no concept of that name yet
    apply_op(onto, {"op": "add_synonym", "id": drum, "synonym": "tom tom"})
    assert onto.resolver.ids("tom tom") == (drum,)
    apply_op(onto, {"op": "deprecate", "id": drum, "replaced_by": ["percussion"], "reparent_to": "parents"})
    assert onto.resolver.ids("tom tom") == (onto.resolve("percussion").id,)  # followed to the replacement


def test_batch_is_validated_once_and_still_all_or_nothing(monkeypatch):
    import uts.ontology.edit as edit_module

    calls = []
    real = edit_module.validate
    monkeypatch.setattr(edit_module, "validate", lambda o: calls.append(1) or real(o))
    onto = build_small()
    ops = [{"op": "add", "label": f"bell {i}", "parents": ["percussion"]} for i in range(50)]
    edited, records = apply_ops(onto, ops)
    assert len(records) == 50 and len(edited) == len(onto) + 50 and len(calls) == 2  # before, after
    with pytest.raises(EditError, match=r"operation 51 of 51 \(add\) refused: 'Bell-3' collides"):
        apply_ops(onto, ops + [{"op": "add", "label": "Bell-3", "parents": ["music"]}])
    assert len(onto) == 11 and not onto.lookup("bell 1")


def test_removing_the_longest_text_shrinks_the_caption_window_as_a_rebuild_would():
    onto = build_small()
    drum = onto.resolve("drum").id
    window = views(onto)[5:7]  # lexicon.longest, resolver.max_ngram
    apply_op(onto, {"op": "add_synonym", "id": drum, "synonym": "a very long name for the drum"})
    assert views(onto)[5] == 7 and views(onto) == rebuilt(onto)
    apply_op(onto, {"op": "remove_synonym", "id": drum, "synonym": "a very long name for the drum"})
    assert views(onto)[5:7] == window and views(onto) == rebuilt(onto)
