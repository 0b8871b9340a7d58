"""Converting checkpoints of the authors' implementation: identical logits, strict checks, safe loading."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from spert.model.batch import collate
from spert.model.checkpoint import load_model
from spert.tools.authors_checkpoint import convert_checkpoint
from spert.model.encoding import encode_words, resolve_encoder
from spert.errors import CheckpointError, DataError
from spert.model.spans import Sample

H, D, WIDTHS = 32, 25, 100
TYPES = {"entities": {"Loc": {"short": "Loc", "verbose": "Location"}, "Peop": {"short": "Peop", "verbose": "People"},
                      "Org": {"short": "Org", "verbose": "Organization"}},
         "relations": {"Work_For": {"short": "Work", "verbose": "Work for", "symmetric": False},
                       "Kill": {"short": "Kill", "verbose": "Kill", "symmetric": False}}}


def make_authors_checkpoint(encoder_dir: Path, out: Path, *, lowercase: bool | None = True, n_ent: int = 4,
                            n_rel: int = 2, extra: dict | None = None) -> dict[str, torch.Tensor]:
    """A directory in the layout the authors' SpERT saves (SPERT_SPEC.md), from a tiny BERT."""
    from transformers import BertModel

    out.mkdir(parents=True)
    bert = BertModel.from_pretrained(encoder_dir, add_pooling_layer=True)
    torch.manual_seed(1)
    state = {f"bert.{k}": v.clone() for k, v in bert.state_dict().items()}
    # transformers 4.1 (the authors' version) saved position_ids as a persistent buffer
    state["bert.embeddings.position_ids"] = torch.arange(bert.config.max_position_embeddings).unsqueeze(0)
    state["entity_classifier.weight"] = torch.randn(n_ent, 2 * H + D) * 0.2
    state["entity_classifier.bias"] = torch.randn(n_ent) * 0.2
    state["rel_classifier.weight"] = torch.randn(n_rel, 3 * H + 2 * D) * 0.2
    state["rel_classifier.bias"] = torch.randn(n_rel) * 0.2
    state["size_embeddings.weight"] = torch.randn(WIDTHS, D)
    state.update(extra or {})
    torch.save(state, out / "pytorch_model.bin")
    config = bert.config.to_dict()
    config.update({"architectures": ["SpERT"], "spert_version": "1.1"})
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    # a slow-tokenizer directory, as transformers 4.1 wrote it: vocab.txt, no tokenizer.json
    shutil.copy(Path(resolve_encoder(None)) / "vocab.txt", out / "vocab.txt")
    tok_cfg = {"model_max_length": 512} if lowercase is None else {"do_lower_case": lowercase, "model_max_length": 512}
    (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg), encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(
        {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
         "mask_token": "[MASK]"}), encoding="utf-8")
    return state


@pytest.fixture(scope="module")
def old_dir(tiny_encoder_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("authors") / "conll04_model"
    make_authors_checkpoint(tiny_encoder_dir, path)
    return path


@pytest.fixture(scope="module")
def types_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("types") / "types.json"
    p.write_text(json.dumps(TYPES), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def converted(old_dir, types_file, tmp_path_factory) -> Path:
    new = tmp_path_factory.mktemp("ours") / "model"
    convert_checkpoint(old_dir, new, types=types_file)
    return new


def reference_logits(old_dir: Path, words: list[str], spans: list[tuple[int, int]], pairs: list[tuple[int, int]],
                     tokenizer) -> tuple[torch.Tensor, torch.Tensor]:
    """SpERT's heads computed directly on the authors' tensors (read independently of the converter)."""
    from transformers import BertConfig, BertModel

    state = torch.load(old_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    bert = BertModel(BertConfig.from_pretrained(old_dir))
    missing, unexpected = bert.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("bert.")},
                                               strict=False)
    assert not missing and set(unexpected) <= {"embeddings.position_ids"}
    bert.eval()
    enc = encode_words(tokenizer, words)
    ids = torch.tensor([enc.input_ids])
    with torch.no_grad():
        h = bert(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]  # (T, H)
        size = state["size_embeddings.weight"]

        def pool(a: int, b: int) -> torch.Tensor:  # max over the subwords of words [a, b)
            if b <= a:
                return torch.zeros(H)
            return h[enc.word_start[a]:enc.word_end[b - 1]].max(0).values

        span_x = torch.stack([torch.cat([h[0], pool(s, e), size[e - s]]) for s, e in spans])
        ent = F.linear(span_x, state["entity_classifier.weight"], state["entity_classifier.bias"])
        rows = []
        for i, j in pairs:
            (s1, e1), (s2, e2) = spans[i], spans[j]
            ctx = pool(e1, s2) if e1 <= s2 else pool(e2, s1)  # words strictly between the two spans
            rows.append(torch.cat([ctx, pool(s1, e1), pool(s2, e2), size[e1 - s1], size[e2 - s2]]))
        rel = F.linear(torch.stack(rows), state["rel_classifier.weight"], state["rel_classifier.bias"])
    return ent, rel


def test_converted_model_gives_identical_logits(old_dir, converted):
    model, tokenizer, inference = load_model(converted)
    assert model.schema.to_json() == TYPES
    assert inference.rel_filter_threshold == 0.4
    words = "John Smith , a Washingtonian , works for Acme Corporation in New York .".split()
    spans = [(0, 2), (3, 5), (8, 10), (11, 13), (0, 1), (12, 13), (2, 3)]
    pairs = [(0, 2), (2, 0), (0, 3), (2, 3), (3, 2), (4, 0), (0, 4), (1, 5), (5, 6)]
    batch = collate([encode_words(tokenizer, words)],
                    [Sample(np.array(spans, dtype=np.int64), None, np.array(pairs, dtype=np.int64), None)],
                    tokenizer.pad_token_id)
    # The forward path (grad enabled: the one training and the authors' code take) builds the full
    # classifier inputs and must match to the bit. Inference (no grad) splits the entity classifier's
    # linear layer by input block, which equals it up to float rounding.
    with torch.enable_grad():
        out = model(batch)
    ent, rel = reference_logits(old_dir, words, spans, pairs, tokenizer)
    assert torch.equal(out.entity_logits.detach(), ent)
    assert torch.equal(out.rel_logits.detach(), rel)
    with torch.inference_mode():
        fast = model(batch)
    assert torch.allclose(fast.entity_logits, ent, rtol=1e-5, atol=1e-5)
    assert torch.allclose(fast.rel_logits, rel, rtol=1e-5, atol=1e-5)


def test_converted_weights_are_the_originals(old_dir, converted):
    from safetensors.torch import load_file

    old = torch.load(old_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
    new = load_file(str(converted / "model.safetensors"))
    assert torch.equal(new["width_embedding.weight"], old["size_embeddings.weight"])
    assert torch.equal(new["encoder.embeddings.word_embeddings.weight"], old["bert.embeddings.word_embeddings.weight"])
    assert not any(k.startswith("encoder.pooler") for k in new)
    meta = json.loads((converted / "spert.json").read_text())
    assert meta["model"]["width_dim"] == D and meta["model"]["max_span_size"] == 10


def run_cli(monkeypatch, *args: str) -> int:
    import sys

    from spert.cli import main

    monkeypatch.setattr(sys, "argv", ["spert", *args])
    try:
        main()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_converted_model_predicts_through_the_cli(converted, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("John Smith works for Acme in New York.\n", encoding="utf-8")
    assert run_cli(monkeypatch, "predict", "--model", str(converted), str(src), "-o", str(tmp_path / "out.jsonl"),
                   "-q") == 0
    record = json.loads((tmp_path / "out.jsonl").read_text())
    assert record["text"] == "John Smith works for Acme in New York."
    assert all(record["text"][e["char_start"]:e["char_end"]] == e["text"] for e in record["entities"])


def test_convert_cli_writes_a_model_directory(old_dir, types_file, tmp_path, monkeypatch, capsys):
    assert run_cli(monkeypatch, "convert", str(old_dir), str(tmp_path / "new"), "--types", str(types_file)) == 0
    assert "3 entity types (Loc, Peop, Org), 2 relation types" in capsys.readouterr().out
    assert (tmp_path / "new" / "spert.json").exists() and (tmp_path / "new" / "tokenizer.json").exists()


def test_type_counts_must_match_the_classifiers(old_dir, tmp_path):
    wrong = dict(TYPES, relations={"Kill": {"short": "K", "verbose": "Kill"}})
    p = tmp_path / "types.json"
    p.write_text(json.dumps(wrong))
    with pytest.raises(DataError, match="1 relation types; the checkpoint's classifiers have 3 entity types"):
        convert_checkpoint(old_dir, tmp_path / "new", types=p)
    assert not (tmp_path / "new").exists()


def test_without_types_placeholder_names_and_a_warning(old_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        report = convert_checkpoint(old_dir, tmp_path / "new")
    assert report.entity_types == ("ENTITY_1", "ENTITY_2", "ENTITY_3")
    assert report.relation_types == ("RELATION_1", "RELATION_2")
    assert "placeholder" in caplog.text


def test_types_file_inside_the_checkpoint_is_used(tiny_encoder_dir, tmp_path):
    old = tmp_path / "old"
    make_authors_checkpoint(tiny_encoder_dir, old)
    (old / "conll04_types.json").write_text(json.dumps(TYPES))
    assert convert_checkpoint(old, tmp_path / "new").types_from.endswith("conll04_types.json")


def test_uncased_vocabulary_is_lowercased_despite_the_authors_default(tiny_encoder_dir, tmp_path, types_file, caplog):
    old = tmp_path / "old"
    make_authors_checkpoint(tiny_encoder_dir, old, lowercase=False)  # the authors' default on an uncased vocab
    with caplog.at_level(logging.WARNING):
        report = convert_checkpoint(old, tmp_path / "new", types=types_file)
    assert report.lowercase and "uncased" in caplog.text
    _, tokenizer, _ = load_model(tmp_path / "new")
    assert tokenizer.tokenize("Washington") == tokenizer.tokenize("washington")
    assert tokenizer.unk_token not in tokenizer.tokenize("Washington")
    # an explicit choice wins
    assert not convert_checkpoint(old, tmp_path / "new2", types=types_file, lowercase=False).lowercase


def test_unexpected_weights_are_refused(tiny_encoder_dir, tmp_path, types_file):
    old = tmp_path / "old"
    make_authors_checkpoint(tiny_encoder_dir, old, extra={"crf.transitions": torch.zeros(3, 3)})
    with pytest.raises(CheckpointError, match="unexpected weights.*crf.transitions"):
        convert_checkpoint(old, tmp_path / "new", types=types_file)


def test_wrong_head_shapes_are_refused(tiny_encoder_dir, tmp_path, types_file):
    old = tmp_path / "old"
    make_authors_checkpoint(tiny_encoder_dir, old, extra={"size_embeddings.weight": torch.zeros(100, 20)})
    with pytest.raises(CheckpointError, match="head shapes do not fit"):
        convert_checkpoint(old, tmp_path / "new", types=types_file)


class _Payload:
    """Unpickling this would run code; weights_only loading must refuse it."""

    def __reduce__(self):
        return (Path.touch, (Path("/tmp/spert_convert_must_not_run"),))


def test_pickled_objects_are_never_unpickled(tiny_encoder_dir, tmp_path, types_file):
    old = tmp_path / "old"
    make_authors_checkpoint(tiny_encoder_dir, old)
    state = torch.load(old / "pytorch_model.bin", weights_only=True)
    state["evil"] = _Payload()
    torch.save(state, old / "pytorch_model.bin")
    marker = Path("/tmp/spert_convert_must_not_run")
    marker.unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="weights only"):
        convert_checkpoint(old, tmp_path / "new", types=types_file)
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no pytorch_model.bin"):
        convert_checkpoint(tmp_path, tmp_path / "new")
