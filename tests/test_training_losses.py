"""Sparse max-constraint propagation and the objectives, against brute-force dense references."""

import math
import random

import pytest
import torch
import torch.nn.functional as F

from uts.ontology.model import Concept, Ontology
from uts.training.hierarchy import Hierarchy, HierarchyError
from uts.training.objectives import Objective, ObjectiveError

# a DAG with a shared child:  0 -> 1 -> 3, 0 -> 2 -> 3, 2 -> 4, 5 (separate root) -> 6
EDGES = [(1, 0), (2, 0), (3, 1), (3, 2), (4, 2), (6, 5)]
IDS = [f"c{i}" for i in range(7)]


def dense_ancestors(n, edges):
    """R[d, a] = 1 when a is d or an ancestor of d (Floyd-Warshall style closure)."""
    r = torch.eye(n)
    for c, p in edges:
        r[c, p] = 1
    for k in range(n):
        r = torch.maximum(r, r[:, k:k + 1] * r[k:k + 1, :])
    return r


def dense_mcm(x, r):
    # out[b, a] = max over d with R[d, a] of x[b, d]  -- the batch x C x C brute force
    big = x.unsqueeze(2).expand(-1, -1, r.shape[0])  # (B, d, a)
    return big.masked_fill(r.unsqueeze(0) == 0, -math.inf).amax(dim=1)


def random_dag(n, seed):
    rng = random.Random(seed)
    edges = set()
    for c in range(1, n):
        for p in rng.sample(range(c), k=min(c, rng.choice([0, 1, 1, 2]))):
            edges.add((c, p))
    return sorted(edges)


@pytest.mark.parametrize("n,edges", [(7, EDGES)] + [(12, random_dag(12, s)) for s in range(5)])
def test_max_constraint_matches_dense_reference(n, edges):
    h = Hierarchy([str(i) for i in range(n)], edges)
    x = torch.randn(5, n, dtype=torch.float64, requires_grad=True)
    r = dense_ancestors(n, edges).double()
    out = h.max_constraint(x)
    assert torch.equal(out, dense_mcm(x, r))
    # consistent: every parent >= every child, and nothing decreases
    assert not h.violations(out, tol=0).any()
    assert (out >= x).all()
    # closure of binary labels
    y = (torch.rand(5, n) < 0.3).double()
    assert torch.equal(h.close(y), (y @ r).clamp(max=1))
    # gradients flow to the arg-max entries only
    out.sum().backward()
    assert torch.all(x.grad >= 0) and x.grad.sum() == pytest.approx(5 * n)


def test_hierarchy_structure_and_errors():
    h = Hierarchy(IDS, EDGES)
    assert h.depth.tolist() == [0, 1, 1, 2, 2, 0, 1]
    assert h.internal.tolist() == [True, True, True, False, False, True, False]
    assert h.ancestors[3] == {0, 1, 2}
    assert h.num_pairs == 2 + 3 + 2 + 1  # 1,2 ->0; 3 -> 1,2,0; 4 -> 2,0; 6 -> 5
    assert h.distance(3, 3) == 0 and h.distance(3, 4) == 2 and h.distance(1, 4) == 3
    assert h.distance(3, 6) == 2 + 1 + 2  # via the virtual root above 0 and 5
    assert Hierarchy.from_dict(h.to_dict()).edges.tolist() == h.edges.tolist()
    with pytest.raises(HierarchyError, match="cycle"):
        Hierarchy(["a", "b"], [(0, 1), (1, 0)])
    with pytest.raises(HierarchyError, match="bad edge"):
        Hierarchy(["a"], [(0, 3)])


def test_from_ontology_uses_nearest_selected_ancestor():
    onto = Ontology([Concept("UTS:0000001", "music", root=True),
                     Concept("UTS:0000002", "drum", parents=["UTS:0000001"]),
                     Concept("UTS:0000003", "snare drum", parents=["UTS:0000002"])])
    h = Hierarchy.from_ontology(onto, ["UTS:0000003", "UTS:0000001"])  # drum not selected
    assert h.edges.tolist() == [[0, 1]]


def dense_mcloss(logits, y, r):
    """C-HMCNN's reference formulation on probabilities (their train loop, written densely)."""
    h = torch.sigmoid(logits)
    constr = dense_mcm(h, r)
    train = dense_mcm(y * h, r)
    out = (1 - y) * constr + y * train
    return F.binary_cross_entropy(out, y)


def test_hier_loss_equals_chmcnn_reference_and_scores_are_consistent():
    torch.manual_seed(0)
    h = Hierarchy(IDS, EDGES)
    r = dense_ancestors(7, EDGES).double()
    logits = torch.randn(6, 7, dtype=torch.float64)
    leaf_labels = torch.zeros(6, 7, dtype=torch.float64)
    leaf_labels[torch.arange(6), torch.tensor([3, 4, 6, 3, 1, 4])] = 1
    obj = Objective("hier", h)
    closed = (leaf_labels @ r).clamp(max=1)
    # our loss is computed in float32 on logits; compare with the float64 dense reference
    ours = obj.loss(logits, leaf_labels)
    assert float(ours) == pytest.approx(float(dense_mcloss(logits, closed, r)), rel=1e-5)
    scores = obj.scores(logits)
    assert not h.violations(scores, tol=0).any()
    flat = Objective("flat", h).scores(logits.float())
    assert h.violations(flat).any()  # the flat baseline offers no such guarantee


def test_ancestor_modes():
    h = Hierarchy(IDS, EDGES)
    y = torch.zeros(1, 7)
    y[0, 3] = 1  # leaf only: 0, 1, 2 are implied
    t, m = Objective("flat", h).targets(y)
    assert t.tolist() == y.tolist() and m.tolist() == [[1.0] * 7]
    t, m = Objective("flat", h, "positive").targets(y)
    assert t[0].tolist() == [1, 1, 1, 1, 0, 0, 0]
    t, m = Objective("hier", h, "unknown").targets(y)
    assert t[0].tolist() == [0, 0, 0, 1, 0, 0, 0] and m[0].tolist() == [0, 0, 0, 1, 1, 1, 1]
    # masked entries do not move the loss
    logits = torch.zeros(1, 7)
    base = Objective("flat", h, "unknown").loss(logits, y)
    logits[0, 0] = 50.0
    assert float(Objective("flat", h, "unknown").loss(logits, y)) == pytest.approx(float(base))
    assert float(Objective("flat", h).loss(logits, y)) > float(base)
    with pytest.raises(ObjectiveError, match="cannot treat ancestors as negatives"):
        Objective("hier", h, "negative")
    with pytest.raises(ObjectiveError, match="unknown objective"):
        Objective("softmax", h)


def test_hier_loss_gradients_are_finite_with_extreme_logits():
    h = Hierarchy(IDS, EDGES)
    logits = torch.tensor([[30.0, -30.0, 80.0, -80.0, 0.0, 100.0, -100.0]], requires_grad=True)
    y = torch.zeros(1, 7)
    y[0, 4] = 1
    loss = Objective("hier", h).loss(logits, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_propagation_memory_is_sparse():
    # 3,000 classes, depth-5 tree: the pair index is about C x depth, nowhere near C x C
    n, edges = 1 + 3 + 27 + 243 + 2187, []
    for c in range(1, n):
        edges.append((c, (c - 1) // 9 if c > 30 else (c - 1) // 3 if c > 3 else 0))
    h = Hierarchy([str(i) for i in range(n)], edges)
    assert h.num_pairs < 5 * n
    out = h.max_constraint(torch.randn(4, n))
    assert not h.violations(out, tol=0).any()
