"""The SpERT model: a transformer encoder, span classifier and relation classifier.

Shape letters, used in every comment below:
  B documents in the batch, T subwords per document (padded), N words (global
  over the batch), S spans, P span pairs, H encoder hidden size, D width-embedding
  size, C entity classes (types + "no entity"), R relation types; at inference E the
  spans the entity classifier kept (E <= S) and P the pairs built from them. Local to one
  helper: L the non-padding subwords of a packed batch, G groups (documents) and P' the
  ordered pairs of all groups before the self-pairs are dropped.

One ``forward`` serves training and evaluation: it encodes, pools and classifies
the batch's spans and pairs. At inference :meth:`SpERTModel.predict` builds the pairs
itself from the spans the entity classifier kept.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Literal

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel

from spert.model.batch import Batch
from spert.model.encoders import can_pack, check_encoder, encoder_family
from spert.model.pooling import AttentionPooler, build_pooler, word_states
from spert.model.dependency import WordSetPooler, syntax_context
from spert.model.settings import SYNTAX_CONTEXTS, ModelSettings, Precision
from spert.model.spans import MAX_WIDTH_EMBEDDINGS
from spert.data.schema import TypeSchema
from spert.errors import EncoderError

log = logging.getLogger(__name__)

@dataclass
class Output:
    entity_logits: torch.Tensor  # (S, C)
    rel_logits: torch.Tensor  # (P, R)
    loss: torch.Tensor | None = None
    entity_loss: torch.Tensor | None = None
    rel_loss: torch.Tensor | None = None


def _cross_context(batch: Batch, gh: torch.Tensor, gt: torch.Tensor, doc: torch.Tensor, left: torch.Tensor,
                   right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The localized context of pairs whose spans lie in two documents (training negatives,
    :func:`spert.train.sampling.cross_sentence_negatives`): the head's document after the head, or
    where that is empty the tail's document before the tail; a range of one document, as every
    pooler takes. Pairs within a document keep (doc, left, right). (P,) x3."""
    tail_doc = batch.span_doc[gt]
    cross = doc != tail_doc  # (P,)
    head_end = batch.word_offset[doc] + batch.num_words[doc]  # (P,) one past the head's last document word
    after_head = batch.span_end[gh] < head_end
    use_tail = cross & ~after_head
    doc = torch.where(use_tail, tail_doc, doc)
    left = torch.where(cross, torch.where(after_head, batch.span_end[gh], batch.word_offset[tail_doc]), left)
    right = torch.where(cross, torch.where(after_head, head_end, batch.span_start[gt]), right)
    return doc, left, right


@dataclass
class RawPrediction:
    """Kept spans and scored pairs of a batch, before decoding into documents."""

    span_index: torch.Tensor  # (E,) indices into the batch's candidate spans
    span_class: torch.Tensor  # (E,) predicted class (>= 1)
    span_score: torch.Tensor  # (E,) its softmax probability
    pair_head: torch.Tensor  # (P,) indices into the batch's candidate spans
    pair_tail: torch.Tensor  # (P,)
    rel_probs: torch.Tensor  # (P, R) sigmoid probabilities


def load_encoder(source: str, random_init: bool = False):
    """The encoder from a name or directory, without its (unused) pooler head; an architecture
    that cannot serve (:func:`spert.model.encoders.check_encoder`) is refused before its weights load."""
    try:
        config = AutoConfig.from_pretrained(source)
        check_encoder(config, source)
        if random_init:
            encoder = AutoModel.from_config(config)
        else:
            encoder = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as e:
        raise EncoderError(f"cannot load encoder {source!r}: {str(e).splitlines()[0]}") from None
    _drop_pooler(encoder)
    return encoder


def encoder_from_config(config):
    """An encoder with the architecture of ``config`` (weights to be loaded from a checkpoint)."""
    encoder = AutoModel.from_config(config)
    _drop_pooler(encoder)
    return encoder


def _drop_pooler(encoder) -> None:
    # BERT-style encoders carry a [CLS] pooler SpERT never uses; unused weights break DDP.
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None


PoolingImpl = Literal["lean", "naive"]


class SpERTModel(nn.Module):
    """The network. ``pooling_impl`` and ``pack_training`` choose between implementations that
    compute the same function (lean or naive pooling; packed or padded training batches);
    :meth:`using` switches them for a block, on the same weights."""

    def __init__(self, settings: ModelSettings, schema: TypeSchema, encoder: nn.Module, *,
                 pooling_impl: PoolingImpl = "lean", pack_training: bool = True) -> None:
        super().__init__()
        self.settings, self.schema = settings, schema
        self.pooling_impl, self.pack_training = pooling_impl, pack_training  # see _should_pack
        # inference's arithmetic: bf16 runs predict and score under torch.autocast (not stored with the model;
        # training's mixed precision is Accelerate's, TrainConfig.mixed_precision)
        self.precision: Precision = "fp32"
        self.encoder = encoder
        H, D = encoder.config.hidden_size, settings.width_dim
        context_dim = {"none": 0, "localized+syntax": 2 * H}.get(settings.context, H)
        self.width_embedding = nn.Embedding(MAX_WIDTH_EMBEDDINGS, D)
        self.entity_classifier = nn.Linear(2 * H + D, schema.num_entity_classes)
        with warnings.catch_warnings():  # an entity-only schema has a zero-output relation head
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            self.rel_classifier = nn.Linear(context_dim + 2 * H + 2 * D, schema.num_relation_types)
        if settings.context_pooling == "attention":  # a learned score per word of the relation context
            self.context_scorer = nn.Linear(H, 1)
        self.dropout = nn.Dropout(settings.dropout)
        if settings.head_init == "bert":
            self._init_heads_as_bert(getattr(encoder.config, "initializer_range", 0.02))
        if settings.freeze_encoder:
            for p in self.encoder.parameters():
                p.requires_grad_(False)

    def _init_heads_as_bert(self, std: float) -> None:
        """The reference's initialisation of the new layers (BERT's ``_init_weights``): weights
        ~ N(0, std) with the encoder's ``initializer_range``, biases zero."""
        with warnings.catch_warnings():  # an entity-only schema has a zero-output relation head
            warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
            for layer in (self.width_embedding, self.entity_classifier, self.rel_classifier,
                          *([self.context_scorer] if hasattr(self, "context_scorer") else [])):
                nn.init.normal_(layer.weight, mean=0.0, std=std)
                if getattr(layer, "bias", None) is not None:
                    nn.init.zeros_(layer.bias)

    @contextmanager
    def using(self, *, pooling_impl: PoolingImpl | None = None, pack_training: bool | None = None) -> Iterator[None]:
        """Run a block with other implementations (e.g. the naive reference), then switch back."""
        saved = self.pooling_impl, self.pack_training
        if pooling_impl is not None:
            self.pooling_impl = pooling_impl
        if pack_training is not None:
            self.pack_training = pack_training
        try:
            yield
        finally:
            self.pooling_impl, self.pack_training = saved

    # -- shared path ---------------------------------------------------------------

    def encode(self, batch: Batch):
        """Run the encoder and prepare the poolers; returns (h_CLS (B, H), span pooler, context pooler)."""
        longest = self._longest(batch)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.settings.freeze_encoder):
            if self._should_pack(batch):
                h, token_word, first = self._encode_packed(batch)  # (1, L, H), (1, L), (B,)
                cls = h[0, first]  # (B, H)
            else:
                h = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
                token_word, cls = batch.token_word, h[:, 0]  # h: (B, T, H)
        num_words = int(batch.num_words.sum())
        pooler = build_pooler(self.pooling_impl, self.settings.pooling, h, token_word, num_words, longest)
        if self.settings.context in SYNTAX_CONTEXTS:  # word sets (dependency paths) besides ranges
            x = word_states(h, token_word, num_words, self.settings.pooling)  # (N, H)
            return cls, pooler, WordSetPooler(pooler, x, self.settings.pooling)
        if self.settings.context_pooling == "same":
            return cls, pooler, pooler
        x = word_states(h, token_word, num_words, self.settings.pooling)  # (N, H)
        return cls, pooler, AttentionPooler(x, self.context_scorer(x).squeeze(-1))

    def _should_pack(self, batch: Batch) -> bool:
        """Pack the batch's documents into one sequence? Only in training, and only where exact.

        A training batch (2 documents in the spec) padded to its longer document wastes
        ~22% of the encoder's work on CoNLL04. Packed, the documents sit side by side in
        one sequence with their own position ids and a block-diagonal attention mask, so
        every token attends to exactly the tokens it would in the padded batch: the same
        function, without the padding. That needs absolute position embeddings that take
        position ids as given (BERT and its relatives: MiniLM, SciBERT) and an attention
        implementation that takes a 4D mask. At inference batches are sorted by length and
        carry little padding, and packing many documents would make attention quadratic
        in the batch, so they stay padded.
        """
        return (self.pack_training and self.training and batch.input_ids.shape[0] > 1
                and self.pooling_impl == "lean" and can_pack(self.encoder.config))

    def _encode_packed(self, batch: Batch):
        ids, mask = batch.input_ids, batch.attention_mask.bool()  # (B, T)
        lengths = mask.sum(1)  # (B,)
        first = torch.cumsum(lengths, 0) - lengths  # (B,) where each document starts
        doc = torch.arange(ids.shape[0], device=ids.device).unsqueeze(1).expand_as(ids)[mask]  # (L,)
        flat_ids = ids[mask].unsqueeze(0)  # (1, L), documents in order
        position = (torch.arange(ids.shape[1], device=ids.device).expand_as(ids))[mask].unsqueeze(0)  # (1, L)
        same = doc.unsqueeze(0) == doc.unsqueeze(1)  # (L, L) block diagonal
        if self.encoder.config._attn_implementation == "eager":  # additive mask
            attn = torch.zeros(same.shape, dtype=self.encoder.dtype, device=ids.device)
            attn = attn.masked_fill(~same, torch.finfo(attn.dtype).min)
        else:
            attn = same
        family = encoder_family(self.encoder.config)
        types = {"token_type_ids": torch.zeros_like(flat_ids)} if family.token_type_ids else {}  # one segment
        h = self.encoder(input_ids=flat_ids, attention_mask=attn[None, None], position_ids=position,
                         **types).last_hidden_state  # (1, L, H)
        return h, batch.token_word[mask].unsqueeze(0), first

    def classify_spans(self, cls: torch.Tensor, pooler, batch: Batch, index: torch.Tensor | None = None):
        """Pool and classify spans (all of the batch's, or ``index``): ((S, H) pooled, (S, D) widths, (S, C))."""
        doc, start, end = batch.span_doc, batch.span_start, batch.span_end
        if index is not None:
            doc, start, end = doc[index], start[index], end[index]
        pooled = pooler.pool(doc, start, end)  # (S, H)
        width = self.width_embedding(end - start)  # (S, D)
        if torch.is_grad_enabled() or (self.training and self.dropout.p > 0):
            x = torch.cat([cls[doc], pooled, width], dim=-1)  # (S, 2H + D)
            return pooled, width, self.entity_classifier(self.dropout(x))  # (S, C)
        # Inference (no gradient, no dropout): the classifier is linear, so its weight is split by
        # input block and the (S, 2H + D) input is never built; the [CLS] and width terms are
        # computed once per document and per width. Equal to the above up to float rounding.
        H = pooled.shape[-1]
        w = self.entity_classifier.weight  # (C, 2H + D)
        per_doc = F.linear(cls, w[:, :H], self.entity_classifier.bias)  # (B, C)
        per_width = F.linear(self.width_embedding.weight, w[:, 2 * H:])  # (MAX_WIDTH_EMBEDDINGS, C)
        logits = torch.addmm(per_doc[doc] + per_width[end - start], pooled, w[:, H:2 * H].t())  # (S, C)
        return pooled, width, logits

    def classify_pairs(self, cls, pooler, batch: Batch, pooled, width, head, tail, span_pos=None):
        """Relation logits for span pairs (indices into ``pooled``): (P, R). ``pooler`` pools the context."""
        pos = span_pos if span_pos is not None else torch.arange(len(batch.span_doc), device=head.device)
        gh, gt = pos[head], pos[tail]  # candidate-span indices of head and tail
        doc = batch.span_doc[gh]
        s1, e1 = batch.span_start[gh], batch.span_end[gh]
        s2, e2 = batch.span_start[gt], batch.span_end[gt]
        parts = []
        mode = self.settings.context
        if mode == "localized" or mode == "localized+syntax":
            # words strictly between the two spans; empty for adjacent or overlapping spans
            first = e1 <= s2
            left, right = torch.where(first, e1, e2), torch.where(first, s2, s1)
            if batch.cross_sentence:  # training negatives across documents: see _cross_context
                doc, left, right = _cross_context(batch, gh, gt, doc, left, right)
            parts.append(pooler.pool(doc, left, right))  # (P, H)
        elif mode == "full":
            start = batch.word_offset[doc]
            parts.append(pooler.pool(doc, start, start + batch.num_words[doc]))
        elif mode == "cls":
            parts.append(cls[doc])
        if mode in SYNTAX_CONTEXTS:
            # the words on the dependency path between the spans' heads, outside both spans; none: zero
            if batch.word_parent is None or batch.word_depth is None:
                raise ValueError(f"context {mode} needs the batch's dependency trees (Encoding.heads)")
            q, w = syntax_context(batch.word_parent, batch.word_depth, s1, e1, s2, e2)
            parts.append(pooler.pool_words(q, w, len(head)))  # (P, H)
        parts += [pooled[head], pooled[tail], width[head], width[tail]]
        x = torch.cat(parts, dim=-1)  # (P, [H or 2H] + 2H + 2D)
        return self.rel_classifier(self.dropout(x))  # (P, R)

    def _longest(self, batch: Batch) -> int:
        if self.settings.context in ("localized", "full", "localized+syntax"):
            return int(batch.num_words.max())
        return self.settings.max_span_size if len(batch.span_start) == 0 else \
            int((batch.span_end - batch.span_start).max())

    def forward(self, batch: Batch) -> Output:
        """Logits for the batch's spans and pairs; the loss when labels are given."""
        cls, pooler, context = self.encode(batch)
        pooled, width, entity_logits = self.classify_spans(cls, pooler, batch)
        rel_logits = self.classify_pairs(cls, context, batch, pooled, width, batch.pair_head, batch.pair_tail)
        out = Output(entity_logits, rel_logits)
        if batch.entity_labels is not None:
            # spans labelled -100 (for a distillation loss alone) are left out, as cross_entropy does
            out.entity_loss = F.cross_entropy(entity_logits, batch.entity_labels)
            gold = len(rel_logits) - batch.distill_pairs  # the last distill_pairs are not the gold loss's
            if gold > 0 and rel_logits.shape[1] > 0 and batch.rel_labels is not None:
                # mean over types, then mean over pairs: the mean of all P*R terms
                out.rel_loss = F.binary_cross_entropy_with_logits(rel_logits[:gold], batch.rel_labels[:gold])
                out.loss = out.entity_loss + out.rel_loss
            else:
                # keep the relation head in the graph (zero gradient) so DDP sees every parameter used
                out.loss = out.entity_loss + 0.0 * rel_logits.sum()
        return out

    # -- inference -----------------------------------------------------------------

    def _autocast(self, batch: Batch):
        """bf16 autocast for inference when ``precision`` says so (probabilities are taken in float32)."""
        return torch.autocast(batch.input_ids.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    @torch.inference_mode()
    def predict(self, batch: Batch, max_pairs: int = 4096) -> RawPrediction:
        """Classify every candidate span, then every ordered pair of kept spans per document."""
        with self._autocast(batch):
            cls, pooler, context = self.encode(batch)
            pooled, width, entity_logits = self.classify_spans(cls, pooler, batch)
            probs = entity_logits.float().softmax(-1)  # (S, C)
            score, klass = probs.max(-1)
            kept = (klass != 0).nonzero().squeeze(-1)  # (E,), grouped by document
            head, tail = ordered_pairs(batch.span_doc[kept], len(batch.num_words))  # (P,) indices into kept
            rel_probs = self._pair_probs(cls, context, batch, pooled[kept], width[kept], head, tail, kept, max_pairs)
        return RawPrediction(kept, klass[kept], score[kept], kept[head], kept[tail], rel_probs)

    def _pair_probs(self, cls, pooler, batch: Batch, pooled, width, head, tail, span_pos, max_pairs: int):
        """Sigmoid relation probabilities of pairs, in chunks of ``max_pairs`` to bound memory: (P, R)."""
        chunks = [self.classify_pairs(cls, pooler, batch, pooled, width, head[i:i + max_pairs],
                                      tail[i:i + max_pairs], span_pos=span_pos).float().sigmoid()
                  for i in range(0, len(head), max_pairs)]
        if chunks:
            return torch.cat(chunks)
        return pooled.new_zeros(0, self.schema.num_relation_types, dtype=torch.float32)

    @torch.inference_mode()
    def score(self, batch: Batch, max_pairs: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities for exactly the batch's spans and pairs, with no entity filtering.

        Returns ((S, C) softmax over entity classes, (P, R) sigmoid per relation type).
        The caller chooses the spans and pairs: given entities (relations only) and long
        sentences scored window by window (see ``windows.py``).
        """
        with self._autocast(batch):
            cls, pooler, context = self.encode(batch)
            pooled, width, entity_logits = self.classify_spans(cls, pooler, batch)
            rel_probs = self._pair_probs(cls, context, batch, pooled, width, batch.pair_head, batch.pair_tail, None,
                                         max_pairs)
        return entity_logits.float().softmax(-1), rel_probs


_SMALL_PAIR_GROUP = 512  # up to this many positions ordered_pairs builds an (E, E) mask


def ordered_pairs(group: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All ordered pairs (i, j), i != j, of positions whose (sorted) group ids are equal: ((P,), (P,))."""
    if len(group) <= _SMALL_PAIR_GROUP:
        # Few positions (the usual case at inference): one (E, E) mask is far cheaper than the
        # index arithmetic below; row-major order gives the same pairs in the same order.
        same = group.unsqueeze(1) == group.unsqueeze(0)  # (E, E)
        same.fill_diagonal_(False)
        i, j = same.nonzero().unbind(1)
        return i, j
    counts = torch.bincount(group, minlength=num_groups)  # (G,)
    offsets = torch.cumsum(counts, 0) - counts  # (G,) first position of each group
    sq = counts * counts
    total = int(sq.sum())
    if total == 0:
        empty = group.new_zeros(0)
        return empty, empty
    g = torch.repeat_interleave(torch.arange(num_groups, device=group.device), sq)  # (P',)
    local = torch.arange(total, device=group.device) - torch.repeat_interleave(torch.cumsum(sq, 0) - sq, sq)
    i, j = local // counts[g], local % counts[g]
    keep = i != j
    return (offsets[g] + i)[keep], (offsets[g] + j)[keep]
