"""Validation: applying models to data (:mod:`.predict`), errors against labels
(:mod:`.evaluate`) with their report and plots (:mod:`.report`, :mod:`.plots`), data-set
summaries, and physical properties (:mod:`.properties`)."""
