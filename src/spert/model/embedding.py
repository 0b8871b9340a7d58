"""Training only the word-embedding rows of the training vocabulary.

The encoder's word embedding (vocabulary x hidden: 30522 x 384 = 11.7 M values for
MiniLM, half of all its parameters) gets a dense gradient every step, and AdamW,
gradient clipping and zeroing read and write all of it, although a training set
uses only a small part of the vocabulary (CoNLL04: 6,935 of 30,522 subwords).

A row that no training document contains has a zero gradient at every step, so
its AdamW moments stay exactly zero and its whole update is the decoupled weight
decay, p <- p * (1 - lr_t * wd). :class:`TrainVocabEmbedding` therefore trains the
rows of the training vocabulary as a dense (A x hidden) parameter, which the
optimizer treats like any other, and keeps the other rows aside with one pending
factor, the product of the (1 - lr_t * wd) of the steps so far. The result equals
the full dense update up to float rounding (one multiplication by the product
instead of one per step; relative difference ~1e-7).

The state dict shows the ordinary ``weight`` (vocabulary x hidden) with the pending
decay applied, so checkpoints, checksums and evaluation see a plain embedding.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn


class TrainVocabEmbedding(nn.Module):
    """Drop-in for an ``nn.Embedding`` whose rows ``rows`` are the trained parameter."""

    def __init__(self, embedding: nn.Embedding, rows: torch.Tensor) -> None:
        super().__init__()
        weight = embedding.weight.detach()
        V = weight.shape[0]
        rows = torch.unique(rows.to(device=weight.device, dtype=torch.long))  # (A,) sorted
        if embedding.padding_idx is not None:
            rows = torch.unique(torch.cat([rows, rows.new_tensor([embedding.padding_idx])]))
        if len(rows) and (rows.min() < 0 or rows.max() >= V):
            raise ValueError(f"token ids outside the vocabulary of {V}")
        self.num_embeddings, self.embedding_dim = V, weight.shape[1]
        self.padding_idx = embedding.padding_idx
        self.train_weight = nn.Parameter(weight[rows].clone(), requires_grad=embedding.weight.requires_grad)  # (A, H)
        # Plain attributes, not buffers: DDP would broadcast buffers every step. Moved by _apply.
        self.full = weight.clone()  # (V, H) rows outside the training vocabulary, before the pending decay
        self.rows = rows
        self.lookup = torch.full((V,), -1, dtype=torch.long, device=weight.device)  # (V,) id -> row of train_weight
        self.lookup[rows] = torch.arange(len(rows), device=weight.device)
        self.decay = 1.0  # pending weight decay of the rows outside, as a float64 product
        self._materialized: torch.Tensor | None = None

    def _apply(self, fn, recurse=True):
        self.full, self.rows, self.lookup = fn(self.full), fn(self.rows), fn(self.lookup)
        self._materialized = None
        return super()._apply(fn, recurse)

    @property
    def weight(self) -> torch.Tensor:
        """The full (V, H) matrix as a dense update would have it now (detached)."""
        if self._materialized is None:
            w = self.full * self.decay if self.decay != 1.0 else self.full.clone()
            w[self.rows] = self.train_weight.detach()
            self._materialized = w
        return self._materialized

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return F.embedding(ids, self.weight, self.padding_idx)
        local = self.lookup[ids]
        if bool((local < 0).any()):
            raise ValueError("a token outside the training vocabulary reached the trained embedding")
        pad = None if self.padding_idx is None else int(self.lookup[self.padding_idx])
        return F.embedding(local, self.train_weight, pad)

    def after_step(self, lr: float, weight_decay: float) -> None:
        """Account for one optimizer step: the rows outside decay by (1 - lr * wd)."""
        self.decay *= 1.0 - lr * weight_decay
        self._materialized = None

    def fold(self) -> None:
        """Apply the pending decay to the rows outside and copy in the trained rows.

        Training folds at every checkpoint (on every process), so that a run resumed from the
        checkpoint, which starts from the saved matrix, does exactly the arithmetic of a run
        that went on.
        """
        self.full = self.weight
        self.decay, self._materialized = 1.0, None

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "weight"] = self.weight.clone()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + "weight"
        if key not in state_dict:
            missing_keys.append(key)
            return
        w = state_dict[key]
        if tuple(w.shape) != tuple(self.full.shape):
            error_msgs.append(f"size mismatch for {key}: {tuple(w.shape)} in the checkpoint, "
                              f"{tuple(self.full.shape)} in the model")
            return
        with torch.no_grad():
            self.full = w.detach().to(self.full).clone()
            self.train_weight.copy_(self.full[self.rows])
        self.decay, self._materialized = 1.0, None

    def plain(self) -> nn.Embedding:
        """An ordinary ``nn.Embedding`` with the current weights."""
        out = nn.Embedding(self.num_embeddings, self.embedding_dim, padding_idx=self.padding_idx,
                           device=self.full.device, dtype=self.full.dtype)
        with torch.no_grad():
            out.weight.copy_(self.weight)
        out.weight.requires_grad_(self.train_weight.requires_grad)
        return out


def restrict_to_training_vocabulary(encoder: nn.Module,
                                    token_ids: Iterable[int] | torch.Tensor) -> TrainVocabEmbedding | None:
    """Replace the encoder's input embedding by a :class:`TrainVocabEmbedding` over ``token_ids``
    (every token id of the training data, repeats allowed).

    Returns None (and changes nothing) where the embedding is not a trainable ``nn.Embedding``.
    Call before building the optimizer, then :func:`attach` it.
    """
    embedding = encoder.get_input_embeddings()
    if not isinstance(embedding, nn.Embedding) or not embedding.weight.requires_grad or embedding.sparse:
        return None
    rows = token_ids if isinstance(token_ids, torch.Tensor) else torch.tensor(list(token_ids), dtype=torch.long)
    compact = TrainVocabEmbedding(embedding, rows)  # deduplicates and sorts
    encoder.set_input_embeddings(compact)
    return compact


def attach(compact: TrainVocabEmbedding, optimizer: torch.optim.Optimizer) -> None:
    """Have ``optimizer`` report each step's decay to the rows outside the training vocabulary."""
    group = next(g for g in optimizer.param_groups if any(p is compact.train_weight for p in g["params"]))
    last_step: list[int | None] = [None]

    def hook(opt, args, kwargs) -> None:
        # PyTorch wraps the step of every optimizer class it has built; a subclass whose step calls
        # its parent's (AdamWNoBiasCorrection) then runs post hooks twice per step, the inner time
        # with its rescaled rate, once a plain AdamW exists in the process. Count each step once.
        step = group.get("uncorrected_step")
        if step is not None:
            if step == last_step[0]:
                return
            last_step[0] = step
        # the optimizer's own decoupled decay: lr * weight_decay (AdamWNoBiasCorrection keeps the
        # configured values as step_lr and base_weight_decay while it rescales them inside its step)
        compact.after_step(group.get("step_lr", group["lr"]), group.get("base_weight_decay", group["weight_decay"]))

    optimizer.register_step_post_hook(hook)


def unrestrict(encoder: nn.Module) -> None:
    """Put an ordinary ``nn.Embedding`` back (after training)."""
    embedding = encoder.get_input_embeddings()
    if isinstance(embedding, TrainVocabEmbedding):
        encoder.set_input_embeddings(embedding.plain())
