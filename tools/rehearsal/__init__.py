"""`make rehearse`: the real `.github/workflows/*.yml` run with act on this machine, against local
stand-ins for GitHub (REST API, origin, artifacts, hosted actions) and an S3 team remote."""
