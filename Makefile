# The front door: every target is a one-liner over cargo and the test support scripts.
CARGO ?= cargo
WITH_MOTO := tests/support/with-moto.sh

.PHONY: help build dist peers test test-faults test-workers test-relays lint generate check-generated demo demo-dry bench fuzz fuzz-smoke

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## Build the release binary (target/release/devo-aws), quick to build
	$(CARGO) build --release

dist: ## Build the binary for releases and images (target/dist/devo-aws: thin LTO, one codegen unit)
	$(CARGO) build --profile dist --locked

peers: ## Install the test peers from Debian's packages when missing (rsyslog; needs root or sudo)
	tests/support/install-peers.sh

test: peers ## Run unit and end-to-end tests against moto, rsyslog and an in-test TLS server
	$(WITH_MOTO) $(CARGO) test

test-faults: ## The fault suite at full size (kill -9 in 50 runs over 5,000 events, a 50 KB/s relay, 400 messages held under a 5 s visibility, ...)
	DEVO_AWS_FAULTS=full DEVO_AWS_KILL_RUNS=50 DEVO_AWS_KILL_EVENTS=5000 DEVO_AWS_SLOW_EVENTS=12000 $(WITH_MOTO) $(CARGO) test --test e2e faults -- --nocapture

test-workers: ## 4 workers, then 1, on one config with S3 state over 20,000 events: exactly once, events/s
	DEVO_AWS_WORKERS=4 DEVO_AWS_WORKER_EVENTS=20000 $(WITH_MOTO) $(CARGO) test --release --test e2e workers_share -- --nocapture
	DEVO_AWS_WORKERS=1 DEVO_AWS_WORKER_EVENTS=20000 $(WITH_MOTO) $(CARGO) test --release --test e2e workers_share -- --nocapture

test-relays: peers ## Relays that drain, reset or restart mid-run, at full size (rsyslog and syslog-ng)
	DEVO_AWS_RELAY_OBJECTS=100 DEVO_AWS_RELAY_RECORDS=1500 DEVO_AWS_RELAY_EVENTS=500 $(WITH_MOTO) $(CARGO) test --test e2e relays -- --nocapture --test-threads 1

lint: ## cargo fmt --check and clippy with warnings as errors
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

demo: ## Every service against the AWS emulator's samples, delivered to a local mutual-TLS receiver; what arrived, per tag
	$(CARGO) build
	$(WITH_MOTO) tests/support/demo.sh

demo-dry: ## The dry run: EventBridge and Security Hub samples printed with their tags, nothing delivered
	$(CARGO) build
	$(WITH_MOTO) tests/support/demo.sh dry

bench: ## Measure the S3+SQS pipeline (results table; not part of make test)
	$(WITH_MOTO) sh -c '.venv/bin/python -c "import devo.sender" 2>/dev/null || .venv/bin/pip install --quiet --disable-pip-version-check "devo-sdk==7.0.2"; $(CARGO) bench --bench pipeline'

generate: ## Rewrite man/ and completions/ from the clap definitions
	mkdir -p man completions
	$(CARGO) run -q -- generate man > man/devo-aws.1
	$(CARGO) run -q -- generate bash > completions/devo-aws.bash
	$(CARGO) run -q -- generate zsh > completions/_devo-aws
	$(CARGO) run -q -- generate fish > completions/devo-aws.fish

check-generated: ## Fail when man/ or completions/ are stale
	$(CARGO) test --test e2e generated

FUZZ_SECONDS ?= 60
# libFuzzer's seed: 0 draws one at random.
FUZZ_SEED ?= 0
FUZZ_TARGETS := config notification cloudtrail objects
fuzz: ## Fuzz each parser for FUZZ_SECONDS (needs cargo install cargo-fuzz)
	cd fuzz && for t in $(FUZZ_TARGETS); do mkdir -p corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) || exit 1; done

fuzz-smoke: ## What CI runs: each fuzz target for 10 seconds, from a set seed (a red CI is a change's, not a draw's)
	$(MAKE) fuzz FUZZ_SECONDS=10 FUZZ_SEED=1
