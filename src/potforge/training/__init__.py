"""training (planned; see ARCHITECTURE.md)."""
