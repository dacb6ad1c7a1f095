# coupond — `make run` starts a local node with a demo campaign; `make test` runs every test.
# Both install what is missing first (Debian packages via apt-get).

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
APT_PACKAGES := redis-server redis-tools libhiredis-dev libpq-dev postgresql-15 postgresql-client-15 util-linux pkg-config python3 python3-venv librsvg2-bin zbar-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps tools build release run test bench loadtest fuzz clean loadtest-bulk

# Test tools from PyPI, pinned, in a venv: h11 (a strict HTTP/1.1 client) reads every route's
# responses in Tests/IntegrationTests/HostileClientTests.swift.
TOOLS_VENV := .venv-tools
H11_VERSION := 0.16.0

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@# Debian starts services on install where it can; coupond runs its own servers.
	@test -x "$(SWIFT)" || { echo "Swift 6 toolchain not found (looked for $(SWIFT))"; exit 1; }

tools: $(TOOLS_VENV)/.h11-$(H11_VERSION)

$(TOOLS_VENV)/.h11-$(H11_VERSION):
	python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check h11==$(H11_VERSION)
	touch $@

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: build
	./deploy/local/run.sh

test: deps tools
	$(SWIFT) build --build-tests
	@# Serial: several suites assert on timeouts, and blocking tests would starve them of
	@# Swift's cooperative threads on a 2-core machine. About 30 s either way.
	$(SWIFT) test --skip-build --no-parallel

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
