"""Encoder facts per family: the longest input, packing, start and end tokens, length errors."""

from types import SimpleNamespace

import pytest
from transformers import BertConfig, RobertaConfig

from spert.errors import DataError, EncoderError
from spert.model.encoders import (DEFAULT_FAMILY, FAMILIES, can_pack, check_lengths, encoder_family, max_subwords,
                                  pad_id, special_ids)
from spert.model.encoding import Encoding


def _tok(model_max_length=512, **ids):
    base = dict(cls_token_id=None, sep_token_id=None, bos_token_id=None, eos_token_id=None, unk_token_id=None,
                pad_token_id=None)
    return SimpleNamespace(model_max_length=model_max_length, **{**base, **ids})


def _bert(**kw):
    config = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, **kw)
    config._attn_implementation = "sdpa"
    return config


def test_family_table_has_a_default():
    assert encoder_family(_bert()) is FAMILIES["bert"] and FAMILIES["bert"].packable
    assert encoder_family(SimpleNamespace(model_type="made-up")) is DEFAULT_FAMILY
    assert encoder_family(SimpleNamespace()) is DEFAULT_FAMILY  # a config without a model type
    assert not DEFAULT_FAMILY.packable and DEFAULT_FAMILY.reserved_positions == 0


def test_longest_input_per_family():
    assert max_subwords(_bert(max_position_embeddings=512), _tok()) == 512
    assert max_subwords(_bert(max_position_embeddings=512), _tok(model_max_length=128)) == 128
    assert max_subwords(_bert(max_position_embeddings=300), _tok(model_max_length=int(1e30))) == 300  # unset
    # RoBERTa counts positions from padding_idx + 1: two of its 514 hold no token
    for model_type in ("roberta", "xlm-roberta", "camembert"):
        config = SimpleNamespace(model_type=model_type, max_position_embeddings=514)
        assert max_subwords(config, _tok(model_max_length=int(1e30))) == 512
    assert max_subwords(RobertaConfig(max_position_embeddings=66), _tok(model_max_length=None)) == 64


def test_packing_needs_the_family_and_the_config():
    assert can_pack(_bert())
    assert not can_pack(_bert(position_embedding_type="relative_key"))
    assert not can_pack(_bert(is_decoder=True))
    eager, flash = _bert(), _bert()
    eager._attn_implementation, flash._attn_implementation = "eager", "flash_attention_2"
    assert can_pack(eager) and not can_pack(flash)
    roberta = RobertaConfig()
    roberta._attn_implementation = "sdpa"
    assert not can_pack(roberta)


def test_start_end_and_padding_tokens():
    assert special_ids(_tok(cls_token_id=1, sep_token_id=2, unk_token_id=3)) == (1, 2, 3)
    assert special_ids(_tok(bos_token_id=0, eos_token_id=2)) == (0, 2, 2)  # no unknown token: the end token
    with pytest.raises(EncoderError, match="no start/end"):
        special_ids(_tok(cls_token_id=1))
    assert pad_id(_tok(pad_token_id=5)) == 5 and pad_id(_tok()) == 0


def test_too_long_a_document_names_itself():
    short, long = Encoding((1, 5, 2), (1,), (2,)), Encoding((1, 5, 5, 5, 2), (1,), (4,))
    check_lengths([short, long], 5, "d.json")
    with pytest.raises(DataError, match=r"d.json: document 1: field 'tokens': 5 subwords .* at most 4"):
        check_lengths([short, long], 4, "d.json")
