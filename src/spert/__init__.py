"""spert: span-based joint entity and relation extraction (Eberts & Ulges, ECAI 2020)."""

__version__ = "0.1.0"
