"""greenlight: a Git-native GitOps template for shipping tabular ML models."""

__version__ = "0.1.0"
