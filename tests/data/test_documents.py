"""Every malformed-input case gives one clear message naming file, document and field."""

import json

import pytest

from spert.data.documents import RecordWriter, read_documents, write_records
from spert.errors import DataError
from spert.data.schema import load_types

GOOD = {"tokens": ["John", "works", "for", "IBM", "."],
        "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Org", "start": 3, "end": 4}],
        "relations": [{"type": "Work_For", "head": 0, "tail": 1}]}


def _with(**changes):
    doc = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        obj = doc
        keys = path.split("__")
        for k in keys[:-1]:
            obj = obj[int(k)] if k.isdigit() else obj[k]
        last = keys[-1]
        if value is KeyError:
            del obj[int(last) if last.isdigit() else last]
        else:
            obj[int(last) if last.isdigit() else last] = value
    return doc


CASES = [
    (_with(entities__1__type="Company"), "entities[1].type", "unknown entity type 'Company'"),
    (_with(entities__1__end=9), "entities[1].end", "beyond the 5 tokens"),
    (_with(entities__1__start=-1), "entities[1].start", "out of range"),
    (_with(entities__1__start=3, entities__1__end=3), "entities[1].end", "empty span"),
    (_with(relations__0__tail=2), "relations[0].tail", "entity index 2 is out of range"),
    (_with(relations__0__type="Kills"), "relations[0].type", "unknown relation type 'Kills'"),
    (_with(tokens=KeyError), "tokens", "missing field"),
    (_with(entities__0__start=KeyError), "entities[0].start", "missing field"),
    (_with(relations=KeyError), "relations", "missing field"),
    (_with(tokens="John works"), "tokens", "must be a list of strings"),
    (_with(tokens=["John", 3]), "tokens[1]", "must be a string"),
    (_with(entities__0__start="0"), "entities[0].start", "must be an integer"),
    (_with(entities={"a": 1}), "entities", "must be a list"),
    (_with(tokens=[]), "tokens", "empty token list"),
    (_with(relations__0__head=1), "relations[0]", "head and tail are the same entity"),
]


@pytest.mark.parametrize("doc,field,problem", CASES, ids=[c[1] + ":" + c[2][:20] for c in CASES])
def test_malformed_document(tmp_path, conll04_types, doc, field, problem):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([GOOD, GOOD, doc]))
    with pytest.raises(DataError) as e:
        read_documents(path, load_types(conll04_types))
    msg = str(e.value)
    assert msg.startswith(f"{path}: document 2: field '{field}': ")
    assert problem in msg
    assert "\n" not in msg


def test_duplicate_entity(tmp_path, conll04_types):
    doc = _with()
    doc["entities"].append({"type": "Org", "start": 3, "end": 4})
    path = tmp_path / "dup.json"
    path.write_text(json.dumps([doc]))
    with pytest.raises(DataError, match=r"document 0: field 'entities\[2\]': duplicate entity"):
        read_documents(path, load_types(conll04_types))


def test_jsonl_errors_name_the_line(tmp_path, conll04_types):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + json.dumps(_with(entities__0__type="X")) + "\n")
    with pytest.raises(DataError, match=r"data.jsonl: line 3: document 1: field 'entities\[0\].type'"):
        read_documents(path, load_types(conll04_types))
    path.write_text(json.dumps(GOOD) + "\n{not json\n")
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        read_documents(path, load_types(conll04_types))


def test_jsonl_reads_same_documents(tmp_path, conll04_types):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD) + "\n")
    docs = read_documents(path, load_types(conll04_types))
    assert len(docs) == 2 and docs[0].tokens == tuple(GOOD["tokens"]) and docs[0].relations[0].type == "Work_For"


def test_not_a_list_and_bad_json(tmp_path, conll04_types):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(GOOD))
    with pytest.raises(DataError, match="must be a list of documents"):
        read_documents(path, load_types(conll04_types))
    path.write_text("[{")
    with pytest.raises(DataError, match=r"x.json: not valid JSON \(line 1"):
        read_documents(path, load_types(conll04_types))
    with pytest.raises(DataError, match="file not found"):
        read_documents(tmp_path / "missing.json", load_types(conll04_types))


def test_types_file_errors(tmp_path):
    p = tmp_path / "types.json"
    p.write_text(json.dumps({"entities": {}, "relations": {}}))
    with pytest.raises(DataError, match="field 'entities': at least one entity type"):
        load_types(p)
    p.write_text(json.dumps({"entities": {"A": {}}, "relations": {"r": {"symmetric": "yes"}}}))
    with pytest.raises(DataError, match="field 'relations.r.symmetric'"):
        load_types(p)


def test_symmetric_relation_head_is_earlier_entity(tmp_path):
    types = tmp_path / "t.json"
    types.write_text(json.dumps({"entities": {"A": {}}, "relations": {"Conj": {"symmetric": True}}}))
    doc = {"tokens": list("abcd"), "entities": [{"type": "A", "start": 2, "end": 3},
                                                 {"type": "A", "start": 0, "end": 1}],
           "relations": [{"type": "Conj", "head": 0, "tail": 1}, {"type": "Conj", "head": 1, "tail": 0}]}
    path = tmp_path / "d.json"
    path.write_text(json.dumps([doc]))
    (d,) = read_documents(path, load_types(types))
    assert [(r.head, r.tail) for r in d.relations] == [(1, 0)]  # swapped, duplicate merged


def test_entities_only_dataset(tmp_path):
    types = tmp_path / "t.json"
    types.write_text(json.dumps({"entities": {"A": {"short": "A", "verbose": "A"}}}))
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"tokens": ["x", "y"], "entities": [{"type": "A", "start": 0, "end": 1}]}]))
    (d,) = read_documents(path, load_types(types))
    assert d.relations == ()


def test_benchmark_datasets_load(conll04_types):
    from paths import CONLL04, SCIERC

    assert len(read_documents(CONLL04 / "conll04_test.json", load_types(conll04_types))) == 288
    docs = read_documents(SCIERC / "scierc_test.json", load_types(SCIERC / "scierc_types.json"))
    assert len(docs) == 551


RECORDS = [GOOD, {"tokens": ["Zoë"], "entities": [], "relations": [], "document": "d1"}]


def test_written_records_read_back_in_each_layout(tmp_path, conll04_types):
    types = load_types(conll04_types)
    for name, one_line, expected in (
            ("a.json", False, "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in RECORDS) + "\n]\n"),
            ("b.jsonl", False, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)),
            ("c.json", True, json.dumps(RECORDS, ensure_ascii=False)),
            ("d.jsonl", True, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))):
        write_records(tmp_path / name, RECORDS, one_line=one_line)
        assert (tmp_path / name).read_text(encoding="utf-8") == expected, name  # "Zoë" as is, not escaped
        assert [d.to_json() for d in read_documents(tmp_path / name, types)] == RECORDS


def test_record_writer_leaves_nothing_on_abort_and_writes_an_empty_list(tmp_path, capsys):
    w = RecordWriter(tmp_path / "x.json", jsonl=False)
    w.write(GOOD)
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        write_records(tmp_path / "y.jsonl", (r if r is GOOD else _raise() for r in RECORDS))
    assert list(tmp_path.iterdir()) == []
    write_records(tmp_path / "empty.json", [])
    assert (tmp_path / "empty.json").read_text() == "[\n]\n"
    w = RecordWriter("-", jsonl=True)  # standard output
    w.write_serialised('{"tokens": ["a"]}')
    w.commit()
    assert capsys.readouterr().out == '{"tokens": ["a"]}\n'


def _raise():
    raise RuntimeError("stop")
