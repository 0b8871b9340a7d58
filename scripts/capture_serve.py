"""The served answers for scripts/capture_outputs.sh: POST /v1/extract and /v1/relations, and a
Label Studio /predict, through the ASGI app (no port), written as JSON for a byte-for-byte diff.

    python scripts/capture_serve.py MODEL_DIR OUT_DIR

Only the public entry points are used (create_app and ServeSettings from a dict), so the same
script runs on trees before and after a change that moves modules: the application with the Label
Studio backend is spert.integrations.label_studio.mount.create_app's since issue 25, and
spert.serve.server.create_app's before.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from spert.serve.settings import ServeSettings

try:
    from spert.integrations.label_studio.mount import create_app
except ImportError:  # a tree before issue 25
    from spert.serve.server import create_app

TEXTS = ["John Smith works for Acme Corp. in New York.", "Ada Lovelace was born in London.",
         "Marie Curie lived in Paris, France, with Pierre Curie.", ""]


def label_config(types: dict) -> str:
    return ("<View><Labels name=\"label\" toName=\"text\">"
            + "".join(f"<Label value=\"{t}\"/>" for t in types["entities"])
            + "</Labels><Text name=\"text\" value=\"$text\"/><Relations>"
            + "".join(f"<Relation value=\"{t}\"/>" for t in types["relations"])
            + "</Relations></View>")


def main(model: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    types = json.loads((Path("data/conll04/conll04_types.json")).read_text())
    with tempfile.TemporaryDirectory() as versions:
        settings = ServeSettings.model_validate({"model": str(model), "label_studio": {"versions_dir": versions}})
        with TestClient(create_app(settings)) as client:
            answers = {
                "extract_texts": client.post("/v1/extract", json={"texts": TEXTS}),
                "extract_threshold": client.post("/v1/extract", json={"texts": TEXTS[:2], "rel_filter_threshold": 0.1,
                                                                      "no_overlap": True}),
                "extract_tokens": client.post("/v1/extract", json={"tokens": TEXTS[0].split()}),
                "relations": client.post("/v1/relations", json={"documents": [{
                    "text": "Ada lives in London.",
                    "entities": [{"type": "Peop", "char_start": 0, "char_end": 3},
                                 {"type": "Loc", "char_start": 13, "char_end": 19}]}]}),
                "extract_invalid": client.post("/v1/extract", json={"texts": ["a", 5]}),
                "label_studio_predict": client.post("/label-studio/predict", json={
                    "tasks": [{"id": i + 1, "data": {"text": t}} for i, t in enumerate(TEXTS[:3])],
                    "model_version": None, "project": "7.1700000000", "label_config": label_config(types),
                    "params": {"context": {}}}),
            }
    for name, r in answers.items():
        (out / f"{name}.json").write_text(f"{r.status_code}\n" + json.dumps(r.json(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
