# Yibiao — the two commands a newcomer needs: `make demo` and `make test`.
SWIFT ?= swift
YIBIAO := .build/debug/yibiao
# Tests and the demo run their own PostgreSQL; nothing else on the machine is touched.
export YIBIAO_HOME ?= $(CURDIR)/.yibiao

.PHONY: all setup build embed test demo bench bench-peers district fuzz contract clean help format format-check

all: build

help:
	@echo "make demo   build, start the embedded PostgreSQL, migrate, show the status"
	@echo "make test   build and run every test against a real, throwaway PostgreSQL"
	@echo "make bench  release build and benchmarks (figures and ratios)"
	@echo "make bench district   the whole pipeline on a 200,000-resident district beside a raw COPY (DISTRICT_RESIDENTS to change)"
	@echo "make bench-peers  matching quality and time beside Splink (PyPI, in .build/peers-venv) on FEBRL 3, FEBRL 4 and a synthetic district"
	@echo "make setup  install missing Debian packages and build"
	@echo "make contract  schemathesis (PyPI) against schemas/openapi.yaml for CONTRACT_EXAMPLES (default 500) cases per operation; a short run is in make test"
	@echo "make fuzz   mutate the readers' seed corpus for FUZZ_SECONDS (default 300) per run; a short seeded run is in make test"
	@echo "make format apply .swift-format to Sources and Tests (CI checks it)"
	@echo "make clean  remove build output and local state (.yibiao)"

setup:
	@scripts/setup.sh
	@$(MAKE) --no-print-directory build

embed:
	@scripts/embed-data.sh

build: embed
	$(SWIFT) build --build-tests

# The watchdog ends a run that stopped making progress (stacks in .build/test-stalls/) and
# runs the suites that had not passed once more; see scripts/test-watchdog.py.
test: setup format-check
	@SWIFT=$(SWIFT) scripts/test-watchdog.py
	@scripts/contract.sh

# The API against its OpenAPI spec for longer (schemathesis; make test runs 25 examples per operation).
CONTRACT_EXAMPLES ?= 500
contract: build
	@CONTRACT_EXAMPLES=$(CONTRACT_EXAMPLES) scripts/contract.sh

FUZZ_SECONDS ?= 300
FUZZ_SEED ?= $(shell date +%s)
fuzz: build
	.build/debug/YibiaoFuzz --root $(CURDIR) --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)

# The toolchain's swift-format with the committed .swift-format; generated files opt out.
format:
	$(SWIFT) format format --in-place --recursive Sources Tests Package.swift

format-check:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

demo: setup
	@scripts/demo.sh

# `make bench district` runs only the district benchmark (the second goal names it).
DISTRICT_RESIDENTS ?= 200000
bench: setup
	$(SWIFT) build -c release --product YibiaoBench
	.build/release/YibiaoBench $(if $(filter district,$(MAKECMDGOALS)),district $(DISTRICT_RESIDENTS),$(BENCH_ARGS))

bench-peers: setup
	@scripts/bench-peers.sh

district:
	@$(if $(filter bench,$(MAKECMDGOALS)),true,echo "district is a part of 'make bench district'")

clean:
	-@[ -x $(YIBIAO) ] && $(YIBIAO) db stop || true
	rm -rf .build .yibiao
