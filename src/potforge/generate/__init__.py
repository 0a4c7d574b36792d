"""generate (planned; see ARCHITECTURE.md)."""
