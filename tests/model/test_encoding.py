"""Per-word encoding with BERT WordPiece and RoBERTa-style byte-level BPE, and local encoders."""

import json

import pytest
import torch

from spert.model.encoding import encode_words, load_tokenizer, looks_like_path, resolve_encoder
from spert.errors import EncoderError
from spert.infer.options import PredictOptions


@pytest.fixture(scope="module")
def tiny_roberta_dir(tmp_path_factory):
    """A byte-level BPE tokenizer trained here on a few sentences and a tiny random RoBERTa."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizerFast

    path = tmp_path_factory.mktemp("tiny_roberta")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["John works for IBM in New York .", "Paris is the capital of France ."] * 20,
                            vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(path))
    tok = RobertaTokenizerFast(vocab_file=str(path / "vocab.json"), merges_file=str(path / "merges.txt"))
    tok.save_pretrained(path)
    torch.manual_seed(0)
    RobertaModel(RobertaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=64, max_position_embeddings=66,
                               pad_token_id=tok.pad_token_id)).save_pretrained(path)
    return path


def test_bert_wordpiece_ranges(tiny_encoder_dir):
    tok = load_tokenizer(str(tiny_encoder_dir))
    words = ["Tuvia", "Tzafir", "attacked", "apathy", "."]
    e = encode_words(tok, words)
    for i, w in enumerate(words):
        assert e.input_ids[e.word_start[i]:e.word_end[i]] == tuple(tok(w, add_special_tokens=False)["input_ids"])
    assert e.word_start[0] == 1 and e.word_end[-1] == len(e.input_ids) - 1
    assert e.word_start[1:] == e.word_end[:-1]  # contiguous


def test_roberta_bpe_uses_its_own_start_and_end_tokens(tiny_roberta_dir):
    tok = load_tokenizer(str(tiny_roberta_dir))
    e = encode_words(tok, ["John", "works", "for", "IBM", "\u200b"])
    assert e.input_ids[0] == tok.bos_token_id == tok.cls_token_id
    assert e.input_ids[-1] == tok.eos_token_id
    assert all(s < t for s, t in zip(e.word_start, e.word_end))


def test_roberta_encoder_trains_a_step(tiny_roberta_dir):
    from spert.model.batch import collate
    from spert.model.checkpoint import build_model
    from spert.data.documents import Document, Entity, Relation
    from spert.infer.runner import predict_documents
    from spert.model.encoders import max_subwords
    from spert.model.settings import ModelSettings
    from spert.train.sampling import seeded_rng, training_sample
    from spert.data.schema import EntityType, RelationType, TypeSchema

    schema = TypeSchema((EntityType("P", "P", "P"), EntityType("O", "O", "O")), (RelationType("w", "w", "w"),))
    model = build_model(ModelSettings(encoder=str(tiny_roberta_dir)), schema, str(tiny_roberta_dir))
    tok = load_tokenizer(str(tiny_roberta_dir))
    assert max_subwords(model.encoder.config, tok) == 64  # RoBERTa reserves two position ids
    doc = Document(("John", "works", "for", "IBM"), (Entity("P", 0, 1), Entity("O", 3, 4)), (Relation("w", 0, 1),))
    batch = collate([encode_words(tok, doc.tokens)], [training_sample(doc, schema, seeded_rng(0, 0, 0))],
                    tok.pad_token_id)
    model(batch).loss.backward()
    assert len(predict_documents(model, tok, [doc.tokens], PredictOptions(rel_filter_threshold=0.5))) == 1


def test_default_encoder_resolves_to_the_packaged_model():
    path = resolve_encoder(None)
    cfg = json.loads(open(f"{path}/config.json").read())
    assert cfg["hidden_size"] == 384 and cfg["num_hidden_layers"] == 6
    assert resolve_encoder("bert-base-cased") == "bert-base-cased"


def test_missing_encoder_is_a_clear_error(tmp_path):
    with pytest.raises(EncoderError, match="cannot load the tokenizer of encoder"):
        load_tokenizer(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("name, kind", [("/a/path/that/does/not/exist", "path"), ("./nowhere/enc", "path"),
                                        ("~/no/such/encoder", "path"), ("runs/x/", "path"), ("a/b/c", "path"),
                                        ("bert-base-cased", "hub"), ("sentence-transformers/all-mpnet-base-v2", "hub")])
def test_what_is_plainly_a_path(name, kind):
    assert looks_like_path(name) == (kind == "path")


def test_an_encoder_path_that_is_not_there_says_no_such_directory(tmp_path, tiny_encoder_dir):
    """Issue 26: transformers answers a missing directory with "Repo id must be in the form ..."."""
    with pytest.raises(EncoderError, match=r"encoder '/a/path/that/does/not/exist': no such directory$"):
        resolve_encoder("/a/path/that/does/not/exist")
    (tmp_path / "file").write_text("x")
    with pytest.raises(EncoderError, match="not a directory"):
        resolve_encoder(str(tmp_path / "file"))
    with pytest.raises(EncoderError, match="no config.json in this directory"):
        resolve_encoder(str(tmp_path))
    assert resolve_encoder(str(tiny_encoder_dir)) == str(tiny_encoder_dir)
