"""scripts/swap_augment.py: the gold sentences then their swapped copies with the labels carried over,
the same sentences `spert distill --silver_swap` draws with that seed."""

import json

import numpy as np
import pytest

from paths import CONLL04, load_script


def test_the_augmented_file_and_the_silver_check(tmp_path, monkeypatch, capsys):
    from spert.data.documents import read_documents, write_records
    from spert.data.schema import load_types
    from spert.data.silver import swap_mentions
    from spert.train.teacher import SILVER_STREAM

    sa = load_script("swap_augment")
    schema = load_types(CONLL04 / "conll04_types.json")
    docs = read_documents(CONLL04 / "conll04_train.json", schema)[:30]
    train, out, silver = tmp_path / "train.json", tmp_path / "aug.json", tmp_path / "silver.json"
    write_records(train, [d.to_json() for d in docs])
    unlabelled = swap_mentions(docs, 2, np.random.default_rng([7, SILVER_STREAM]))  # what the distill run labels
    write_records(silver, [d.to_json() for d in unlabelled])
    argv = ["swap_augment.py", str(train), str(CONLL04 / "conll04_types.json"), str(out), "--copies", "2"]
    monkeypatch.setattr("sys.argv", argv + ["--seed", "7", "--compare-silver", str(silver)])
    sa.main()
    text = capsys.readouterr().out
    written = read_documents(out, schema)
    assert written[:30] == docs and [d.tokens for d in written[30:]] == [d.tokens for d in unlabelled]
    assert sum(len(d.relations) for d in written[30:]) > 0  # labels carried over
    n_e = sum(len(d.entities) for d in written[30:])
    assert f"entities 0 of {n_e} carried over kept (0 the teacher's)" in text  # the "silver" has no labels
    mentions = {(e.type, d.tokens[e.start:e.end]) for d in docs for e in d.entities}
    for d in written[30:]:  # moved right: each carried-over entity's words are a gold mention of its type
        assert all((e.type, d.tokens[e.start:e.end]) in mentions for e in d.entities)
    monkeypatch.setattr("sys.argv", argv + ["--seed", "8", "--compare-silver", str(silver)])
    with pytest.raises(SystemExit, match="not the same sentences"):
        sa.main()
    assert json.loads(out.read_text())  # a SpERT JSON list
