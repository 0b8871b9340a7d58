"""Splitting by document: no document's sentences in two parts, every record placed once."""

import json
import subprocess
import sys

import pytest

from spert.data.split import document_groups, kfold, parse_ratios, split_by_ratios, split_file
from spert.errors import DataError


def _records(doc_sizes):
    """Records of documents of the given sentence counts, each with a doc_id."""
    return [{"tokens": ["w"], "entities": [], "relations": [], "doc_id": f"d{d}", "sentence": s}
            for d, n in enumerate(doc_sizes) for s in range(n)]


def test_groups_by_doc_id_then_orig_id_then_record():
    recs = [{"doc_id": "a"}, {"orig_id": 7}, {"doc_id": "a"}, {}, {"orig_id": 7}, {}]
    assert document_groups(recs) == [[0, 2], [1, 4], [3], [5]]


def test_groups_by_the_document_field_spert_data_import_writes():
    # spert data import names each record's source document in ``document``: a split of imported
    # data must keep a document's sentences together (it once treated every sentence as a document)
    recs = [{"document": "a.txt", "orig_id": 1}, {"document": "b.txt", "orig_id": 2}, {"document": "a.txt", "orig_id": 3}]
    assert document_groups(recs) == [[0, 2], [1]]
    assert document_groups([{"doc_id": "x", "document": "a"}, {"doc_id": "x", "document": "b"}]) == [[0, 1]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ratios_keep_documents_whole_and_place_every_record_once(seed):
    recs = _records([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9])
    parts = split_by_ratios(recs, (0.8, 0.1, 0.1), seed)
    assert [p.name for p in parts] == ["train", "dev", "test"]
    placed = [i for p in parts for i in p.records]
    assert sorted(placed) == list(range(len(recs)))
    for p in parts:
        docs = {recs[i]["doc_id"] for i in p.records}
        others = {recs[i]["doc_id"] for q in parts if q is not p for i in q.records}
        assert p.records and not docs & others
    assert len(parts[0].records) > len(parts[1].records) and len(parts[0].records) > len(parts[2].records)


def test_ratios_are_deterministic_per_seed():
    recs = _records([2] * 30)
    assert split_by_ratios(recs, (0.5, 0.5), 3) == split_by_ratios(recs, (0.5, 0.5), 3)
    assert split_by_ratios(recs, (0.5, 0.5), 3) != split_by_ratios(recs, (0.5, 0.5), 4)


def test_folds_partition_the_documents_evenly():
    recs = _records([1] * 23)
    pairs = kfold(recs, 5, seed=42)
    tests = [set(t.records) for _, t in pairs]
    assert set().union(*tests) == set(range(23)) and sum(len(t) for t in tests) == 23
    assert sorted(len(t) for t in tests) == [4, 4, 5, 5, 5]
    for train, test in pairs:
        assert set(train.records) | set(test.records) == set(range(23))
        assert not set(train.records) & set(test.records)


def test_folds_never_split_a_document():
    recs = _records([5, 1, 1, 4, 2, 2, 3])
    for train, test in kfold(recs, 3, seed=0):
        assert not {recs[i]["doc_id"] for i in train.records} & {recs[i]["doc_id"] for i in test.records}


@pytest.mark.parametrize("text", ["0.8,0.3", "1", "a,b", "0.5,0.25,0.25,0"])
def test_bad_ratios_are_named(text):
    with pytest.raises(DataError, match="--ratios"):
        parse_ratios(text)


def test_too_few_documents():
    with pytest.raises(DataError, match="2 documents cannot make 3 folds"):
        kfold(_records([4, 4]), 3, seed=0)


def test_cli_writes_the_ade_layout(tmp_path):
    src = tmp_path / "all.json"
    src.write_text(json.dumps(_records([1] * 10)))
    res = subprocess.run([sys.executable, "-m", "spert", "data", "split", str(src), "--folds", "3", "-o",
                          str(tmp_path / "out"), "--name", "ade"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    for k in range(3):
        train = json.loads((tmp_path / "out" / f"ade_split_{k}_train.json").read_text())
        test = json.loads((tmp_path / "out" / f"ade_split_{k}_test.json").read_text())
        assert len(train) + len(test) == 10
    manifest = json.loads((tmp_path / "out" / "ade_split.json").read_text())
    assert manifest["folds"] == 3 and manifest["documents"] == 10
    bad = subprocess.run([sys.executable, "-m", "spert", "data", "split", str(src), "-o", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "exactly one of --ratios and --folds" in bad.stderr


def test_split_file_writes_whole_documents_and_the_manifest(tmp_path):
    records = _records([2, 1, 3, 1, 2])
    src = tmp_path / "all.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(DataError, match="--ratios"):
        split_file(src, tmp_path / "bad", ratios="0.8")
    assert not (tmp_path / "bad").exists()  # created only once the split is possible
    written = split_file(src, tmp_path / "out", ratios="0.6,0.2,0.2", seed=1)
    assert [p.name for p in written.parts] == ["all_train.json", "all_dev.json", "all_test.json"]
    placed = []
    for path, part in written.parts.items():
        assert json.loads(path.read_text()) == [records[i] for i in part.records]
        placed += part.records
    assert sorted(placed) == list(range(len(records)))
    manifest = json.loads(written.manifest.read_text())
    assert manifest["ratios"] == [0.6, 0.2, 0.2] and manifest["documents"] == 5 and manifest["sentences"] == 9
