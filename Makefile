# Warren. `make test` is what CI runs (.ci/run); all targets expect a Debian
# or Ubuntu host, and test/run/bench need root (namespaces, cgroups, mounts).

SWIFT   ?= swift
RUNTIME ?= provided.al2023 python3.11

# Build and test dependencies: libseccomp and libcap headers for the sandbox,
# libc6-dev for the static probe/init/bench payloads (cc -static), busybox and
# libc6 .debs come from apt for the rootfs, python3-pip fetches the python3.11
# rootfs's wheels (awslambdaric), bubblewrap is the benchmark's peer.
DEPS     := libseccomp-dev libcap-dev pkg-config libc6-dev gcc busybox-static bubblewrap ca-certificates python3-pip
OPT_DEPS := hyperfine
# The integration suite's clients (PyPI): the real boto3 and aws CLI.
PY_DEPS  := boto3 awscli pytest pytest-timeout
PYTHON   ?= python3

# Targets run their steps in the order written, even under -j.
.NOTPARALLEL:
.PHONY: deps pydeps resolve build rootfs test run bench soak clean

deps:
	@installed() { dpkg -s "$$1" 2>/dev/null | grep -q '^Status: install ok installed'; }; \
	missing=""; for p in $(DEPS); do installed "$$p" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make deps: missing packages:$$missing (run 'sudo make deps')" >&2; exit 1; fi; \
	echo "make deps: installing$$missing"; \
	apt-get update -q; \
	for p in $(OPT_DEPS); do installed "$$p" || ! apt-cache show "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

pydeps:
	$(PYTHON) -m pip install -q --disable-pip-version-check $(PY_DEPS)

# Fetches the packages first, once more if SwiftPM itself fails: on a fresh clone it has crashed
# (SIGSEGV in libdispatch) while fetching from its cache, before compiling anything. A real
# resolution error fails both times.
resolve:
	@$(SWIFT) package resolve || { echo "make: swift package resolve failed; once more" >&2; $(SWIFT) package resolve; }

build: resolve
	$(SWIFT) build

rootfs:
	@set -e; for r in $(RUNTIME); do \
	  echo "bash rootfs/build.sh $$r rootfs/out/$$r"; bash rootfs/build.sh "$$r" "rootfs/out/$$r"; \
	done

test:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "make test: must run as root (the sandbox tests create namespaces, cgroups and mounts); try 'sudo make test'" >&2; \
	  exit 1; \
	fi
	@$(MAKE) --no-print-directory deps pydeps rootfs resolve
	$(SWIFT) build
	$(SWIFT) test
	WARREN_BIN=$(CURDIR)/.build/debug/warren $(PYTHON) -m pytest -q -p no:cacheprovider Tests/integration

run: deps rootfs build
	.build/debug/warren serve --state-dir ./.warren --listen 127.0.0.1:9000

# Clients racing each other on shared functions for SOAK_SECONDS (Tests/soak/soak.py).
SOAK_SECONDS ?= 300
soak: deps pydeps rootfs build
	WARREN_BIN=$(CURDIR)/.build/debug/warren $(PYTHON) Tests/soak/soak.py --seconds $(SOAK_SECONDS)

bench: deps rootfs resolve
	$(SWIFT) build -c release --product warren-bench
	$(SWIFT) build -c release --product warren
	.build/release/warren-bench

clean:
	rm -rf .build rootfs/out .warren
