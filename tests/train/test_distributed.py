"""Data-parallel training: two CPU processes (gloo) end with identical weights, and the
loss per update equals a single process accumulating the same two micro-batches."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from paths import CONLL04


@pytest.fixture(scope="module")
def no_dropout_encoder(tmp_path_factory):
    """Dropout makes the processes' random streams matter; the comparison needs it off."""
    from transformers import BertConfig, BertModel

    from spert.model.encoding import load_tokenizer, resolve_encoder

    path = tmp_path_factory.mktemp("enc_nodrop")
    tok = load_tokenizer(resolve_encoder(None))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(out, encoder, **kw):
    settings = dict(train_path=CONLL04 / "conll04_train.json", types_path=CONLL04 / "conll04_types.json",
                    output_dir=out, encoder=encoder, max_train_docs=8, epochs=2, batch_size=1, dropout=0.0,
                    log_every=1, lr=1e-3, neg_entity_count=10, neg_relation_count=10, cpu=True)
    settings.update(kw)
    return [a for k, v in settings.items() for a in (f"--{k}", str(v))] + ["-q"]


def _losses(out):
    rows = (out / "log.csv").read_text().splitlines()[1:]
    return [float(r.split(",")[2]) for r in rows]


def test_two_process_gloo_matches_single_process_accumulation(tmp_path, no_dropout_encoder):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    ddp = tmp_path / "ddp"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
                          "-m", "spert", "train", *_args(ddp, no_dropout_encoder)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    single = tmp_path / "single"
    res = subprocess.run([sys.executable, "-m", "spert", "train",
                          *_args(single, no_dropout_encoder, grad_accumulation=2)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]

    procs = json.loads((ddp / "processes.json").read_text())
    assert procs["num_processes"] == 2
    sums = procs["weight_sha256_per_process"]
    assert len(sums) == 2 and sums[0] == sums[1]  # both replicas end bit-identical

    a, b = _losses(ddp), _losses(single)
    assert len(a) == len(b) == 8  # 8 documents / (2 x 1) per update x 2 epochs
    assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    wa, wb = load_file(str(ddp / "model" / "model.safetensors")), load_file(str(single / "model" / "model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-3, atol=1e-5)
