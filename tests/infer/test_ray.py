"""Batch prediction on a local Ray with two CPU actors: the same records, in the same order, and the
same handling of bad lines, as single-process ``spert predict``."""

from __future__ import annotations

import json

import pytest

from spert.errors import SpertError
from spert.infer.extractor import SpERT
from spert.infer.ray import RaySettings, predict_on_ray
from spert.infer.options import PredictOptions
from spert.infer.stream import StreamSpec, run_predict

ray = pytest.importorskip("ray")  # the ray extra; installed in CI by scripts/setup.sh

GOOD = ["John Smith works for Acme Corp. in New York.", "Zoë met José in Zürich.", "He was born in London!",
        "Ada Lovelace met Charles Babbage in London in 1833.", "Acme hired Jane Doe."]


@pytest.fixture(scope="module")
def local_ray():
    """One Ray for the module: two CPUs, no dashboard (start-up ~10 s)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture
def jsonl_with_bad_lines(tmp_path):
    lines = []
    for i in range(30):
        lines.append(json.dumps({"id": i, "text": GOOD[i % len(GOOD)] * (1 + i % 3)}))
        if i == 7:
            lines.append("{not json")
        if i == 19:
            lines.append(json.dumps({"id": "no text"}))
        if i == 23:
            lines.append("")  # blank: skipped silently, as single-process predict does
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ray_output_equals_single_process(local_ray, tiny_model_dir, jsonl_with_bad_lines, tmp_path):
    single, distributed = tmp_path / "single.jsonl", tmp_path / "ray.jsonl"
    options = PredictOptions(chunk_size=7)
    s1 = run_predict(SpERT.load(tiny_model_dir), StreamSpec(str(jsonl_with_bad_lines), str(single), skip_errors=True),
                     options, progress=False)
    s2 = predict_on_ray(tiny_model_dir, StreamSpec(str(jsonl_with_bad_lines), str(distributed), skip_errors=True),
                        RaySettings(actors=2), options)
    assert distributed.read_bytes() == single.read_bytes()
    records = [json.loads(x) for x in distributed.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == list(range(30))  # input order, every good line
    assert (s2.documents, s2.skipped, s2.skipped_lines) == (s1.documents, s1.skipped, s1.skipped_lines) == \
        (30, 2, [9, 22])  # bad lines reported, not lost


def test_ray_stops_at_the_first_bad_line_like_single_process(local_ray, tiny_model_dir, jsonl_with_bad_lines,
                                                              tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(SpertError) as single:
        run_predict(SpERT.load(tiny_model_dir), StreamSpec(str(jsonl_with_bad_lines), str(out)), progress=False)
    with pytest.raises(SpertError) as distributed:
        predict_on_ray(tiny_model_dir, StreamSpec(str(jsonl_with_bad_lines), str(out)), RaySettings(actors=2))
    assert str(distributed.value) == str(single.value) and "line 9" in str(single.value)
    assert not out.exists()  # nothing half-written
