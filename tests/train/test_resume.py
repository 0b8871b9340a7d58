"""The resumable checkpoint: saved and loaded back exactly, refused with changed settings."""

import json

import pytest
import torch

from paths import CONLL04
from spert.errors import SpertError
from spert.model.checkpoint import load_model
from spert.train.config import load_config
from spert.train.optim import AdamWNoBiasCorrection, linear_schedule, parameter_groups
from spert.train.resume import (TrainerState, can_resume, changed_settings, check_can_resume, last_checkpoint,
                                load_checkpoint, save_checkpoint)


def _cfg(**kw):
    return load_config(None, {"train_path": str(CONLL04 / "conll04_train.json"),
                              "types_path": str(CONLL04 / "conll04_types.json"), "lr": 1e-3, **kw})


def _json(cfg):
    return json.loads(cfg.model_dump_json())


def test_settings_that_do_not_change_what_a_run_computes_may_change():
    before = _json(_cfg())
    assert changed_settings(before, _cfg(output_dir="elsewhere", eval_batch_size=64, log_every=1, cpu=True)) == ""
    assert changed_settings(before, _cfg(lr=2e-3, epochs=3)) == "epochs (was 20, now 3), lr (was 0.001, now 0.002)"


def test_a_run_from_before_a_setting_ran_without_it():
    before = {k: v for k, v in _json(_cfg()).items() if k != "pack_sequences"}
    assert changed_settings(before, _cfg()) == "pack_sequences (was False, now True)"
    assert changed_settings(before, _cfg(pack_sequences=False)) == ""
    before = {k: v for k, v in _json(_cfg()).items() if k != "context_words"}  # from before document context
    assert changed_settings(before, _cfg()) == ""
    assert changed_settings(before, _cfg(context_words=50)) == "context_words (was 0, now 50)"
    before = {k: v for k, v in _json(_cfg()).items() if k not in ("context_pooling", "init_model")}
    assert changed_settings(before, _cfg()) == ""
    assert changed_settings(before, _cfg(context_pooling="attention")) == "context_pooling (was 'same', now 'attention')"


def test_every_setting_a_run_may_lack_is_given_the_value_it_ran_with():
    """Runs from before a setting ran with what is now its default, except for the ones whose default
    changed when they came (pack_sequences, compact_embeddings and head_init: the old behaviour)."""
    from spert.train.config import TrainConfig
    from spert.train.resume import BEFORE_SETTING

    assert set(BEFORE_SETTING) <= set(TrainConfig.model_fields)
    changed_default = {"pack_sequences", "compact_embeddings", "head_init"}
    for key, value in BEFORE_SETTING.items():
        if key not in changed_default:
            assert TrainConfig.model_fields[key].default == value, key


def _training(model_dir, lr=1e-3):
    model, tokenizer, _ = load_model(model_dir)
    optimizer = AdamWNoBiasCorrection(parameter_groups(model, 0.01), lr=lr, weight_decay=0.01)
    return model, tokenizer, optimizer, linear_schedule(optimizer, 10, 0.1)


def _step(model, optimizer, scheduler):
    loss = sum((p.float() ** 2).sum() for p in model.parameters() if p.requires_grad)
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


def test_checkpoint_round_trip_continues_exactly(tmp_path, tiny_model_dir):
    cfg = _cfg(output_dir=str(tmp_path))
    assert not can_resume(tmp_path)
    with pytest.raises(SpertError, match="nothing to resume"):
        check_can_resume(tmp_path)

    model, tokenizer, optimizer, scheduler = _training(tiny_model_dir)
    _step(model, optimizer, scheduler)
    state = TrainerState(epoch=1, update=1, best_score=12.5, best_epoch=1)
    torch.manual_seed(7)
    save_checkpoint(last_checkpoint(tmp_path), model, tokenizer, optimizer, scheduler, state, cfg)
    assert can_resume(tmp_path)
    _step(model, optimizer, scheduler)
    expected, draw = {k: v.clone() for k, v in model.state_dict().items()}, torch.rand(3)

    again, _, optimizer2, scheduler2 = _training(tiny_model_dir)
    assert load_checkpoint(last_checkpoint(tmp_path), again, optimizer2, scheduler2, cfg) == state
    assert torch.equal(torch.rand(3), draw)  # the random state comes back too
    _step(again, optimizer2, scheduler2)
    assert all(torch.equal(v, expected[k]) for k, v in again.state_dict().items())
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()

    with pytest.raises(SpertError, match=r"cannot resume with changed settings: lr \(was 0.001, now 0.002\)"):
        load_checkpoint(last_checkpoint(tmp_path), again, optimizer2, scheduler2, cfg.model_copy(update={"lr": 2e-3}))
