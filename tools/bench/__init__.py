"""The benchmarks behind `make bench-*`: each writes its figures to reports/<name>.json."""
