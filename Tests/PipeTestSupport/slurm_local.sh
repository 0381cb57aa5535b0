#!/usr/bin/env bash
# A real, throw-away Slurm cluster on this one machine for end-to-end tests of the Slurm
# executor: Debian's Slurm (slurmctld, two slurmd nodes n1 and n2 started with `slurmd -N`, one
# CPU each, on loopback) authenticated by munge, with no accounting database. Made for machines
# without systemd: every daemon is started by hand and stopped by its pid file. What was
# measured to work, and why each setting is there: ../shared/research/slurm.md (from the
# project root).
#
# usage: slurm_local.sh [start|stop|status]
#   start   installs what is missing, starts munged (unless one answers), slurmctld and the two
#           slurmd nodes, waits until every node is idle and prints one summary line; does
#           nothing but print that line when a cluster it started is already healthy with the
#           same configuration, and restarts it when the configuration differs
#   stop    cancels every job, then stops the daemons this script started (by their pid files)
#           and leftover slurmstepd processes of their jobs; safe when nothing runs
#   status  prints whether the cluster runs and `sinfo`; exits 0 when every node is idle,
#           allocated, mixed or completing
#
# Settings (environment):
#   PIPE_SLURM_DIR             the state folder: Slurm state, spool, pid files, logs and the
#                              job completion file (default /tmp/pipe-slurm)
#   PIPE_SLURM_MAX_ARRAY_SIZE  Slurm's MaxArraySize (default 1001, Slurm's own default); a low
#                              value lets a test exercise the splitting of large arrays
#   PIPE_SLURM_WAIT            seconds to wait for the nodes to turn idle (default 60)
#
# There is one such cluster per machine: the client commands read /etc/slurm/slurm.conf, and
# the ports (slurmctld 6817, nodes 17001 and 17002) are fixed.
set -euo pipefail

# Close every inherited descriptor but stdin, stdout and stderr before anything starts: a test
# process may spawn this script while another of its tests holds a pipe (Foundation's pipes
# are not close-on-exec), and a daemon left running with that pipe open would keep the other
# test waiting for its end of file forever.
for fd in "/proc/$$/fd/"*; do
  fd="${fd##*/}"
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

state="${PIPE_SLURM_DIR:-/tmp/pipe-slurm}"
max_array_size="${PIPE_SLURM_MAX_ARRAY_SIZE:-1001}"
wait_seconds="${PIPE_SLURM_WAIT:-60}"
conf=/etc/slurm/slurm.conf
nodes=(n1 n2)
partition=debug
packages=(slurmctld slurmd slurm-client munge)

say() { echo "slurm_local: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
  echo "usage: $0 [start|stop|status]" >&2
  exit 2
}

case "$max_array_size" in
  '' | *[!0-9]*) die "PIPE_SLURM_MAX_ARRAY_SIZE must be a number, not '$max_array_size'" ;;
esac
case "$wait_seconds" in
  '' | *[!0-9]*) die "PIPE_SLURM_WAIT must be a number of seconds, not '$wait_seconds'" ;;
esac
case "$state" in
  /*) ;;
  *) die "PIPE_SLURM_DIR must be an absolute path (slurm.conf needs one), not '$state'" ;;
esac

# Whether a process runs; a zombie does not (where PID 1 is no init, nobody may reap one soon,
# and kill -0 succeeds on it).
alive() { # pid
  local st
  st="$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
  [ -n "$st" ] && [ "$st" != Z ]
}

# The pid of a daemon this script started, from its pid file, when that process still runs
# the expected program (a stale pid file may name a pid reused by something else).
daemon_pid() { # pid-file expected-comm
  local pid
  [ -f "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)" || return 1
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && alive "$pid" || return 1
  echo "$pid"
}
ctld_pid() { daemon_pid "$state/run/slurmctld.pid" slurmctld; }
slurmd_pid() { daemon_pid "$state/run/slurmd-$1.pid" slurmd; }

# TERM to every given daemon at once (each takes 1-2 s to shut down), up to 10 s for them to
# end, then KILL.
terminate() { # pid:what...
  local item pid left
  for item in "$@"; do kill "${item%%:*}" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    left=0
    for item in "$@"; do alive "${item%%:*}" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for item in "$@"; do
    pid="${item%%:*}"
    if alive "$pid"; then
      say "${item#*:} (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    say "stopped ${item#*:} (pid $pid)"
  done
}

# Client commands get a timeout: against a hung controller they would wait for minutes.
sinfo_nodes() { timeout 10 sinfo -h -N -o '%N %T' 2>/dev/null; }

# Whether every node of the cluster is in one of the given states (sinfo appends markers such
# as `*` for "not responding" to the state, so those never match).
nodes_in() { # state...
  local lines name st seen=0 ok
  lines="$(sinfo_nodes)" || return 1
  while read -r name st; do
    [ -n "$name" ] || continue
    ok=1
    for want in "$@"; do [ "$st" = "$want" ] && ok=0; done
    [ "$ok" = 0 ] || return 1
    seen=$((seen + 1))
  done <<<"$lines"
  [ "$seen" -eq "${#nodes[@]}" ]
}

# Whether every node's slurmd registered with the controller at or after the given time (in
# seconds since the epoch). A restarted slurmctld restores the nodes' last state from its
# state folder, so they read idle before their new slurmd has said a word.
registered_since() { # epoch
  local out line t seen=0
  out="$(timeout 10 scontrol -o show node 2>/dev/null)" || return 1
  while read -r line; do
    [ -n "$line" ] || continue
    t="$(sed -n 's/.* SlurmdStartTime=\([^ ]*\).*/\1/p' <<<"$line")"
    t="$(date -d "$t" +%s 2>/dev/null)" || return 1
    [ "$t" -ge "$1" ] || return 1
    seen=$((seen + 1))
  done <<<"$out"
  [ "$seen" -eq "${#nodes[@]}" ]
}

# The MaxArraySize the running controller uses.
running_max_array_size() {
  timeout 10 scontrol show config 2>/dev/null | awk '$1 == "MaxArraySize" { print $3 }'
}

# The one line start ends with (on stdout). Nodes of an already running cluster may be busy.
summary() {
  local word=up
  nodes_in idle && word=idle
  echo "slurm_local: ${#nodes[@]} nodes $word (${nodes[*]}), partition $partition," \
    "MaxArraySize=$(running_max_array_size), state $state"
}

# The configuration, one value per setting; the comments in it say why.
slurm_conf() {
  local host="$1"
  cat <<EOF
# Written by Tests/PipeTestSupport/slurm_local.sh: a throw-away test cluster on this machine.
# state folder: $state
ClusterName=pipe-test
# The controller's name must be \`hostname -s\`; its address is loopback.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# No cgroups here: track job processes by their parent chain and bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# No slurmdbd: sacct refuses, exit codes come from scontrol/squeue (MinJobAge) or jobcomp.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.txt
MpiDefault=none
# A node that was down comes back by itself once its slurmd registers.
ReturnToService=2
# Without this, jobs start in waves about 3 s apart.
SchedulerParameters=batch_sched_delay=0
# Finished jobs stay queryable (scontrol show job, squeue -t all) for 10 minutes.
MinJobAge=600
KillWait=5
# Debian installs no mail program; slurmctld would log an error about it.
MailProg=/bin/true
MaxArraySize=$max_array_size
# The nodes declare what they declare, whatever \`slurmd -C\` finds on this machine.
SlurmdParameters=config_overrides
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool/%n
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd-%n.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# Two nodes on this one host: each slurmd is started with \`slurmd -N NAME\` on its own port.
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=17001 CPUs=1 RealMemory=3000 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=17002 CPUs=1 RealMemory=3000 State=UNKNOWN
PartitionName=$partition Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
}

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Try the package lists at hand first: an update costs time and network.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$state/log/apt.log" 2>&1; then
    say "install failed with the current package lists; running apt-get update"
    apt-get update -qq >>"$state/log/apt.log" 2>&1 || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$state/log/apt.log" 2>&1 || {
      tail -n 20 "$state/log/apt.log" >&2
      die "apt-get install ${missing[*]} failed; see $state/log/apt.log"
    }
  fi
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_works; then
    return
  fi
  # The Debian package creates the user and the key but starts nothing, and /run is empty on a
  # fresh machine; munged refuses directories and keys with loose permissions.
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  say "starting munged"
  # munged forks into the background itself; fd 9 (the lock) must not go with it.
  runuser -u munge -- /usr/sbin/munged --force </dev/null >"$state/log/munged.out" 2>&1 9>&- ||
    { cat "$state/log/munged.out" >&2; die "munged did not start"; }
  for _ in $(seq 1 50); do munge_works && break; sleep 0.1; done
  munge_works || { cat "$state/log/munged.out" >&2; die "munged started but munge -n | unmunge fails"; }
  # Remember that this script started it: stop ends only a munged it started.
  cat /run/munge/munged.pid >"$state/run/munged.pid"
}

# `hostname -s` must resolve, for slurmctld finds itself by that name.
ensure_hostname() { # host
  if ! getent hosts "$1" >/dev/null; then
    say "adding '127.0.0.1 $1' to /etc/hosts"
    echo "127.0.0.1 $1" >>/etc/hosts
  fi
}

# The last lines of the given logs (default: all of them).
tail_logs() { # [log-name...]
  local name f names=("$@")
  [ "${#names[@]}" -gt 0 ] || names=(slurmctld slurmd-n1 slurmd-n2)
  for name in "${names[@]}"; do
    for f in "$state/log/$name.log" "$state/log/$name.out"; do
      [ -s "$f" ] || continue
      say "last lines of $f:"
      tail -n 15 "$f" >&2
    done
  done
}

# A cluster this script started (from this state folder) runs, healthy, with this config.
healthy() { # wanted-config
  ctld_pid >/dev/null || return 1
  local n
  for n in "${nodes[@]}"; do slurmd_pid "$n" >/dev/null || return 1; done
  [ -f "$state/slurm.conf" ] && [ "$(cat "$state/slurm.conf")" = "$1" ] || return 1
  [ -f "$conf" ] && [ "$(cat "$conf")" = "$1" ] || return 1
  nodes_in idle allocated mixed completing
}

# Whether any daemon this script started from this state folder still runs.
anything_running() {
  ctld_pid >/dev/null && return 0
  local n
  for n in "${nodes[@]}"; do slurmd_pid "$n" >/dev/null && return 0; done
  return 1
}

start() {
  local host wanted
  host="$(hostname -s)"
  wanted="$(slurm_conf "$host")"
  if healthy "$wanted"; then
    say "already running and healthy (state $state)"
    summary
    return
  fi
  # Another state folder's cluster would hold the same ports and /etc/slurm/slurm.conf.
  if [ -f "$conf" ]; then
    local other
    other="$(sed -n 's/^# state folder: //p' "$conf" | head -n 1)"
    if [ -n "$other" ] && [ "$other" != "$state" ] &&
      daemon_pid "$other/run/slurmctld.pid" slurmctld >/dev/null; then
      die "a cluster from state folder $other runs; stop it first: PIPE_SLURM_DIR=$other $0 stop"
    fi
  fi
  if anything_running; then
    if [ -f "$state/slurm.conf" ] && [ "$(cat "$state/slurm.conf")" != "$wanted" ]; then
      say "running with another configuration ($(grep '^MaxArraySize=' "$state/slurm.conf" || true)); restarting"
    else
      say "running but not healthy; restarting"
    fi
    stop keep-munged
  fi

  local t0=$SECONDS
  # slurmd creates its spool folder only after it first looks for its socket there.
  mkdir -p "$state/log" "$state/run" "$state/ctld" "${nodes[@]/#/$state/spool/}"
  install_packages
  start_munge
  ensure_hostname "$host"
  mkdir -p /etc/slurm
  echo "$wanted" >"$conf"
  # The copy the daemons were started with: a later start compares against it.
  echo "$wanted" >"$state/slurm.conf"
  # Stale pid files would be mistaken for daemons on a reused pid.
  rm -f "$state/run/slurmctld.pid" "$state/run"/slurmd-*.pid

  say "starting slurmctld and slurmd ${nodes[*]} (logs: $state/log)"
  local launched
  launched="$(date +%s)"
  # The daemons fork into the background themselves (and write their pid files); stdout and
  # stderr before that go to *.out. fd 9 is the lock: a daemon holding it would block every
  # later start.
  slurmctld </dev/null >"$state/log/slurmctld.out" 2>&1 9>&- ||
    { tail_logs slurmctld; die "slurmctld did not start"; }
  local n
  for n in "${nodes[@]}"; do
    slurmd -N "$n" </dev/null >"$state/log/slurmd-$n.out" 2>&1 9>&- ||
      { tail_logs "slurmd-$n"; die "slurmd -N $n did not start"; }
  done

  # Phase 1: every slurmd registered. Phase 2: jobs the controller restored from an earlier
  # run that did not end cleanly (it died before `stop` could cancel them) would hold a node
  # forever, since their processes are gone: cancel them. Phase 3: every node idle.
  local deadline=$((SECONDS + wait_seconds)) since=$SECONDS
  until registered_since "$launched"; do wait_step "$deadline" "$since"; done
  local stale
  stale="$(job_ids)"
  if [ -n "$stale" ]; then
    say "cancelling jobs left from an earlier run: $stale"
    cancel_all
  fi
  until nodes_in idle; do wait_step "$deadline" "$since"; done
  say "ready in $((SECONDS - t0)) s"
  summary
}

# One step of waiting for the cluster during start: fails with the logs when a daemon died or
# time is up.
wait_step() { # deadline launched-at (both in $SECONDS)
  local n
  if ! ctld_pid >/dev/null; then
    tail_logs slurmctld
    die "slurmctld exited during start"
  fi
  # A daemon writes its pid file just after it forks into the background: allow a moment.
  if [ $((SECONDS - $2)) -ge 2 ]; then
    for n in "${nodes[@]}"; do
      if ! slurmd_pid "$n" >/dev/null; then
        tail_logs "slurmd-$n"
        die "slurmd -N $n exited during start"
      fi
    done
  fi
  if [ "$SECONDS" -ge "$1" ]; then
    say "the nodes are not all registered and idle after ${wait_seconds}s:"
    timeout 10 sinfo -N -o '%N %T %E' >&2 2>/dev/null || true
    tail_logs
    die "start failed; the daemons are left running for inspection ($0 stop ends them)"
  fi
  sleep 0.2
}

# The ids of all jobs (and whole arrays) that are pending, running or completing, of all users.
job_ids() {
  timeout 10 squeue -h -o %F 2>/dev/null | sort -un | tr '\n' ' ' | sed 's/ $//' || true
}

# Cancels every job of every user and waits (up to 15 s) until none is left in the queue.
cancel_all() {
  local ids
  ids="$(job_ids)"
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086  # one argument per job id
  timeout 10 scancel $ids 2>/dev/null || true
  # KillWait=5: a job gets SIGTERM, then SIGKILL 5 s later; allow some margin.
  for _ in $(seq 1 60); do
    [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && return 0
    sleep 0.25
  done
  say "jobs still in the queue after 15 s: $(job_ids)"
}

# Every descendant of the given pids (job processes under a slurmstepd), one per line.
descendants() { # pid...
  local kids p
  for p in "$@"; do
    mapfile -t kids < <(ps -o pid= --ppid "$p" 2>/dev/null | tr -d ' ')
    [ "${#kids[@]}" -eq 0 ] && continue
    printf '%s\n' "${kids[@]}"
    descendants "${kids[@]}"
  done
}

stop() { # [keep-munged]
  local pid n did=""
  anything_running && did=1
  if pid="$(ctld_pid)"; then
    # Stopping the daemons under running jobs would leave slurmstepd and the jobs' processes
    # alive (slurmstepd ignores SIGTERM): cancel every job of every user first.
    local ids
    ids="$(job_ids)"
    if [ -n "$ids" ]; then
      say "cancelling jobs: $ids"
      cancel_all
    fi
  fi
  # The nodes first, the controller last (it saves its state on the way out).
  local daemons=()
  for n in "${nodes[@]}"; do
    if pid="$(slurmd_pid "$n")"; then daemons+=("$pid:slurmd $n"); fi
  done
  [ "${#daemons[@]}" -eq 0 ] || terminate "${daemons[@]}"
  if pid="$(ctld_pid)"; then terminate "$pid:slurmctld"; fi

  # slurmstepd processes of this cluster's jobs that outlived it, and their job processes. A
  # step of this cluster holds the slurmd log under the state folder open and works in it (its
  # environment is no help: the process title overwrites it).
  local steps=() p link victims
  for p in $(pgrep -x slurmstepd || true); do
    for link in "/proc/$p/cwd" "/proc/$p/fd/"*; do
      link="$(readlink "$link" 2>/dev/null)" || continue
      case "$link/" in "$state"/*) steps+=("$p"); break ;; esac
    done
  done
  if [ "${#steps[@]}" -gt 0 ]; then
    mapfile -t victims < <(printf '%s\n' "${steps[@]}"; descendants "${steps[@]}")
    did=1
    say "killing leftover job steps and their processes: ${victims[*]}"
    kill -9 "${victims[@]}" 2>/dev/null || true
  fi

  # munged only when this script started it, and not on a restart (start uses it again).
  if [ "${1:-}" != keep-munged ] && [ -f "$state/run/munged.pid" ]; then
    if pid="$(daemon_pid "$state/run/munged.pid" munged)"; then
      terminate "$pid:munged"
      did=1
    fi
    rm -f "$state/run/munged.pid"
  fi
  rm -f "$state/run/slurmctld.pid" "$state/run"/slurmd-*.pid
  if [ -n "$did" ]; then
    say "stopped (state and logs kept in $state)"
  else
    say "nothing started from $state runs"
  fi
}

status() {
  local pid
  # Without a controller the client commands retry for about 10 s before they give up.
  if ! pid="$(ctld_pid)"; then
    say "not running (no slurmctld started from $state)"
    return 1
  fi
  say "running (slurmctld pid $pid, state $state)"
  timeout 10 sinfo -N -o '%N %P %T %C' || true
  nodes_in idle allocated mixed completing
}

[ "$#" -le 1 ] || usage
cmd="${1:-start}"
case "$cmd" in
  start | stop)
    # Starting daemons, writing /etc and installing packages need root.
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null 2>&1 || die "$cmd needs root (or sudo)"
      exec sudo --preserve-env=PIPE_SLURM_DIR,PIPE_SLURM_MAX_ARRAY_SIZE,PIPE_SLURM_WAIT \
        bash "$0" "$cmd"
    fi
    mkdir -p "$state/log" "$state/run"
    # Two test processes may call start (or stop) at once: one works, the other waits, then
    # finds the cluster healthy.
    exec 9>"$state/lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    "$cmd"
    ;;
  status) status ;;
  *) usage ;;
esac
