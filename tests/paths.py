"""Where the tests find the project and its benchmark data (shipped in ``data/``)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "data"
CONLL04 = DATASETS / "conll04"
SCIERC = DATASETS / "scierc"
SCIERC_DYGIE = DATASETS / "scierc_dygie"


def load_script(name: str):
    """``scripts/NAME.py`` imported as a module (the scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
