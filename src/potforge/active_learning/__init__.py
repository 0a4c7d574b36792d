"""The explore → select → label → retrain loop (not written yet: issue 16; see
../shared/ARCHITECTURE.md)."""
