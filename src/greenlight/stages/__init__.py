"""One module per pipeline stage; each has a `run` that the CLI (and so dvc.yaml) calls."""
