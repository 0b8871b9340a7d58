"""The records a round's two processes share: written and read back the same, in result.json's key order."""

from __future__ import annotations

import json

from spert.integrations.label_studio.jobs import (
    FinetuneFailure,
    FinetuneJob,
    FinetuneResult,
    ImportCounts,
    Progress,
    read_result,
)


def test_a_result_goes_through_its_file_unchanged(tmp_path):
    result = FinetuneResult(candidate_dir="/x/run/model", candidate={"ner": 1}, current=None, same_types=False,
                            has_relations=True, epochs=2, seconds=1.5,
                            counts=ImportCounts(import_summary={"documents": 3}, import_report="3 documents",
                                                summary_path="/x/data/all.summary.json", train_records=2,
                                                held_out_records=1))
    result.write(tmp_path)
    written = json.loads((tmp_path / "result.json").read_text())
    assert list(written) == ["candidate_dir", "candidate", "current", "same_types", "has_relations", "epochs",
                             "seconds", "import", "import_report", "summary_path", "train_records",
                             "held_out_records"]
    assert written["import"] == {"documents": 3}
    assert read_result(tmp_path) == result


def test_a_failure_a_job_and_progress(tmp_path):
    assert read_result(tmp_path) is None and Progress.read(tmp_path) is None
    FinetuneFailure("no annotations").write(tmp_path)
    assert read_result(tmp_path) == FinetuneFailure("no annotations")
    job = FinetuneJob(export="/x/export.json", start_model="/m", held_out=0.25, seed=3, overrides={"epochs": 1})
    job.write(tmp_path)
    assert FinetuneJob.read(tmp_path) == job
    Progress("training", 1, 3).write(tmp_path)
    progress = Progress.read(tmp_path)
    assert progress is not None and {k: progress[k] for k in ("stage", "epoch", "epochs")} == {
        "stage": "training", "epoch": 1, "epochs": 3} and list(progress)[-1] == "at"
