"""Checkpoint files: atomic writes, and the readers and writers of every checkpoint format
(DESIGN.md section 9). Format packages are imported lazily, inside this subpackage only."""
