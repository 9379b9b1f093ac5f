"""``acav rebuild``: re-create a dataset from a published clip list (see docs/REBUILD.md)."""
