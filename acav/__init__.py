"""ACAV: curate audio-visual video datasets (a reproduction of the ACAV100M pipeline)."""

__version__ = "0.1.0"
