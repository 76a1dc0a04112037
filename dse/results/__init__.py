"""What a study shows: the front (table rows, pareto.json, trials.csv), hypervolume, progress lines,
plots and the HTML report. Torch-free: it reads trials and their stored records only."""
