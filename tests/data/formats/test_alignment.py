"""The conversion's promise, over arbitrary character spans: every entity and relation is either
carried over exactly (trimmed of whitespace) or counted as a change."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spert.data.formats import common as C
from spert.data.formats.common import ImportOptions, ImportSummary, SourceDocument, SourceEntity, SourceRelation
from spert.data.formats.alignment import to_records
from spert.data.text import TextTokenizer, is_word

TOKENIZER = TextTokenizer()
ALPHABET = "ab cé.\r\n-😀"
ENTITY_CHANGES = (C.EMPTY_ENTITY, C.DUPLICATE_ENTITY, C.TOO_LONG, C.ENTITY_CUT)
RELATION_CHANGES = (C.RELATION_UNKNOWN_ID, C.RELATION_DROPPED, C.RELATION_SELF, C.RELATION_ACROSS,
                    C.RELATION_ACROSS_WINDOWS, C.DUPLICATE_RELATION)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_item_carried_over_or_counted(data):
    text = data.draw(st.text(ALPHABET, min_size=1, max_size=60))
    n = len(text)
    doc = SourceDocument("doc", text)
    for i in range(data.draw(st.integers(0, 6))):
        a = data.draw(st.integers(0, n - 1))
        b = data.draw(st.integers(a + 1, n))
        doc.entities.append(SourceEntity(f"T{i}", data.draw(st.sampled_from("XY")), ((a, b),), f"T{i}"))
    ids = [e.id for e in doc.entities] + ["T99"]
    for j in range(data.draw(st.integers(0, 5))):
        doc.relations.append(SourceRelation("R", data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids)),
                                            f"R{j}"))
    options = ImportOptions(max_span_size=data.draw(st.integers(1, 4)), documents=data.draw(
        st.sampled_from(["split", "keep"])), max_subwords=data.draw(st.integers(4, 12)))
    summary = ImportSummary()
    result = to_records([doc], options, summary, tokenizer=TOKENIZER, subword_counts=lambda ws: [1] * len(ws))

    carried = set()
    for rec in result.records:
        assert len(rec["tokens"]) + 2 <= options.max_subwords or len(rec["tokens"]) == 1
        for w, (a, b) in zip(rec["tokens"], rec["char_offsets"]):
            assert text[a:b] == w and is_word(w)
        for e in rec["entities"]:
            carried.add((e["type"], rec["char_offsets"][e["start"]][0], rec["char_offsets"][e["end"] - 1][1]))
    changes = summary.changes
    # entities: each source entity is carried (trimmed) or counted
    for e in doc.entities:
        (a, b), = e.fragments
        while a < b and not is_word(text[a]):
            a += 1
        while b > a and not is_word(text[b - 1]):
            b -= 1
        assert (e.type, a, b) in carried or any(x.split()[0] == e.id for r in ENTITY_CHANGES
                                                              for x in summary.examples.get(r, [])) \
            or sum(changes.get(r, 0) for r in ENTITY_CHANGES) > C.MAX_EXAMPLES
    assert summary.entities == len(carried)
    assert summary.entities + sum(changes.get(r, 0) for r in ENTITY_CHANGES) == len(doc.entities)
    assert summary.relations + sum(changes.get(r, 0) for r in RELATION_CHANGES) == len(doc.relations)
