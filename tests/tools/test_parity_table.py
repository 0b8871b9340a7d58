"""scripts/parity_table.py: the authors' eval_valid.csv columns map onto ours (REL+ is their rel_nec)."""

import json

from paths import load_script


def test_ours_and_the_authors_side_by_side(tmp_path):
    pt = load_script("parity_table")
    ours = tmp_path / "ours_s42"
    ours.mkdir()
    metrics = {t: {"micro": {"f1": f}, "macro": {"f1": f - 1}} for t, f in (("ner", 80.0), ("rel", 50.0),
                                                                            ("rel_plus", 40.0))}
    (ours / "metrics.json").write_text(json.dumps(metrics))
    run = tmp_path / "log" / "label" / "2026-12-01_13:22:10"
    run.mkdir(parents=True)
    header = [f"{t}_{m}_{a}" for t in ("ner", "rel", "rel_nec") for a in ("micro", "macro")
              for m in ("prec", "rec", "f1")] + ["epoch", "iteration", "global_iteration"]
    first = ["0"] * 18 + ["0", "0", "0"]  # an earlier evaluation: the last row counts
    last = [str(x) for t in (81, 51, 42) for x in (0, 0, t, 0, 0, t - 2)] + ["4", "100", "400"]
    (run / "eval_valid.csv").write_text("\n".join(";".join(r) for r in (header, first, last)) + "\n")
    assert pt.scores(ours) == [80.0, 79.0, 50.0, 49.0, 40.0, 39.0]
    assert pt.scores(run.parent) == [81.0, 79.0, 51.0, 49.0, 42.0, 40.0]  # a label's folder: its last run
    text = pt.table([("ours", [ours, ours]), ("authors", [run])])
    assert "| **ours, mean (std)** | 80.00 (0.00) |" in text and "| **authors, mean (std)** | 81.00 |" in text
