#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on localhost for the Slurm test (Debian bookworm: slurm-wlm 22.05,
# munge 0.5.15). Runs as root; all state under
# $SLURM_BASE; no systemd, no cgroups, no accounting database.
#   cluster.sh start   fresh state, start munged + slurmctld + slurmd, wait until the node is idle
#   cluster.sh stop    cancel every job, stop the daemons by pid
#   cluster.sh env     print `export SLURM_CONF=...`
set -euo pipefail

BASE=${SLURM_BASE:?set SLURM_BASE to an absolute directory}
case "$BASE" in /?*) ;; *) echo "SLURM_BASE must be absolute" >&2; exit 2 ;; esac
NODE=$(hostname -s)
CPUS=${SLURM_NODE_CPUS:-$(nproc)}
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
CTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
CONF=$BASE/etc/slurm.conf
SOCKET=$BASE/munge/munge.sock
export SLURM_CONF=$CONF

log() { echo "[cluster] $*" >&2; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_in() { if [ -s "$1" ]; then cat "$1"; fi; }
wait_for_pid() {  # pid file, tenths of a second
  local i
  for ((i = 0; i < $2; i++)); do alive "$(pid_in "$1")" && return 0; sleep 0.1; done
  return 1
}

write_conf() {
  cat > "$CONF" <<CONF
ClusterName=oasis-test
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
AuthType=auth/munge
AuthInfo=socket=${SOCKET}
CredType=cred/munge
StateSaveLocation=${BASE}/state
SlurmdSpoolDir=${BASE}/spool
SlurmctldPidFile=${BASE}/run/slurmctld.pid
SlurmdPidFile=${BASE}/run/slurmd.pid
SlurmctldLogFile=${BASE}/log/slurmctld.log
SlurmdLogFile=${BASE}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
CONF
}

stop() {
  if alive "$(pid_in "$BASE/run/slurmctld.pid")"; then
    local ids
    ids=$(squeue -h -o %A 2>/dev/null | sort -u || true)
    # shellcheck disable=SC2086
    if [ -n "$ids" ]; then scancel --full $ids 2>/dev/null || true; fi
  fi
  local f pid i
  for f in "$BASE/run/slurmd.pid" "$BASE/run/slurmctld.pid" "$BASE/munge/munged.pid"; do
    pid=$(pid_in "$f")
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

start() {
  local b
  for b in slurmctld slurmd munged mungekey sinfo sbatch; do
    command -v "$b" >/dev/null || { log "$b not found: apt-get install slurmctld slurmd slurm-client munge"; exit 1; }
  done
  rm -rf "${BASE:?}"/{state,spool,run,log,etc}
  mkdir -p "$BASE"/{etc,state,spool,run,log,munge}
  chmod 755 "$BASE" "$BASE/munge"  # munged refuses a socket directory others cannot enter
  [ -s "$BASE/munge/munge.key" ] || mungekey --create --keyfile="$BASE/munge/munge.key"
  chmod 600 "$BASE/munge/munge.key"
  write_conf
  munged --key-file="$BASE/munge/munge.key" --socket="$SOCKET" --pid-file="$BASE/munge/munged.pid" \
    --log-file="$BASE/log/munged.log" --seed-file="$BASE/munge/munged.seed"
  wait_for_pid "$BASE/munge/munged.pid" 50 || { log "munged did not start"; stop; exit 1; }
  slurmctld -f "$CONF" && wait_for_pid "$BASE/run/slurmctld.pid" 100 || { log "slurmctld did not start"; stop; exit 1; }
  slurmd -f "$CONF" && wait_for_pid "$BASE/run/slurmd.pid" 100 || { log "slurmd did not start"; stop; exit 1; }
  local deadline=$((SECONDS + 60)) state=""
  while ((SECONDS < deadline)); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    if [ "$state" = idle ]; then log "node $NODE idle"; return 0; fi
    sleep 0.2
  done
  log "node not idle after 60 s (state '$state')"
  tail -n 20 "$BASE/log/slurmctld.log" "$BASE/log/slurmd.log" >&2 || true
  stop
  exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
