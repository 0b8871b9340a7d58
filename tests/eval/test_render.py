"""HTML views: error classification by hand-made cases, and what headless Chromium shows on the pages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from spert.data.records import Prediction
from spert.errors import DataError
from spert.eval.render import compare, render_comparison, render_predictions

TOKENS = ["John", "Smith", ",", "who", "works", "for", "Acme", "Corp.", "in", "New", "York", ",", "met", "<b>Ann</b>",
          "."]
GOLD = [
    {"tokens": TOKENS,
     "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 6, "end": 8},
                  {"type": "Loc", "start": 9, "end": 11}, {"type": "Peop", "start": 13, "end": 14}],
     "relations": [{"type": "Work_For", "head": 0, "tail": 1}, {"type": "OrgBased_In", "head": 1, "tail": 2},
                   {"type": "Live_In", "head": 3, "tail": 2}]},
    {"tokens": ["The", "University", "of", "Paris", "is", "old", "."],
     "entities": [{"type": "Org", "start": 1, "end": 4}, {"type": "Loc", "start": 3, "end": 4}],
     "relations": [{"type": "OrgBased_In", "head": 0, "tail": 1}]},
]
PRED = [
    {"tokens": TOKENS,
     "entities": [{"type": "Peop", "start": 0, "end": 2, "score": 0.99},  # correct
                  {"type": "Org", "start": 6, "end": 7, "score": 0.8},  # wrong span (gold: Acme Corp.)
                  {"type": "Org", "start": 9, "end": 11, "score": 0.7},  # wrong type (gold: Loc)
                  {"type": "Other", "start": 4, "end": 5, "score": 0.6}],  # spurious; gold <b>Ann</b> missed
     "relations": [{"type": "Work_For", "head": 0, "tail": 1, "score": 0.9},  # wrong entities (Acme vs Acme Corp.)
                   {"type": "Live_In", "head": 0, "tail": 2, "score": 0.55},  # spurious
                   {"type": "OrgBased_In", "head": 2, "tail": 1, "score": 0.45}]},  # spurious
    {"tokens": ["The", "University", "of", "Paris", "is", "old", "."],
     "entities": [{"type": "Org", "start": 1, "end": 4, "score": 0.9}, {"type": "Loc", "start": 3, "end": 4, "score": 0.8},
                  {"type": "Peop", "start": 2, "end": 5, "score": 0.4}],  # crosses the Org: listed, not nested
     "relations": [{"type": "OrgBased_In", "head": 0, "tail": 1, "score": 0.8}]},  # correct
]


def docs(records: list[dict]) -> list[Prediction]:
    return [Prediction.from_json(r, doc=i) for i, r in enumerate(records)]


def doc(entities, relations=()) -> Prediction:
    return Prediction.from_json({"tokens": list("abcdefghij"), "entities": list(entities),
                                 "relations": list(relations)})


def E(t: str, s: int, e: int) -> dict:
    return {"type": t, "start": s, "end": e}


def R(t: str, h: int, tail: int) -> dict:
    return {"type": t, "head": h, "tail": tail}


# -- error classification ------------------------------------------------------------------------


def test_entity_errors():
    gold = doc([E("A", 0, 2), E("B", 3, 4), E("A", 6, 8), E("C", 9, 10)])
    pred = doc([E("A", 0, 2), E("A", 3, 4), E("A", 6, 7), E("B", 4, 6)])
    c = compare(gold, pred)
    assert c.pred_entities == ["correct", "wrong type", "wrong span", "spurious"]
    assert c.gold_entities == ["found", "missed", "missed", "missed"]
    assert c.has_errors


def test_relation_errors():
    ents = [E("A", 0, 1), E("B", 2, 3), E("C", 5, 7)]
    gold = doc(ents, [R("r", 0, 1), R("s", 1, 2), R("t", 0, 2)])
    pred = doc([E("A", 0, 1), E("B", 2, 3), E("C", 5, 6), E("X", 8, 9)],
               [R("r", 0, 1),  # correct
                R("q", 1, 2),  # spurious: no gold relation between B and [5, 6)
                R("s", 1, 2),  # wrong entities: gold s links B to [5, 7), not [5, 6)
                R("u", 0, 1),  # wrong type: gold relates A -> B by r
                R("r", 1, 0),  # reversed
                R("t", 0, 3)])  # spurious
    c = compare(gold, pred)
    assert c.pred_relations == ["correct", "spurious", "wrong entities", "wrong type", "reversed", "spurious"]
    assert c.gold_relations == ["found", "missed", "missed"]


def test_relation_with_wrong_entity_type_is_not_correct():
    gold = doc([E("A", 0, 1), E("B", 2, 3)], [R("r", 0, 1)])
    pred = doc([E("A", 0, 1), E("C", 2, 3)], [R("r", 0, 1)])
    c = compare(gold, pred)
    assert c.pred_relations == ["wrong entities"] and c.gold_relations == ["missed"]


def test_no_errors():
    d = docs(GOLD)[0]
    c = compare(d, d)
    assert not c.has_errors and set(c.pred_entities) == {"correct"} and set(c.gold_relations) == {"found"}


def test_documents_must_line_up():
    gold, pred = docs(GOLD), docs(PRED)
    with pytest.raises(DataError, match="more documents"):
        render_comparison(gold, pred[:1])
    other = docs([dict(PRED[0], tokens=TOKENS[:-1] + ["!"])])
    with pytest.raises(DataError, match="tokens differ"):
        render_comparison(gold[:1], other)


# -- the pages in a browser ----------------------------------------------------------------------


class _Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def own_text(self) -> str:
        """Text without entity labels and error badges: what the highlight covers."""
        return "".join(c if isinstance(c, str) else c.own_text() for c in self.children
                       if isinstance(c, str) or not c.classes & {"entity-tail", "entity-label", "error-badge"})

    def tags(self, tag: str) -> list["_Node"]:
        out = [self] if self.tag == tag else []
        for c in self.children:
            if not isinstance(c, str):
                out += c.tags(tag)
        return out

    def find(self, cls: str) -> list["_Node"]:
        out = [self] if cls in self.classes else []
        for c in self.children:
            if not isinstance(c, str):
                out += c.find(cls)
        return out


class _DomParser(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def browser_dom(page: Path, tmp_path: Path) -> _Node:
    """The DOM that headless Chromium builds from the page (skips only if Chromium is not installed)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); the HTML check needs it")
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", page.resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    parser = _DomParser()
    parser.feed(out.stdout)
    return parser.root


def entity_marks(node: _Node) -> list[tuple[str, str, str]]:
    """(highlighted text, type label, error badge or '') of every highlighted entity."""
    out = []
    for m in node.find("entity"):
        [tail] = [c for c in m.children if not isinstance(c, str) and "entity-tail" in c.classes]
        badge = tail.find("error-badge")
        out.append((m.own_text(), tail.find("entity-label")[0].text(), badge[0].text() if badge else ""))
    return out


def _chip_text(chip: _Node) -> str:
    """An entity chip's text without its type label (a <small> element)."""
    return "".join(c for c in chip.children if isinstance(c, str))


def relation_items(node: _Node) -> list[tuple[str, str, str, str]]:
    """(head text, relation label, tail text, error badge or '') of every listed relation."""
    out = []
    for li in node.find("relation"):
        chips = li.find("chip")
        badge = li.find("error-badge")
        out.append((_chip_text(chips[0]), li.find("relation-label")[0].text(), _chip_text(chips[1]),
                    badge[0].text() if badge else ""))
    return out


def test_predictions_page_in_chromium(tmp_path):
    page = tmp_path / "pred.html"
    page.write_text(render_predictions(docs(PRED), title="My predictions"), encoding="utf-8")
    dom = browser_dom(page, tmp_path)
    assert [n.text() for n in dom.tags("h1")] == ["My predictions"]
    assert "2 documents" in dom.find("stats")[0].text()
    d0, d1 = dom.find("doc")
    assert entity_marks(d0) == [("John Smith", "Peop", ""), ("works", "Other", ""), ("Acme", "Org", ""),
                                ("New York", "Org", "")]
    assert d0.find("text")[0].own_text() == " ".join(TOKENS)  # the whole text, escaped markup shown as text
    assert "<b>Ann</b>" in d0.text() and not [n for n in d0.find("entity") if n.tag == "b"]
    assert relation_items(d0) == [("John Smith", "Work_For", "Acme", ""), ("John Smith", "Live_In", "New York", ""),
                                  ("New York", "OrgBased_In", "Acme", "")]
    # nested entities nest; the crossing one is listed below the text
    outer = [m for m in d1.find("entity") if m.own_text() == "University of Paris"]
    assert outer and [m.own_text() for m in outer[0].find("entity")[1:]] == ["Paris"]
    assert "of Paris is" in d1.find("crossing")[0].text()
    legend = [n.text() for n in dom.find("legend-item")]
    assert legend == ["Loc", "Org", "Other", "Peop"]
    colors = {n.text(): n.attrs["style"] for n in dom.find("legend-item")}
    assert all(m.attrs["style"] == colors[m.attrs["data-type"]] for m in dom.find("entity"))  # colour by type
    assert len(set(colors.values())) == 4


def test_comparison_page_marks_errors_in_chromium(tmp_path):
    page = tmp_path / "cmp.html"
    page.write_text(render_comparison(docs(GOLD), docs(PRED)), encoding="utf-8")
    dom = browser_dom(page, tmp_path)
    d0 = dom.find("doc")[0]
    gold, pred = d0.find("gold")[0], d0.find("pred")[0]
    assert entity_marks(gold) == [("John Smith", "Peop", ""), ("Acme Corp.", "Org", "missed"),
                                  ("New York", "Loc", "missed"), ("<b>Ann</b>", "Peop", "missed")]
    assert entity_marks(pred) == [("John Smith", "Peop", ""), ("works", "Other", "spurious"),
                                  ("Acme", "Org", "wrong span"), ("New York", "Org", "wrong type")]
    assert relation_items(gold) == [("John Smith", "Work_For", "Acme Corp.", "missed"),
                                    ("Acme Corp.", "OrgBased_In", "New York", "missed"),
                                    ("<b>Ann</b>", "Live_In", "New York", "missed")]
    assert relation_items(pred) == [("John Smith", "Work_For", "Acme", "wrong entities"),
                                    ("John Smith", "Live_In", "New York", "spurious"),
                                    ("New York", "OrgBased_In", "Acme", "spurious")]
    # the error classes carry the visual marking
    assert {"status-wrong-span", "entity"} <= [m for m in pred.find("entity") if m.own_text() == "Acme"][0].classes
    d1 = dom.find("doc")[1]
    assert relation_items(d1.find("pred")[0]) == [("University of Paris", "OrgBased_In", "Paris", "")]
    assert "wrong span" in d1.find("crossing")[0].text()
    # summary over all documents: NER 3 correct of 7 predicted, 3 found of 6 gold
    ents = dom.find("summary-entities")[0]
    cells = [c.text() for c in ents.children if not isinstance(c, str)]
    assert cells[:5] == ["entities", "42.86", "50.00", "46.15", "3"]


def test_render_cli_with_gold_and_errors_only(tmp_path, monkeypatch):
    from spert.cli import main

    gold, pred = tmp_path / "gold.json", tmp_path / "pred.jsonl"
    gold.write_text(json.dumps(GOLD))
    pred.write_text("\n".join(json.dumps(p) for p in [PRED[0], GOLD[1]]) + "\n")
    page = tmp_path / "page.html"
    monkeypatch.setattr(sys, "argv", ["spert", "render", str(pred), "--gold", str(gold), "-o", str(page),
                                      "--errors-only"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code in (0, None)
    html = page.read_text(encoding="utf-8")
    assert 'id="doc-0"' in html and 'id="doc-1"' not in html  # document 1 has no errors
    assert "(1 shown: those with errors)" in html


def test_page_is_self_contained():
    html = render_predictions(docs(PRED))
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.startswith("<!DOCTYPE html>")
