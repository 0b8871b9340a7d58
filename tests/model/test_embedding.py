"""Training only the training vocabulary's embedding rows equals the dense update (up to rounding)."""

import copy

import pytest
import torch
from torch import nn

from spert.model.embedding import TrainVocabEmbedding, attach, restrict_to_training_vocabulary, unrestrict
from spert.train.optim import AdamWNoBiasCorrection, parameter_groups


class Tiny(nn.Module):
    """An embedding and a head, shaped like an encoder for the helpers."""

    def __init__(self, V=50, H=8, padding_idx=0):
        super().__init__()
        self.emb = nn.Embedding(V, H, padding_idx=padding_idx)
        self.head = nn.Linear(H, 3)

    def get_input_embeddings(self):
        return self.emb

    def set_input_embeddings(self, value):
        self.emb = value

    def forward(self, ids):
        return self.head(self.emb(ids)).pow(2).mean()


def _train(model, batches, compact=None, steps_lr=1e-2):
    opt = AdamWNoBiasCorrection(parameter_groups(model, 0.1), lr=steps_lr, weight_decay=0.1)
    if compact is not None:
        attach(compact, opt)
    for ids in batches:
        model(ids).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return opt


@pytest.mark.parametrize("plain_adamw_first", [False, True])
def test_compact_training_equals_dense_update(plain_adamw_first):
    if plain_adamw_first:
        # a plain AdamW built earlier in the process makes PyTorch wrap AdamW.step too, so the
        # post-step hooks of our subclass run twice per step: the decay must still count once
        p = nn.Parameter(torch.zeros(1))
        p.grad = torch.ones(1)
        torch.optim.AdamW([p]).step()
    torch.manual_seed(0)
    dense = Tiny()
    compact_model = copy.deepcopy(dense)
    vocab = torch.tensor([0, 3, 4, 7, 9, 20])
    g = torch.Generator().manual_seed(1)
    batches = [vocab[torch.randint(0, len(vocab), (2, 5), generator=g)] for _ in range(12)]
    compact = restrict_to_training_vocabulary(compact_model, vocab)
    assert isinstance(compact, TrainVocabEmbedding) and compact.train_weight.shape == (6, 8)
    _train(dense, batches)
    _train(compact_model, batches, compact)

    w_dense, w_compact = dense.state_dict()["emb.weight"], compact_model.state_dict()["emb.weight"]
    torch.testing.assert_close(w_compact[vocab], w_dense[vocab], rtol=1e-6, atol=1e-7)
    outside = torch.ones(50, dtype=torch.bool)
    outside[vocab] = False
    # rows outside got exactly their weight decay, once as a product instead of step by step
    torch.testing.assert_close(w_compact[outside], w_dense[outside], rtol=1e-6, atol=0)
    torch.testing.assert_close(compact_model.state_dict()["head.weight"], dense.state_dict()["head.weight"],
                               rtol=1e-6, atol=1e-7)


def test_rows_outside_decay_and_state_dict_is_a_plain_embedding():
    torch.manual_seed(0)
    model = Tiny()
    before = model.emb.weight.detach().clone()
    compact = restrict_to_training_vocabulary(model, [3, 4])
    _train(model, [torch.tensor([[3, 4]])] * 3, compact)
    sd = model.state_dict()
    assert set(sd) == {"emb.weight", "head.weight", "head.bias"} and sd["emb.weight"].shape == (50, 8)
    lr_wd = [1e-2 * 0.1] * 3  # constant lr: three decays of (1 - lr * wd)
    factor = torch.tensor(lr_wd, dtype=torch.float64).neg().add(1).prod().item()
    torch.testing.assert_close(sd["emb.weight"][10], before[10] * factor)
    assert not torch.allclose(sd["emb.weight"][3], before[3] * factor)  # trained row moved by Adam

    fresh = Tiny()
    fresh_compact = restrict_to_training_vocabulary(fresh, [3, 4])
    fresh.load_state_dict(sd)  # loads into the compact form
    torch.testing.assert_close(fresh_compact.weight, sd["emb.weight"])
    unrestrict(model)
    assert type(model.emb) is nn.Embedding and model.emb.padding_idx == 0
    torch.testing.assert_close(model.emb.weight.detach(), sd["emb.weight"])
    assert compact.decay < 1.0


def test_fold_keeps_the_weights():
    torch.manual_seed(0)
    model = Tiny()
    compact = restrict_to_training_vocabulary(model, [3, 4])
    _train(model, [torch.tensor([[3, 4]])] * 2, compact)
    w = compact.weight.clone()
    assert compact.decay < 1.0
    compact.fold()
    assert compact.decay == 1.0
    torch.testing.assert_close(compact.weight, w, rtol=0, atol=0)


def test_training_forward_rejects_tokens_outside_the_vocabulary_but_inference_takes_them():
    torch.manual_seed(0)
    model = Tiny()
    full = model.emb.weight.detach().clone()
    restrict_to_training_vocabulary(model, [3, 4])
    with pytest.raises(ValueError, match="outside the training vocabulary"):
        model(torch.tensor([[3, 5]]))
    with torch.no_grad():
        torch.testing.assert_close(model.emb(torch.tensor([5, 3])), full[[5, 3]])


def test_padding_row_gets_no_gradient():
    torch.manual_seed(0)
    model = Tiny(padding_idx=0)
    compact = restrict_to_training_vocabulary(model, [3])  # the padding row joins the trained rows
    model(torch.tensor([[3, 0, 0]])).backward()
    pad_row = int(compact.lookup[0])
    assert pad_row >= 0 and torch.count_nonzero(compact.train_weight.grad[pad_row]) == 0
    assert torch.count_nonzero(compact.train_weight.grad[int(compact.lookup[3])]) > 0


def test_frozen_embedding_is_left_alone():
    model = Tiny()
    model.emb.weight.requires_grad_(False)
    assert restrict_to_training_vocabulary(model, [1, 2]) is None
    assert type(model.emb) is nn.Embedding
