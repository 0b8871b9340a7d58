"""What SpERT must know about the encoder: one entry per family of Hugging Face encoders.

Every rule that depends on which encoder runs lives here, so that a new family is an entry
in :data:`FAMILIES` (keyed by the Hugging Face ``config.model_type``) and a test, and no
other module asks which encoder it has:

* the longest input (:func:`max_subwords`): the position embeddings, less the positions a
  family reserves before the first token (RoBERTa, XLM-R and MPNet count positions from
  ``padding_idx + 1 == 2``, so two of ``max_position_embeddings`` never hold a token), and
  no more than the tokenizer's ``model_max_length``;
* whether the encoder's ``forward`` takes ``token_type_ids`` (DistilBERT and MPNet do not);
* whether documents may be packed side by side into one training sequence
  (:func:`can_pack`, see ``SpERTModel._should_pack``): exact only for absolute position
  embeddings that take the position ids given (BERT, ELECTRA; each with an equality test);
* which of ONNX Runtime's transformer optimizers fuses the exported graph
  (``onnx_optimizer``): ``bert`` for every family here, the nearest it has; it fuses the
  attention of BERT, RoBERTa, XLM-R, ELECTRA, DistilBERT and ALBERT, and leaves the relative
  attention of DeBERTa and MPNet unfused (layer norms and GELU fused; predictions equal);
* whether an encoder can work at all (:func:`check_encoder`): an encoder-decoder or a
  decoder-only (causal) model cannot, and the error names the model and why.

Two facts belong to the tokenizer, not to the model type (RoBERTa and XLM-R share a model
class but not a tokenizer), so they are read off the tokenizer here, for every family alike:

* the start and end tokens around a document's subwords (:func:`special_ids`): the
  tokenizer's own ``[CLS]``/``[SEP]``, else ``<s>``/``</s>`` (its ``bos``/``eos``); the start
  token's vector is SpERT's [CLS] context;
* the text each word is encoded as (:func:`word_prefix`): byte-level BPE (RoBERTa, GPT-2's
  tokenizer) marks a word that follows a space by that space (``Ġword``), so each word is
  encoded after a space, as mid-sentence words were in pretraining; WordPiece splits on
  spaces and SentencePiece (Metaspace) marks every word itself, so their words go as they are.

An unknown ``model_type`` gets :data:`DEFAULT_FAMILY`: nothing reserved, not packed.
Functions take the encoder's config (``model.encoder.config``) or the tokenizer, never the
SpERT model, so training, inference and the tools ask the same questions of the same facts.
"""

from __future__ import annotations

import json
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
    onnx_optimizer: str = "bert"  # model type of onnxruntime.transformers.optimizer whose fusions fit


DEFAULT_FAMILY = EncoderFamily()
_ROBERTA = EncoderFamily(reserved_positions=2)
FAMILIES: dict[str, EncoderFamily] = {
    "bert": EncoderFamily(packable=True),  # and its layouts: MiniLM, SciBERT, BioBERT
    "electra": EncoderFamily(packable=True),  # BERT's embeddings and attention
    "roberta": _ROBERTA,
    "xlm-roberta": _ROBERTA,
    "camembert": _ROBERTA,
    "mpnet": EncoderFamily(reserved_positions=2, token_type_ids=False),  # RoBERTa's positions, <s>/</s>
    "distilbert": EncoderFamily(token_type_ids=False),
    "deberta-v2": DEFAULT_FAMILY,  # DeBERTa-v3 too: relative positions, nothing reserved
    "albert": DEFAULT_FAMILY,
}


def encoder_family(config: Any) -> EncoderFamily:
    """The family entry of a Hugging Face encoder config (:data:`DEFAULT_FAMILY` if unknown)."""
    return FAMILIES.get(getattr(config, "model_type", ""), DEFAULT_FAMILY)


def check_encoder(config: Any, name: str) -> None:
    """Raise an :class:`EncoderError` naming ``name`` if its architecture cannot serve as SpERT's encoder.

    SpERT reads every subword's vector in context of the whole sentence, and the first token's as
    the sentence's context: an encoder-decoder's ``forward`` needs decoder inputs, and a
    decoder-only (causal) model lets each token see only those before it, so its first token
    sees nothing. A model type that transformers pretrains only as a causal LM (no masked-LM
    head) counts as decoder-only; unknown model types are let through.
    """
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_MASKED_LM_MAPPING_NAMES)

    model_type = getattr(config, "model_type", "")
    if getattr(config, "is_encoder_decoder", False):
        raise EncoderError(f"encoder {name!r} (model type {model_type!r}) is an encoder-decoder model; SpERT "
                           f"needs an encoder alone (BERT, RoBERTa, DeBERTa, ELECTRA, XLM-RoBERTa, ...)")
    causal = model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    if causal or getattr(config, "is_decoder", False):
        raise EncoderError(f"encoder {name!r} (model type {model_type!r}) is a decoder-only (causal) model: each "
                           f"token sees only the tokens before it, and the first, SpERT's context vector, sees "
                           f"none; SpERT needs a bidirectional encoder (BERT, RoBERTa, DeBERTa, ELECTRA, ...)")


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


def word_prefix(tokenizer) -> str:
    """What goes before each word when it is encoded on its own: a space for byte-level BPE
    (its pre-tokenizer, alone or in a sequence, is ``ByteLevel``), else nothing (see the module's docs)."""
    pre = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
    if pre is None:
        return ""
    state = json.loads(pre.__getstate__())  # {"type": ..., "pretokenizers": [...] for a Sequence}
    steps = state.get("pretokenizers", [state])
    return " " if any(step.get("type") == "ByteLevel" for step in steps) else ""
