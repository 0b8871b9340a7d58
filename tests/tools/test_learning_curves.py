"""scripts/learning_curves.py: runs' eval.csv side by side, per epoch, and a picture of them."""

import pytest
from paths import load_script


def _run(tmp_path, name, rows):
    run = tmp_path / name
    run.mkdir()
    lines = ["epoch,ner_f1,rel_f1,rel_plus_f1"] + [",".join(str(x) for x in r) for r in rows]
    (run / "eval.csv").write_text("\n".join(lines) + "\n")
    return run


def test_runs_side_by_side_per_epoch_with_gaps_and_a_plot(tmp_path):
    lc = load_script("learning_curves")
    small = _run(tmp_path, "small", [(1, 44.5, 8.25, 8.0), (2, 70.0, 40.0, 39.5), (3, 80.0, 55.0, 54.0)])
    base = _run(tmp_path, "base", [(1, 2.7, 0.0, 0.0)])
    by_run = lc.curves([("MiniLM", small), ("mpnet", base)])
    lines = lc.table(by_run).splitlines()
    assert lines[0] == "| epoch | MiniLM NER | MiniLM REL | MiniLM REL+ | mpnet NER | mpnet REL | mpnet REL+ |"
    assert lines[2] == "| 1 | 44.50 | 8.25 | 8.00 | 2.70 | 0.00 | 0.00 |"
    assert lines[4] == "| 3 | 80.00 | 55.00 | 54.00 | - | - | - |"  # the base run has not got there yet
    assert len(lines) == 5
    lc.plot(by_run, tmp_path / "curves.png", "test")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_without_eval_csv_is_named(tmp_path):
    lc = load_script("learning_curves")
    (tmp_path / "bare").mkdir()
    with pytest.raises(SystemExit, match=r"bare/eval.csv: not found \(train with --eval_every 1"):
        lc.curves([("x", tmp_path / "bare")])
