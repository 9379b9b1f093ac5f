"""Shared core used by every stage: data layout, file I/O, safe unpickling, device choice,
logging/progress and configuration. Stage logic lives in the stage subpackages, never here."""
