"""The distillation losses against hand computations on a fixed batch (with temperature)."""

from __future__ import annotations

import math

import pytest
import torch

from spert.train.distillation import combine, entity_distillation_loss, relation_distillation_loss

STUDENT_SPANS = [[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]]  # (S=2, C=3)
TEACHER_SPANS = [[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]]
STUDENT_PAIRS = [[0.5, -1.0], [2.0, 0.0], [-3.0, 1.0]]  # (P=3, R=2)
TEACHER_PAIRS = [[1.0, -2.0], [0.0, 0.0], [-1.0, 4.0]]


def softmax(row, t):
    e = [math.exp(x / t) for x in row]
    return [x / sum(e) for x in e]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize("t", [1.0, 2.0, 4.0])
def test_entity_loss_is_the_kl_divergence_times_t_squared(t):
    kls = []
    for s, q in zip(STUDENT_SPANS, TEACHER_SPANS):
        p, q = softmax(s, t), softmax(q, t)
        kls.append(sum(qi * (math.log(qi) - math.log(pi)) for pi, qi in zip(p, q)))
    expected = t * t * sum(kls) / len(kls)
    got = entity_distillation_loss(torch.tensor(STUDENT_SPANS), torch.tensor(TEACHER_SPANS), t)
    assert got.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("t", [1.0, 3.0])
def test_relation_loss_is_the_binary_cross_entropy_of_sigmoids_times_t_squared(t):
    terms = []
    for s_row, t_row in zip(STUDENT_PAIRS, TEACHER_PAIRS):
        for s, q in zip(s_row, t_row):
            p, y = sigmoid(s / t), sigmoid(q / t)
            terms.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
    expected = t * t * sum(terms) / len(terms)
    got = relation_distillation_loss(torch.tensor(STUDENT_PAIRS), torch.tensor(TEACHER_PAIRS), t)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_a_student_equal_to_its_teacher_has_no_entity_loss_and_the_teachers_entropy_for_relations():
    spans = torch.tensor(TEACHER_SPANS)
    assert entity_distillation_loss(spans, spans, 2.0).item() == pytest.approx(0.0, abs=1e-7)
    pairs = torch.tensor(TEACHER_PAIRS)
    entropy = sum(-(y * math.log(y) + (1 - y) * math.log(1 - y))
                  for row in TEACHER_PAIRS for y in (sigmoid(x) for x in row)) / 6
    assert relation_distillation_loss(pairs, pairs, 1.0).item() == pytest.approx(entropy, rel=1e-6)


def test_gradients_flow_to_the_student_only():
    s = torch.tensor(STUDENT_SPANS, requires_grad=True)
    t = torch.tensor(TEACHER_SPANS, requires_grad=True)
    entity_distillation_loss(s, t.detach(), 2.0).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0 and t.grad is None


def test_empty_batches_and_mismatched_shapes():
    assert entity_distillation_loss(torch.zeros(0, 3), torch.zeros(0, 3), 2.0).item() == 0.0
    assert relation_distillation_loss(torch.zeros(0, 2), torch.zeros(0, 2), 2.0).item() == 0.0
    with pytest.raises(ValueError, match="differ"):
        entity_distillation_loss(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)


def test_combine_is_the_gold_loss_itself_at_weight_zero():
    gold, kd = torch.tensor(1.5), torch.tensor(0.25)
    assert combine(gold, kd, 0.0) is gold and combine(gold, None, 0.7) is gold
    assert combine(gold, kd, 1.0) is kd
    assert combine(gold, kd, 0.2).item() == pytest.approx(0.8 * 1.5 + 0.2 * 0.25)
