import math

import pytest
import torch

from spert.train.optim import (AdamWNoBiasCorrection, linear_schedule, optimizer_state_from_tensors,
                         optimizer_state_tensors, parameter_groups)


def _reference_step(p, g, m, v, lr, wd, decay_first, b1=0.9, b2=0.999, eps=1e-6):
    """AdamW without bias correction. The reference implementation decays after the update."""
    if decay_first:
        p.mul_(1 - lr * wd)
    m.mul_(b1).add_(g, alpha=1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    p.addcdiv_(m, v.sqrt().add_(eps), value=-lr)
    if not decay_first:
        p.add_(p, alpha=-lr * wd)


@pytest.mark.parametrize("lr,decay_first,atol", [(1e-2, True, 1e-12), (5e-5, False, 30 * 5e-5 * 0.01 * 5e-5 * 4)])
def test_adamw_without_bias_correction_matches_reference(lr, decay_first, atol):
    """Exact for the same decay order; within lr*wd*|update| <= 4*lr^2*wd per step of the reference's order."""
    torch.manual_seed(0)
    p_ours = torch.nn.Parameter(torch.randn(50, dtype=torch.float64))
    p_ref = p_ours.detach().clone()
    m, v = torch.zeros_like(p_ref), torch.zeros_like(p_ref)
    opt = AdamWNoBiasCorrection([p_ours], lr=lr, weight_decay=0.01)
    for _ in range(30):
        g = torch.randn(50, dtype=torch.float64)
        p_ours.grad = g.clone()
        opt.step()
        _reference_step(p_ref, g, m, v, lr=lr, wd=0.01, decay_first=decay_first)
    torch.testing.assert_close(p_ours.detach(), p_ref, rtol=0, atol=atol)


def test_bias_correction_is_disabled():
    p_bc = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    p_nbc = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    for p, o in ((p_bc, torch.optim.AdamW([p_bc], lr=1.0, eps=1e-6, weight_decay=0)),
                 (p_nbc, AdamWNoBiasCorrection([p_nbc], lr=1.0, weight_decay=0))):
        p.grad = torch.ones(1, dtype=torch.float64)
        o.step()
    assert p_bc.item() == -1.0 or math.isclose(p_bc.item(), -1.0, rel_tol=1e-5)
    assert math.isclose(p_nbc.item(), -0.1 / math.sqrt(0.001), rel_tol=1e-4)  # m/sqrt(v) uncorrected


def test_schedule_warmup_then_linear_decay():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = AdamWNoBiasCorrection([p], lr=1.0)
    sched = linear_schedule(opt, total_steps=100, warmup=0.1)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = torch.zeros(1)
        opt.step()
        sched.step()
    assert lrs[0] == 0 and math.isclose(lrs[5], 0.5) and math.isclose(lrs[10], 1.0)
    assert math.isclose(lrs[55], 0.5) and math.isclose(lrs[99], 1 / 90)
    assert opt.param_groups[0]["lr"] == 0.0


def test_no_weight_decay_on_bias_and_layernorm():
    model = torch.nn.ModuleDict({"lin": torch.nn.Linear(2, 2), "LayerNorm": torch.nn.LayerNorm(2)})
    decay, no_decay = parameter_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and len(decay["params"]) == 1
    assert no_decay["weight_decay"] == 0.0 and len(no_decay["params"]) == 3


def test_optimizer_state_round_trip_without_pickle():
    p = torch.nn.Parameter(torch.randn(3))
    opt = AdamWNoBiasCorrection([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    tensors, meta = optimizer_state_tensors(opt)
    import json

    meta = json.loads(json.dumps(meta))
    opt2 = AdamWNoBiasCorrection([torch.nn.Parameter(p.detach().clone())], lr=0.1)
    opt2.load_state_dict(optimizer_state_from_tensors(tensors, meta))
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert opt2.param_groups[0]["uncorrected_step"] == 1


def test_clip_grad_norm_matches_torch():
    from spert.train.optim import clip_grad_norm

    torch.manual_seed(0)
    for scale in (0.01, 10.0):  # below and above the threshold
        a = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(3)]
        b = [torch.nn.Parameter(p.detach().clone()) for p in a]
        for p, q in zip(a, b):
            p.grad = torch.randn(5, 3) * scale
            q.grad = p.grad.clone()
        n1 = clip_grad_norm(a, 1.0)
        n2 = torch.nn.utils.clip_grad_norm_(b, 1.0)
        assert n1 == pytest.approx(float(n2))
        for p, q in zip(a, b):
            torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0)
