"""Knowledge distillation losses: a student's logits pulled toward a trained teacher's.

Pure functions of logits (no model, no sampling), so that a hand computation can hold them:

* entities: the teacher's class distribution over a span (softmax at temperature ``T``) is the
  target of the student's, by KL divergence, times ``T**2`` so that the gradient's size does not
  shrink as ``T`` grows (Hinton et al., 2015);
* relations: each relation type is its own yes/no question (the model's sigmoid, not a softmax),
  so the target of the student's sigmoid at temperature ``T`` is the teacher's, by binary cross
  entropy, also times ``T**2``; the mean over pairs and types, as the gold relation loss is.

:func:`combine` mixes them with the gold loss: ``(1 - w) * gold + w * (entity + relation)``, and
at ``w == 0`` returns the gold loss itself (the plain training run, bit for bit).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def entity_distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T**2 * mean over spans of KL(softmax(teacher / T) || softmax(student / T))``.

    student, teacher: (S, C) logits over the same spans; a scalar (0 for no span)."""
    if student.shape != teacher.shape:
        raise ValueError(f"student logits {tuple(student.shape)} and teacher logits {tuple(teacher.shape)} differ")
    if student.shape[0] == 0:
        return student.sum() * 0.0
    t = temperature
    log_p = F.log_softmax(student.float() / t, dim=-1)  # (S, C)
    log_q = F.log_softmax(teacher.float() / t, dim=-1)  # (S, C) the target
    kl = (log_q.exp() * (log_q - log_p)).sum(-1)  # (S,)
    return kl.mean() * t * t


def relation_distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T**2 * mean over pairs and types of BCE(sigmoid(student / T), sigmoid(teacher / T))``.

    student, teacher: (P, R) logits over the same pairs; a scalar (0 for no pair)."""
    if student.shape != teacher.shape:
        raise ValueError(f"student logits {tuple(student.shape)} and teacher logits {tuple(teacher.shape)} differ")
    if student.numel() == 0:
        return student.sum() * 0.0
    t = temperature
    target = torch.sigmoid(teacher.float() / t)  # (P, R)
    bce = F.binary_cross_entropy_with_logits(student.float() / t, target, reduction="mean")
    return bce * t * t


def combine(gold: torch.Tensor, distilled: torch.Tensor | None, weight: float) -> torch.Tensor:
    """``(1 - weight) * gold + weight * distilled``; the gold loss itself when ``weight`` is 0."""
    if weight == 0 or distilled is None:
        return gold
    if weight == 1:
        return distilled
    return (1 - weight) * gold + weight * distilled
