"""The prediction service: a BentoML 1.4 service over the model bundle, with a request model
derived from the dataset contract, a fast encoder checked against the fitted preprocessor, and a
size-rotated JSON Lines prediction log (format documented in docs/prediction-log.md)."""
