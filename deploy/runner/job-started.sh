#!/usr/bin/env bash
# The runner's job-started hook (the runner takes .sh or .ps1 hooks): the check itself is the
# standard-library Python script beside this file. In the runner's .env:
#   ACTIONS_RUNNER_HOOK_JOB_STARTED=/opt/greenlight-runner/job-started.sh
# A non-zero exit fails the job before any of its steps runs.
set -euo pipefail
exec python3 "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/job-started.py"
