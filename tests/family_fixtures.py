"""Tiny random encoders of every family SpERT supports, built offline in a test.

Each family gets the tokenizer of its kind, trained on a few sentences with the
``tokenizers`` library (WordPiece for BERT, ELECTRA, DistilBERT and MPNet; byte-level BPE
for RoBERTa; Unigram with SentencePiece's Metaspace for DeBERTa-v2/v3, XLM-RoBERTa and
ALBERT), wrapped in the family's transformers tokenizer class (``tokenizer_object=``) and
saved beside a 2-layer, 32-wide random model of the family's config: a directory that
``--encoder`` takes like a downloaded model. Special tokens sit where the real models have
them (RoBERTa and XLM-R: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2), and the config's token ids
follow the tokenizer. Positions are few (64 usable) so that the windows for long
sentences start after a few dozen words; the tokenizer sets no length of its own, so the
family's position rule (:func:`spert.model.encoders.max_subwords`) is what limits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from paths import CONLL04

POSITIONS = 64  # usable positions of every tiny encoder (start and end tokens included)
HIDDEN = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)

# A few sentences in the languages the tests use, beside the training documents' own words.
SENTENCES = [
    "Ada Lovelace was born in London and worked with Charles Babbage .",
    "Angela Merkel wurde in Hamburg geboren und lebt in Berlin .",
    "Emmanuel Macron est né à Amiens ; l'Élysée est à Paris .",
    "Pedro Sánchez nació en Madrid y vive en Barcelona .",
    "李明出生于北京，他在上海工作。",
]


def short_documents(split: str, count: int, max_words: int = 22) -> list[dict[str, Any]]:
    """The first ``count`` CoNLL04 documents of ``split`` with relations and at most ``max_words`` words
    (they fit the tiny encoders' 64 positions)."""
    docs = json.loads((CONLL04 / f"conll04_{split}.json").read_text(encoding="utf-8"))
    return [d for d in docs if len(d["tokens"]) <= max_words and d["relations"]][:count]


def write_documents(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(docs), encoding="utf-8")
    return path


def corpus(max_docs: int = 80) -> list[str]:
    """Sentences to train a tokenizer on: short CoNLL04 training documents and :data:`SENTENCES`."""
    return [" ".join(d["tokens"]) for d in short_documents("train", max_docs)] + SENTENCES


def _wordpiece(texts: list[str], specials: list[str], unk: str, lowercase: bool) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials))
    return tok


def _byte_bpe(texts: list[str], specials: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=1000, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _unigram(texts: list[str], specials: list[str], unk: str, lowercase: bool) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=600, special_tokens=specials, unk_token=unk))
    return tok


@dataclass(frozen=True)
class Family:
    """How to build one family's tiny encoder."""

    name: str  # the Hugging Face model_type
    config: str  # transformers config class
    tokenizer: str  # transformers tokenizer class
    kind: str  # wordpiece, bpe or unigram
    specials: tuple[str, ...]  # in id order
    start: str
    end: str
    unk: str
    pad: str
    lowercase: bool = False
    extra_positions: int = 0  # positions the family reserves (RoBERTa-style: 2)
    config_kwargs: dict[str, Any] = field(default_factory=dict)
    tokenizer_kwargs: dict[str, Any] = field(default_factory=dict)

    def train_tokenizer(self, texts: list[str]) -> Tokenizer:
        specials = list(self.specials)
        if self.kind == "wordpiece":
            tok = _wordpiece(texts, specials, self.unk, self.lowercase)
        elif self.kind == "bpe":
            tok = _byte_bpe(texts, specials)
        else:
            tok = _unigram(texts, specials, self.unk, self.lowercase)
        # the one-sequence template of the family's own tokenizer.json
        tok.post_processor = processors.TemplateProcessing(
            single=f"{self.start} $A {self.end}", special_tokens=[(t, tok.token_to_id(t)) for t in (self.start, self.end)])
        return tok


_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_BERT_TOKENS = dict(start="[CLS]", end="[SEP]", unk="[UNK]", pad="[PAD]")
_ROBERTA_TOKENS = dict(start="<s>", end="</s>", unk="<unk>", pad="<pad>")

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("bert", "BertConfig", "BertTokenizerFast", "wordpiece", _BERT_SPECIALS, **_BERT_TOKENS,
           tokenizer_kwargs=dict(do_lower_case=False)),  # cased, as bert-base-cased and BioBERT
    Family("roberta", "RobertaConfig", "RobertaTokenizerFast", "bpe", _ROBERTA_SPECIALS, **_ROBERTA_TOKENS,
           extra_positions=2, config_kwargs=dict(type_vocab_size=1)),
    Family("deberta-v2", "DebertaV2Config", "DebertaV2TokenizerFast", "unigram",
           ("[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"), **_BERT_TOKENS,
           # DeBERTa-v3's layout: relative positions only, in log buckets
           config_kwargs=dict(relative_attention=True, position_biased_input=False, pos_att_type=["p2c", "c2p"],
                              position_buckets=16, max_relative_positions=-1, norm_rel_ebd="layer_norm",
                              type_vocab_size=0)),
    Family("electra", "ElectraConfig", "ElectraTokenizerFast", "wordpiece", _BERT_SPECIALS, **_BERT_TOKENS,
           lowercase=True, config_kwargs=dict(embedding_size=16)),  # embeddings projected up, as ELECTRA-small
    Family("distilbert", "DistilBertConfig", "DistilBertTokenizerFast", "wordpiece", _BERT_SPECIALS,
           **_BERT_TOKENS, lowercase=True),
    Family("mpnet", "MPNetConfig", "MPNetTokenizerFast", "wordpiece",
           ("<s>", "<pad>", "</s>", "[UNK]", "<mask>"), start="<s>", end="</s>", unk="[UNK]", pad="<pad>",
           lowercase=True, extra_positions=2,
           tokenizer_kwargs=dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
                                 unk_token="[UNK]", pad_token="<pad>", mask_token="<mask>")),
    Family("xlm-roberta", "XLMRobertaConfig", "XLMRobertaTokenizerFast", "unigram", _ROBERTA_SPECIALS,
           **_ROBERTA_TOKENS, extra_positions=2, config_kwargs=dict(type_vocab_size=1)),
    Family("albert", "AlbertConfig", "AlbertTokenizerFast", "unigram",
           ("<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"), start="[CLS]", end="[SEP]", unk="<unk>", pad="<pad>",
           lowercase=True, config_kwargs=dict(embedding_size=16)),
)}


def _config(family: Family, tokenizer, vocab_size: int):
    import transformers

    ids = dict(pad_token_id=tokenizer.convert_tokens_to_ids(family.pad),
               bos_token_id=tokenizer.convert_tokens_to_ids(family.start),
               eos_token_id=tokenizer.convert_tokens_to_ids(family.end))
    size = dict(HIDDEN)
    if family.name == "distilbert":  # DistilBERT names its sizes itself
        size = dict(dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    cls = getattr(transformers, family.config)
    return cls(vocab_size=vocab_size, max_position_embeddings=POSITIONS + family.extra_positions,
               **size, **ids, **family.config_kwargs)


def build_encoder(name: str, path: Path, texts: list[str] | None = None, seed: int = 0) -> Path:
    """Write a tiny random encoder of family ``name`` (config, weights, tokenizer) into ``path``."""
    import transformers

    family = FAMILIES[name]
    raw = family.train_tokenizer(texts or corpus())
    tok_cls: Callable[..., Any] = getattr(transformers, family.tokenizer)
    tokenizer = tok_cls(tokenizer_object=raw, **family.tokenizer_kwargs)
    torch.manual_seed(seed)
    model = transformers.AutoModel.from_config(_config(family, tokenizer, len(tokenizer)))
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def bias_heads(model) -> None:
    """Make an untrained or barely trained SpERT model find entities and relations whose scores still
    depend on the encoder: single words lean towards the first entity type, every pair towards the first
    relation type (the width embedding and a bias move; the rest of the weights stay)."""
    with torch.no_grad():
        H = model.encoder.config.hidden_size
        w = model.entity_classifier.weight[:, 2 * H:]  # (C, D) the width embedding's share
        lean = w[1] - w[0]
        model.width_embedding.weight[1] += 20.0 * lean / lean.dot(lean)
        model.rel_classifier.bias[0] += 3.0
