"""electrostatics (planned; see ARCHITECTURE.md)."""
