"""Ready study files (YAML) that `dse search --study-config NAME` runs as they are."""
