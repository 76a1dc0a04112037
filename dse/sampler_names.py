"""Names of the samplers `--sampler` and study files accept (kept free of heavy imports for the CLI)."""

SAMPLERS = ("tpe", "nsga2", "nsga3", "gp", "random")
