"""What SpERT must know about the encoder: one entry per family of Hugging Face encoders.

Every rule that depends on which encoder runs lives here, so that a new family is an entry
in :data:`FAMILIES` (keyed by the Hugging Face ``config.model_type``) and a test, and no
other module asks which encoder it has:

* the longest input (:func:`max_subwords`): the position embeddings, less the positions a
  family reserves before the first token (RoBERTa and its descendants count positions from
  ``padding_idx + 1 == 2``, so two of ``max_position_embeddings`` never hold a token), and
  no more than the tokenizer's ``model_max_length``;
* whether the encoder's ``forward`` takes ``token_type_ids``;
* whether documents may be packed side by side into one training sequence
  (:func:`can_pack`, see ``SpERTModel._should_pack``): exact only for absolute position
  embeddings that take the position ids given;
* the start and end tokens around a document's subwords (:func:`special_ids`): the
  tokenizer's own ``[CLS]``/``[SEP]``, else ``<s>``/``</s>`` (its ``bos``/``eos``); every
  family so far defines them, so no entry names them yet.

An unknown ``model_type`` gets :data:`DEFAULT_FAMILY`: nothing reserved, not packed.
Functions take the encoder's config (``model.encoder.config``) or the tokenizer, never the
SpERT model, so training, inference and the tools ask the same questions of the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from spert.errors import DataError, EncoderError

_DEFAULT_POSITIONS = 512  # a config that names no position limit (BERT's)
_UNBOUNDED = 1_000_000  # a tokenizer's model_max_length at or above this means "not set"


@dataclass(frozen=True, slots=True)
class EncoderFamily:
    """The facts that differ between encoder families."""

    reserved_positions: int = 0  # position ids used before the first token (RoBERTa: 2)
    token_type_ids: bool = True  # forward takes token_type_ids
    packable: bool = False  # absolute positions taken as given: packed documents are exact


DEFAULT_FAMILY = EncoderFamily()
_ROBERTA = EncoderFamily(reserved_positions=2)
FAMILIES: dict[str, EncoderFamily] = {
    "bert": EncoderFamily(packable=True),  # and its layouts: MiniLM, SciBERT, BioBERT
    "roberta": _ROBERTA,
    "xlm-roberta": _ROBERTA,
    "camembert": _ROBERTA,
}


def encoder_family(config: Any) -> EncoderFamily:
    """The family entry of a Hugging Face encoder config (:data:`DEFAULT_FAMILY` if unknown)."""
    return FAMILIES.get(getattr(config, "model_type", ""), DEFAULT_FAMILY)


def max_subwords(config: Any, tokenizer) -> int:
    """Longest sequence the encoder accepts, start and end tokens included."""
    limit = getattr(config, "max_position_embeddings", _DEFAULT_POSITIONS) - encoder_family(config).reserved_positions
    tok_limit = getattr(tokenizer, "model_max_length", limit) or limit
    return int(min(limit, tok_limit) if tok_limit < _UNBOUNDED else limit)


class _Encoded(Protocol):  # a model.encoding.Encoding (which imports this module, so is not imported here)
    @property
    def input_ids(self) -> Sequence[int]: ...


def check_lengths(encodings: Sequence[_Encoded], limit: int, path: Any = None) -> None:
    """Raise a :class:`DataError` naming the first document longer than ``limit`` subwords."""
    for i, e in enumerate(encodings):
        if len(e.input_ids) > limit:
            raise DataError(path, f"{len(e.input_ids)} subwords with start and end tokens; the encoder takes "
                            f"at most {limit}. Split the document into shorter sentences", doc=i, field="tokens")


def can_pack(config: Any) -> bool:
    """Can the encoder run several documents packed into one sequence (see ``SpERTModel._should_pack``)?
    Its family must take absolute position ids as given, and the attention implementation a 4D mask."""
    return (encoder_family(config).packable
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and getattr(config, "_attn_implementation", None) in ("sdpa", "eager")
            and not getattr(config, "is_decoder", False))


def special_ids(tokenizer) -> tuple[int, int, int]:
    """(start, end, unknown) token ids of a tokenizer."""
    start = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    end = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    unk = tokenizer.unk_token_id
    if start is None or end is None:
        raise EncoderError("the tokenizer defines no start/end ([CLS]/[SEP] or <s>/</s>) tokens")
    if unk is None:
        unk = end
    return start, end, unk


def pad_id(tokenizer) -> int:
    """The id padding fills batches with: the tokenizer's own, else 0 (attention never sees it)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
