"""Where the tests find the project and its benchmark data (shipped in ``data/``)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "data"
CONLL04 = DATASETS / "conll04"
SCIERC = DATASETS / "scierc"
SCIERC_DYGIE = DATASETS / "scierc_dygie"
