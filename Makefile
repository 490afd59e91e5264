# Everyday commands; `make help` lists them. CI runs .ci/run, which runs the same checks.
.PHONY: help run test lint fmt template build-lambda package measure demo-screenshot bench ci clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: ## Serve every endpoint, the demo page and the sandbox on 127.0.0.1:8000
	cargo run --release -p local-api

test: ## Run every test (private redis-server and moto_server unless REDIS_URL, AWS_ENDPOINT_URL_DYNAMODB)
	cargo test --workspace

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all --check
	cargo clippy --all-targets -- -D warnings

fmt: ## Format the code
	cargo fmt --all

template: ## cfn-lint and sam validate --lint on template.yaml
	scripts/lint-template

build-lambda: ## Build the functions for Lambda (arm64, release), zip them, print sizes and checks
	scripts/build-lambda

package: build-lambda ## Same as build-lambda: target/lambda/<function>.zip

measure: ## Cold start and peak RSS of each release binary under the emulated Runtime API
	cargo test --release -p integrations --test runtime_api -- --nocapture every_provider

demo-screenshot: ## Refresh docs/demo.png: the demo page's browser test (needs chromium, chromium-driver)
	cargo test -p local-api --test browser

bench: ## One table of measured figures beside same-run references (needs wrk, redis-tools; see scripts/bench)
	scripts/bench

ci: ## What CI runs: pinned tools, format, clippy, template, tests, Lambda build, with timings
	.ci/run

clean: ## Remove build output
	cargo clean
