"""classical (planned; see ARCHITECTURE.md)."""
