"""The one closure and the one domain rule (uts.ontology.graph)."""

import networkx as nx
import pytest

from uts.ontology import Concept, Ontology
from uts.ontology.graph import ancestor_sets, closure, concept_domain, inferred, label_domains


def _onto() -> Ontology:
    return Ontology([
        Concept("UTS:0000001", "sound"),
        Concept("UTS:0000002", "human voice", parents=["UTS:0000001"], domain="speech"),
        Concept("UTS:0000003", "music", domain="music"),
        # a cross-domain child: its own domain is declared, its voice parent is speech
        Concept("UTS:0000004", "singing", parents=["UTS:0000002", "UTS:0000003"], domain="music"),
        Concept("UTS:0000005", "choir", parents=["UTS:0000004"]),
        Concept("UTS:0000006", "hum", parents=["UTS:0000001"]),
    ])


def test_closure_and_inferred_follow_every_parent():
    g = _onto().graph
    assert closure(g, ["UTS:0000005"]) == {"UTS:0000005", "UTS:0000004", "UTS:0000002", "UTS:0000003", "UTS:0000001"}
    assert inferred(g, ["UTS:0000005", "UTS:0000003"]) == ["UTS:0000001", "UTS:0000002", "UTS:0000004"]
    assert closure(g, ["not-in-graph"]) == {"not-in-graph"}


def test_ancestor_sets_equal_networkx_and_refuse_cycles():
    g = _onto().graph
    assert ancestor_sets(g) == {n: nx.ancestors(g, n) for n in g}
    g.add_edge("UTS:0000005", "UTS:0000001")
    with pytest.raises(nx.NetworkXUnfeasible):
        ancestor_sets(g)


def test_domain_is_the_nearest_declared_one_never_the_union_over_ancestors():
    onto = _onto()
    assert concept_domain(onto, "UTS:0000005") == "music"  # inherited from singing, not voice
    assert concept_domain(onto, "UTS:0000006") == "general"
    # a choir clip is music; its "human voice" ancestor does not make it speech too
    assert label_domains(onto, ["UTS:0000005"]) == {"music"}
    assert label_domains(onto, ["UTS:0000005", "UTS:0000002", "UTS:0009999"]) == {"music", "speech"}
