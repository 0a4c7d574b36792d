"""3G and 4G HDNNPs (issue 14): charge networks, charge equilibration, electrostatics."""
