"""Training, written once for every model family against its trainable form
(:class:`~potforge.models.trainable.TrainableModel`): the config's training sections
(:mod:`.config`), the data it names (:mod:`.data`), the maximum-likelihood loss (:mod:`.loss`),
the optimizers (:mod:`.optimizers`), the loop with early stopping, checkpoints and exact
resume (:mod:`.trainer`), the run and its output directory (:mod:`.fit`, :mod:`.run_files`),
and leave-group-out cross-validation and learning curves (:mod:`.crossval`)."""
