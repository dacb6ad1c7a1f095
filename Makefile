# coupond — `make run` starts a local node with a demo campaign; `make test` runs every test.
# Both install what is missing first (Debian packages via apt-get).

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
APT_PACKAGES := redis-server redis-tools libhiredis-dev libpq-dev postgresql-15 postgresql-client-15 util-linux pkg-config python3 python3-venv librsvg2-bin zbar-tools haproxy curl bc
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps tools build release run test bench loadtest fuzz chaos clean loadtest-bulk cluster k8s-validate

# Test tools from PyPI, pinned, in a venv: h11 (a strict HTTP/1.1 client) reads every route's
# responses in Tests/IntegrationTests/HostileClientTests.swift.
TOOLS_VENV := .venv-tools
H11_VERSION := 0.16.0
# openapi-spec-validator checks Sources/CouponService/openapi.yaml against the OpenAPI 3.1 schema
# (Tests/IntegrationTests/OpenAPIRouteTests.swift).
OPENAPI_VALIDATOR_VERSION := 0.7.1
# kubernetes-validate checks deploy/k8s/ against the Kubernetes schemas it ships (offline).
KUBERNETES_VALIDATE_VERSION := 1.37.0

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@# Debian starts services on install where it can; coupond runs its own servers.
	@test -x "$(SWIFT)" || { echo "Swift 6 toolchain not found (looked for $(SWIFT))"; exit 1; }

tools: $(TOOLS_VENV)/.h11-$(H11_VERSION)-osv-$(OPENAPI_VALIDATOR_VERSION) $(TOOLS_VENV)/.kubernetes-validate-$(KUBERNETES_VALIDATE_VERSION)

$(TOOLS_VENV)/.h11-$(H11_VERSION)-osv-$(OPENAPI_VALIDATOR_VERSION):
	python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check h11==$(H11_VERSION) \
	  openapi-spec-validator==$(OPENAPI_VALIDATOR_VERSION)
	touch $@

$(TOOLS_VENV)/.kubernetes-validate-$(KUBERNETES_VALIDATE_VERSION):
	test -x $(TOOLS_VENV)/bin/pip || python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)
	touch $@

# The K8s manifests (issue 10 §3) against the Kubernetes 1.37 schemas, strictly (unknown fields
# fail); a deliberately broken manifest must fail, so a validator that passes anything cannot.
k8s-validate: tools
	$(TOOLS_VENV)/bin/kubernetes-validate --strict --quiet deploy/k8s/*.yaml
	@if $(TOOLS_VENV)/bin/kubernetes-validate --strict --quiet Tests/k8s/invalid-deployment.yaml >/dev/null 2>&1; then \
	  echo "kubernetes-validate accepted Tests/k8s/invalid-deployment.yaml"; exit 1; fi
	@echo "deploy/k8s: every manifest validates; the broken one is refused"

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: build
	./deploy/local/run.sh

# A local distributed coupond (issue 10 §3): 3-master Redis Cluster, PostgreSQL, two nodes,
# HAProxy in front on one port (COUPOND_CLUSTER_PORT, 8090 or a free one). Ctrl-C stops it all.
cluster: build
	./deploy/local/cluster.sh

test: deps tools
	$(SWIFT) build --build-tests
	@# Serial: several suites assert on timeouts, and blocking tests would starve them of
	@# Swift's cooperative threads on a 2-core machine. About 30 s either way.
	$(SWIFT) test --skip-build --no-parallel
	$(MAKE) --no-print-directory k8s-validate
	./deploy/local/cluster-check.sh

# Redis Cluster at full size (issue 9 §2): 2 nodes, 64 connections, 50,000 claims from 10,000
# users on three campaigns on three masters, stock 5,000 each, with and without a slot migration
# mid-load. `make test` runs the same shape at 9,000 claims. About a minute.
# Sharded hot campaigns (issue 10 §1): the same shape on one campaign of `shards: 3` (with and
# without a shard's slot migrating), and a node dying between a stock transfer's debit and
# credit 20 times (ShardTransferKillTests, only here). About two more minutes.
# Then failover (issue 10 §2): CLUSTER FAILOVER FORCE mid-load on a fresh 3+3 cluster, acknowledged
# grants lost with and without --redis-wait-replicas 1 (about 20 s per mode), and the wait's
# same-run cost (about 25 s).
chaos: deps
	$(SWIFT) build --build-tests
	COUPOND_CLUSTER_FULL=1 $(SWIFT) test --skip-build --no-parallel --filter 'ClusterLoadTests|ShardedCampaignTests|ShardTransferKillTests'
	COUPOND_FAILOVER=1 $(SWIFT) test --skip-build --no-parallel --filter FailoverTests

bench: release
	./Benchmarks/run.sh

loadtest: release
	./load-tests/run.sh
	./load-tests/bulk-job.sh

# Bulk grant jobs alone (issue 12): 1M lines, two node kills, same-run claims/s, claim p99.
loadtest-bulk: release
	./load-tests/bulk-job.sh

fuzz: release
	./load-tests/api-fuzz.sh

clean:
	rm -rf .build

# Campaign console browser tests (issue 14): Debian's chromium + chromium-driver, Selenium from
# PyPI pinned in its own venv (4.52 needs a certifi newer than the mirror has). Idempotent.
CONSOLE_APT := chromium chromium-driver python3-venv
CONSOLE_VENV := .venv-console
SELENIUM_VERSION := 4.51.0

.PHONY: console-tools
console-tools: $(CONSOLE_VENV)/.selenium-$(SELENIUM_VERSION)
	@missing=""; for p in $(CONSOLE_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(CONSOLE_VENV)/.selenium-$(SELENIUM_VERSION):
	@dpkg -s python3-venv >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	python3 -m venv $(CONSOLE_VENV)
	$(CONSOLE_VENV)/bin/pip install --quiet --disable-pip-version-check selenium==$(SELENIUM_VERSION)
	touch $@

# The browser test (Tests/IntegrationTests/ConsoleBrowserTests.swift) needs them.
test: console-tools

# Node efficiency and tail latency (issue 15): Debian wrk, nginx-light (the static-200
# baseline), linux-perf and valgrind (callgrind instruction counts), installed on demand; the
# LD_PRELOAD allocation counter built from Benchmarks/efficiency/malloccount.c. Not part of
# `make test`.
BENCH_APT := wrk nginx-light
PROFILE_APT := linux-perf wrk valgrind
.PHONY: bench-tools profile-tools profile efficiency malloccount alloc-sites parser-instructions

bench-tools:
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

profile-tools:
	@missing=""; for p in $(PROFILE_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

malloccount: .build/malloccount.so

.build/malloccount.so: Benchmarks/efficiency/malloccount.c
	mkdir -p .build
	cc -O2 -shared -fPIC -o $@ $< -lpthread

# perf flame graph of the claim path → Benchmarks/efficiency/flamegraph.svg (+ top symbols).
profile: release profile-tools
	./Benchmarks/efficiency/profile.sh

# Where the claim path allocates (malloc uprobe, by nearest coupond frame; needs root).
alloc-sites: release profile-tools
	./Benchmarks/efficiency/alloc-sites.sh

# Instructions per claim request, HTTPRequestParser vs the copy-and-scan baseline (callgrind).
parser-instructions: profile-tools
	sh Benchmarks/parser-instructions.sh

# CPU per claim vs nginx, allocations per claim, open-loop p99 with the flusher on and off.
efficiency: release bench-tools malloccount
	./Benchmarks/efficiency/cpu-vs-nginx.sh
	./Benchmarks/efficiency/allocations.sh
	./Benchmarks/efficiency/tail-latency.sh
