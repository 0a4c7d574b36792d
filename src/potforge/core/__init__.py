"""Core: units, errors, neighbour lists, atomic writes (imports nothing else of potforge)."""
