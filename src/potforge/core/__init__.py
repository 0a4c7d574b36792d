"""Core: what every layer uses and that imports nothing else of potforge — units, the error
tree, configuration schemas, neighbour lists, atomic writes, chemical elements, crystal
structures and strains, error metrics, provenance (``__version__``) and lazily loaded
modules (PyTorch)."""
