"""What trains a Candidate: the spiking model and its neurons, quantization-aware training and
measurement, the data sets and the trained weights kept as Optuna artifacts."""
