"""active_learning (planned; see ARCHITECTURE.md)."""
