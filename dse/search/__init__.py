"""The search: settings, study opening and fingerprint, the trial runner, storages, workers, samplers,
early stopping, front verification, budgets and study files. Import the modules themselves
(`dse.search.runner`, ...): this package imports nothing, so a light module stays light."""
