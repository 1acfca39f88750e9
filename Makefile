# Sieve's commands. `make run` and `make test` are all a fresh machine needs.
SHELL := bash
CARGO ?= cargo
PG_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres lint bench demo deploy-check clean-test-db

## Start the whole suite on embedded SQLite under ./data (Ctrl-C stops it).
run:
	$(CARGO) run -p sieve-cli --bin sieve -- up

## Every test on SQLite, then the same tests on PostgreSQL when it answers on 127.0.0.1:5432.
test: test-sqlite test-postgres

test-sqlite:
	$(CARGO) test --workspace

test-postgres:
	@if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then \
		echo "== the same tests on PostgreSQL ($(PG_URL))"; \
		SIEVE_TEST_DATABASE=postgres SIEVE_TEST_POSTGRES_URL=$(PG_URL) $(CARGO) test --workspace; \
		status=$$?; $(MAKE) --no-print-directory clean-test-db; exit $$status; \
	else \
		echo "== PostgreSQL is not answering on 127.0.0.1:5432: PostgreSQL tests skipped (.ci/run starts it)"; \
	fi

# Tests create one schema each (t_<service>_<id>); drop what they leave.
clean-test-db:
	@psql "$(PG_URL)" -qAtc "SELECT 'DROP SCHEMA \"' || nspname || '\" CASCADE;' FROM pg_namespace WHERE nspname LIKE 't\_%'" 2>/dev/null \
		| psql "$(PG_URL)" -q >/dev/null 2>&1 || true
	@rm -rf "$${TMPDIR:-/tmp}/sieve-tests"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd proto && npx --yes @bufbuild/buf lint .

## Benchmarks (release build): figures go to BENCHMARKS.md.
bench:
	$(CARGO) bench -p sieve-intake --bench submit_batch
	$(CARGO) bench -p sieve-bad-debt-check --bench match_cases
	$(CARGO) bench -p sieve-preservation --bench apply_rule_freeze
	$(CARGO) bench -p sieve-gateway --bench read_path

demo:
	$(CARGO) run -p sieve-cli --bin sieve -- demo --cases 1000

deploy-check:
	bash deploy/check.sh
