"""linker_tui: link online appointment requests to appointments that already exist in the PMS."""

__version__ = "0.1.0"
