"""Spatial relations: exact expectations for boxes placed by hand, and the vectorised pass equal
to the pure-Python pairwise reference on random scenes."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from drid.interpret.relations import PREDICATES, SpatialParams, spatial_relations, spatial_relations_naive, to_relations


def triples(boxes, **params):
    p = SpatialParams(**params)
    return {(i, pred, j) for i, pred, j, _ in spatial_relations(np.array(boxes, dtype=float), p).tuples()}


def test_side_by_side_people_are_next_to_near_and_left_right():
    # Two 40×100 people, 20 px apart at the same height.
    boxes = [(100, 100, 140, 200), (160, 100, 200, 200)]
    assert triples(boxes) == {(0, "left_of", 1), (1, "right_of", 0), (0, "near", 1), (0, "next_to", 1)}
    found = {(i, p, j): c for i, p, j, c in spatial_relations(np.array(boxes, float)).tuples()}
    assert found[(0, "left_of", 1)] == pytest.approx(1.0)  # straight beside
    size = np.sqrt(40 * 100)
    assert found[(0, "near", 1)] == pytest.approx(1 - 20 / (2 * size))


def test_above_below_and_far_apart():
    boxes = [(100, 0, 140, 50), (100, 60, 140, 110), (1000, 1000, 1040, 1100)]
    got = triples(boxes)
    assert (0, "above", 1) in got and (1, "below", 0) in got
    assert (0, "near", 1) in got and (0, "next_to", 1) not in got  # stacked, not side by side
    assert not any(2 in (i, j) for i, _, j in got)  # out of range: no relation at all
    # With range: null the far box is left of / above nothing but is related directionally.
    everything = triples(boxes, range=None)
    assert (0, "left_of", 2) in everything and (2, "right_of", 0) in everything
    assert (0, "near", 2) not in everything


def test_inside_contains_and_overlaps():
    table = (100, 100, 300, 200)
    cup = (150, 120, 170, 140)
    person = (250, 50, 350, 250)
    got = triples([table, cup, person])
    assert {(1, "inside", 0), (0, "contains", 1), (0, "overlaps", 1)} <= got
    assert (0, "overlaps", 2) in got and (2, "overlaps", 0) not in got  # symmetric: once, earlier first
    assert (2, "inside", 0) not in got and (0, "inside", 2) not in got
    assert (0, "next_to", 2) not in got  # overlapping boxes are not 'next to'


def test_equal_boxes_overlap_but_neither_is_inside():
    got = triples([(0, 0, 10, 10), (0, 0, 10, 10)])
    assert got == {(0, "near", 1), (0, "overlaps", 1)}


def test_predicate_selection_and_min_confidence():
    boxes = [(0, 0, 10, 10), (20, 20, 30, 30)]  # exact diagonal: left_of and above at 0.5 each
    assert triples(boxes, predicates=["left_of"]) == {(0, "left_of", 1)}
    assert triples(boxes, predicates=["left_of", "above"], min_confidence=0.6) == set()


def test_unknown_predicate_is_refused_with_a_suggestion():
    with pytest.raises(ValidationError, match="did you mean 'next_to'"):
        SpatialParams(predicates=["nex_to"])


def test_no_boxes_or_one_box_has_no_relations():
    assert len(spatial_relations(np.zeros((0, 4)))) == 0
    assert spatial_relations(np.array([[0, 0, 5, 5]], float)).tuples() == []


def test_relation_messages_carry_object_ids():
    rels = to_relations(spatial_relations(np.array([(0, 0, 10, 10), (12, 0, 22, 10)], float)), [7, 3])
    assert ("left_of", 7, 3) in {(r.predicate, r.subject, r.object) for r in rels}
    assert all(0 <= r.confidence <= 1 for r in rels)


@pytest.mark.parametrize("n", [2, 5, 40, 150])
@pytest.mark.parametrize("params", [{}, {"range": None}, {"near": 2.0, "min_confidence": 0.55}, {"predicates": ["inside", "contains", "next_to"]}])
def test_vectorised_equals_naive_reference(n, params):
    rng = np.random.default_rng(n)
    xy = rng.uniform(0, 800, (n, 2))
    wh = rng.uniform(4, 150, (n, 2))
    boxes = np.c_[xy, xy + wh]
    boxes[1] = boxes[0]  # a duplicate
    if n > 4:
        boxes[3] = (boxes[2][0] + 2, boxes[2][1] + 2, boxes[2][0] + 5, boxes[2][1] + 5)  # nested
        boxes[4, 2] = boxes[4, 0]  # zero width
    p = SpatialParams(**params)
    fast = spatial_relations(boxes, p).tuples()
    slow = spatial_relations_naive(boxes.tolist(), p)
    assert [r[:3] for r in fast] == [r[:3] for r in slow]
    assert np.allclose([r[3] for r in fast], [r[3] for r in slow])
    assert {r[1] for r in fast} <= set(PREDICATES)
