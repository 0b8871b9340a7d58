"""spert: span-based joint entity and relation extraction (Eberts & Ulges, ECAI 2020)."""

__version__ = "0.1.0"

__all__ = ["SpERT", "__version__"]


def __getattr__(name: str):
    # ``from spert import SpERT`` without importing torch at ``import spert`` time
    if name == "SpERT":
        from spert.infer.extractor import SpERT

        return SpERT
    raise AttributeError(f"module 'spert' has no attribute {name!r}")
