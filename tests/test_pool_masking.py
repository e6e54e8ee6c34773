"""The annotated-label-space rule and the masked-loss rule, on small hand-made cases.

Ontology (tests/_ontology_helpers.build_small): sound > vehicle > car, engine; sound > machine >
engine; music > percussion > drum > snare drum; percussion > hi-hat; a deprecated "old drum"
under percussion.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from _ontology_helpers import build_small
from uts.mapping.labelsets import from_ontology
from uts.ontology.annotated import annotated_concepts
from uts.training.hierarchy import Hierarchy
from uts.training.masking import annotation_mask, known_overlap, masked_bce, spread_down
from uts.training.contrastive import label_overlap

SOUND, MUSIC, PERC, DRUM, HIHAT, SNARE = "UTS:0000001", "UTS:0000002", "UTS:0000003", "UTS:0000004", "UTS:0000005", "UTS:0000006"
VEHICLE, CAR, ENGINE, MACHINE, OLD = "UTS:0000007", "UTS:0000008", "UTS:0000009", "UTS:0000010", "UTS:0000011"


@pytest.fixture(scope="module")
def onto():
    return build_small()


@pytest.fixture(scope="module")
def graph(onto):
    return from_ontology(onto).graph  # active concepts only


@pytest.fixture(scope="module")
def hier(onto):
    ids = [c.id for c in onto.active()]
    return Hierarchy.from_ontology(onto, sorted(ids))


# -- the annotated label space ---------------------------------------------------------------
def test_one_leaf_says_nothing_about_its_ancestors_or_siblings(graph):
    assert annotated_concepts(graph, [CAR]) == {CAR}  # not vehicle (engine unannotated), not engine


def test_a_fully_covered_branch_annotates_its_parent(graph):
    # vehicle's children are car and engine; machine's only child is engine; sound has
    # vehicle and machine: the whole sound branch is covered.
    assert annotated_concepts(graph, [CAR, ENGINE]) == {CAR, ENGINE, VEHICLE, MACHINE, SOUND}


def test_coverage_is_recognised_level_by_level(graph, onto):
    # drum and hi-hat cover percussion (the deprecated child does not count), hence music;
    # snare drum, below drum, is not added by the rule (the per-clip rule handles descendants).
    assert annotated_concepts(graph, [DRUM, HIHAT]) == {DRUM, HIHAT, PERC, MUSIC}
    # With deprecated concepts in the graph, "old drum" is an unannotated child of percussion.
    assert annotated_concepts(onto.graph, [DRUM, HIHAT]) == {DRUM, HIHAT}


def test_unknown_ids_are_kept_and_empty_is_empty(graph):
    assert annotated_concepts(graph, []) == set()
    assert annotated_concepts(graph, ["X:1", CAR]) == {"X:1", CAR}


# -- the per-clip mask -----------------------------------------------------------------------
def _rows(hier, *sets):
    return torch.tensor([[1.0 if i in s else 0.0 for i in hier.ids] for s in sets])


def _known(hier, mask_row):
    return {i for i, v in zip(hier.ids, mask_row.tolist()) if v > 0.5}


def test_mask_dog_example_ancestors(hier, graph):
    """A source annotating only car: a clip without car is negative for car and unknown for
    vehicle (engine may be there); a car clip is known positive for car, vehicle, sound."""
    ann = _rows(hier, annotated_concepts(graph, [CAR]))
    pos = hier.close(_rows(hier, {CAR}, set()))
    mask = annotation_mask(pos, ann.expand(2, -1), hier)
    assert _known(hier, mask[0]) == {CAR, VEHICLE, SOUND}
    assert _known(hier, mask[1]) == {CAR}


def test_mask_descendants_of_a_known_negative_are_known(hier, graph):
    ann = _rows(hier, {DRUM})
    pos = hier.close(_rows(hier, set(), {DRUM}))
    mask = annotation_mask(pos, ann.expand(2, -1), hier)
    assert _known(hier, mask[0]) == {DRUM, SNARE}  # no drum -> no snare drum
    assert _known(hier, mask[1]) == {DRUM, PERC, MUSIC}  # a drum clip: snare drum unknown


def test_mask_whole_branch_makes_parent_known_negative(hier, graph):
    ann = _rows(hier, annotated_concepts(graph, [CAR, ENGINE]))
    pos = hier.close(_rows(hier, set()))
    assert _known(hier, annotation_mask(pos, ann, hier)[0]) == {CAR, ENGINE, VEHICLE, MACHINE, SOUND}


def test_spread_down_is_the_mirror_of_the_max_constraint(hier):
    x = _rows(hier, {PERC})
    assert _known(hier, spread_down(x, hier)[0]) == {PERC, DRUM, HIHAT, SNARE}


# -- the masked loss -------------------------------------------------------------------------
def test_outside_the_space_no_loss_and_no_gradient(hier, graph):
    ann = _rows(hier, annotated_concepts(graph, [CAR]))
    labels = _rows(hier, {CAR}, set())
    pos = hier.close(labels)
    mask = annotation_mask(pos, ann.expand(2, -1), hier)
    torch.manual_seed(0)
    logits = torch.randn(2, len(hier), requires_grad=True)
    loss = masked_bce(logits, pos, mask)
    loss.backward()
    grad = logits.grad
    assert torch.all(grad[mask == 0] == 0)  # exactly zero, not small
    assert torch.all(grad[mask == 1] != 0)  # every known entry is trained
    # the value is the BCE over the known entries alone ...
    known = mask == 1
    ref = F.binary_cross_entropy_with_logits(logits.detach()[known], pos[known])
    assert torch.allclose(loss.detach(), ref)
    # ... and moving an unknown logit changes nothing
    moved = logits.detach().clone()
    moved[1, hier.ids.index(VEHICLE)] += 10.0
    assert masked_bce(moved, pos, mask) == loss.detach()


def test_with_everything_annotated_the_mask_is_the_plain_loss(hier):
    ann = torch.ones(3, len(hier))
    pos = hier.close(_rows(hier, {SNARE}, {ENGINE}, set()))
    mask = annotation_mask(pos, ann, hier)
    assert torch.all(mask == 1)
    logits = torch.randn(3, len(hier))
    assert torch.allclose(masked_bce(logits, pos, mask), F.binary_cross_entropy_with_logits(logits, pos))


# -- contrastive soft targets ----------------------------------------------------------------
def test_unknown_labels_are_no_disagreement(hier, graph):
    """Clip 0: car and drum, from a source annotating both; clip 1: car, from a source that
    annotates only car (it may hold a drum too). The plain Jaccard calls them half alike; over
    the labels known to both they agree fully."""
    ann = torch.cat([_rows(hier, annotated_concepts(graph, [CAR, DRUM])), _rows(hier, {CAR})])
    pos = hier.close(_rows(hier, {CAR, DRUM}, {CAR}))
    known = annotation_mask(pos, ann, hier)
    assert label_overlap(pos)[0, 1] == pytest.approx(3 / 6)
    overlap = known_overlap(pos, known)
    assert overlap[0, 1] == pytest.approx(1.0) and overlap[1, 0] == pytest.approx(1.0)
    assert torch.all(torch.diagonal(overlap) == 1)


def test_known_overlap_is_jaccard_when_all_is_known(hier):
    pos = hier.close(_rows(hier, {CAR, DRUM}, {CAR}, {HIHAT}, set()))
    assert torch.allclose(known_overlap(pos, torch.ones_like(pos)), label_overlap(pos))
