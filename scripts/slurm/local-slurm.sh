#!/usr/bin/env bash
# local-slurm.sh: a one-node Slurm cluster on this machine, for trying the sbatch scripts and
# for the tests (clustertest/). Debian's slurmctld, slurmd, slurm-client and munge, started by
# hand as root in the background (no systemd needed), every file under one state directory,
# stopped by the pids they wrote.
#
#   scripts/slurm/local-slurm.sh up        # start munged, slurmctld, slurmd; wait for the node
#   . /tmp/mw-slurm/env                    # SLURM_CONF etc. for sbatch, squeue, sacct, ...
#   sbatch -n 3 scripts/slurm/selftest.sbatch
#   scripts/slurm/local-slurm.sh status    # daemons, node, queue (exit 0 up, 3 down)
#   scripts/slurm/local-slurm.sh down      # cancel jobs, stop the daemons by pid
#
# Environment:
#   MW_SLURM_DIR   state directory (default /tmp/mw-slurm): slurm.conf, env, munge key and
#                  socket, spool, logs (log/), pids, finished jobs (jobcomp.txt)
#   MW_SLURM_PORT  slurmctld's port; slurmd listens on the next one (default 6817)
#   MW_SLURM_CPUS  CPUs the node advertises (default 4, more than this machine may have, so
#                  that `-n 4` jobs run on 2 cores)
#
# Exit codes: 0 done, 1 failed, 2 usage, 3 (status) not running, 77 cannot run here (not
# root, or the Debian packages are missing): the tests skip on 77.
#
# What makes it work without systemd or cgroups (measured on Debian 12, Slurm 22.05):
# proctrack/linuxproc, task/none and jobacct_gather/none avoid cgroups;
# SlurmctldHost=<host>(127.0.0.1) with NodeAddr=127.0.0.1 works even when the hostname does
# not resolve; SlurmdParameters=config_overrides lets the node advertise more CPUs than it
# has; batch_sched_delay=0 starts the first job at once; jobcomp/filetxt gives `sacct -c` the
# state and exit code of finished jobs without slurmdbd; munge's socket directory must be 0755.
set -euo pipefail

DIR=${MW_SLURM_DIR:-/tmp/mw-slurm}
PORT=${MW_SLURM_PORT:-6817}
CPUS=${MW_SLURM_CPUS:-4}
NODE=$(hostname -s)
CONF=$DIR/slurm.conf
# The node's memory in MiB as the kernel sees it (jobs may ask for --mem-per-cpu).
MEM=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo 2>/dev/null || echo 1024)

die() { echo "local-slurm: $*" >&2; exit 1; }
skip() { echo "local-slurm: SKIP: $*" >&2; exit 77; }

# alive PIDFILE: the pid in PIDFILE is a running process.
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	local secs=$1; shift
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

check_host() {
	[[ $(id -u) == 0 ]] || skip "must run as root (slurmd and munged run as root here)"
	local c missing=()
	for c in munged slurmctld slurmd sbatch scontrol sinfo sacct; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	((${#missing[@]} == 0)) || skip "missing ${missing[*]}: apt-get install slurmctld slurmd slurm-client munge (make deps)"
}

write_conf() {
	cat >"$CONF" <<EOF
# Written by scripts/slurm/local-slurm.sh: a one-node test cluster. All state under $DIR.
ClusterName=mwlocal
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups, no systemd: plain process tracking.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# sacct -c reads finished jobs (state, exit code) from this file: no slurmdbd needed.
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
	cat >"$DIR/env" <<EOF
# . this file to talk to the local Slurm (scripts/slurm/local-slurm.sh)
export SLURM_CONF=$CONF
# mpirun inside the jobs runs as root here; sbatch passes the environment on to the job.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF
}

node_ready() {
	local st
	st=$(SLURM_CONF=$CONF sinfo -h -n "$NODE" -o %T 2>/dev/null) || return 1
	[[ $st == idle* || $st == mixed* || $st == allocated* ]]
}

up() {
	check_host
	if alive "$DIR/munged.pid" && alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
		echo "local-slurm: already up ($DIR)"
		return 0
	fi
	stop_daemons # leftovers of a half-started cluster
	mkdir -p "$DIR"/{munge,ctld,spool,log}
	# munged refuses a socket directory that others can write to; clients need to reach it.
	chmod 0755 "$DIR" "$DIR/munge"
	if [[ ! -s $DIR/munge/munge.key ]]; then
		dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
	fi
	chmod 0400 "$DIR/munge/munge.key"
	write_conf
	# slurmctld -c numbers jobs from 1 again: start the finished-jobs record afresh too.
	: >"$DIR/jobcomp.txt"

	munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
		--pid-file="$DIR/munged.pid" --seed-file="$DIR/munge/munged.seed" \
		--log-file="$DIR/log/munged.log" ||
		die "munged did not start: $(tail -3 "$DIR/log/munged.log" 2>/dev/null)"
	wait_for 10 alive "$DIR/munged.pid" || die "munged wrote no pid"

	# -c: a clean start, no state recovered from an earlier run.
	slurmctld -c -f "$CONF" || die "slurmctld did not start: $(tail -5 "$DIR/log/slurmctld.log")"
	wait_for 10 alive "$DIR/slurmctld.pid" || die "slurmctld wrote no pid: $(tail -5 "$DIR/log/slurmctld.log")"
	slurmd -f "$CONF" -N "$NODE" || die "slurmd did not start: $(tail -5 "$DIR/log/slurmd.log")"
	wait_for 10 alive "$DIR/slurmd.pid" || die "slurmd wrote no pid: $(tail -5 "$DIR/log/slurmd.log")"

	if ! wait_for 30 node_ready; then
		SLURM_CONF=$CONF scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
		wait_for 10 node_ready ||
			die "node $NODE not idle after 40 s: $(SLURM_CONF=$CONF sinfo 2>&1); see $DIR/log/"
	fi
	echo "local-slurm: up in $DIR (node $NODE, $CPUS CPUs, port $PORT); . $DIR/env"
}

# stop PIDFILE NAME: TERM the process, KILL it after 10 s.
stop() {
	local f=$1 name=$2 pid
	[[ -s $f ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! wait_for 10 bash -c "! kill -0 $pid"; then
			echo "local-slurm: $name ($pid) ignored TERM; killing" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

stop_daemons() {
	stop "$DIR/slurmd.pid" slurmd
	stop "$DIR/slurmctld.pid" slurmctld
	stop "$DIR/munged.pid" munged
}

down() {
	if alive "$DIR/slurmctld.pid"; then
		# End the jobs first, so that no slurmstepd outlives its slurmd.
		SLURM_CONF=$CONF scancel --full --quiet --user=root 2>/dev/null || true
		wait_for 15 bash -c "[ -z \"\$(SLURM_CONF=$CONF squeue -h -o %i 2>/dev/null)\" ]" ||
			echo "local-slurm: jobs still listed after 15 s: $(SLURM_CONF=$CONF squeue -h 2>&1)" >&2
	fi
	stop_daemons
	echo "local-slurm: down ($DIR kept: logs in $DIR/log)"
}

status() {
	local d rc=0
	for d in munged slurmctld slurmd; do
		if alive "$DIR/$d.pid"; then
			echo "$d: running, pid $(cat "$DIR/$d.pid")"
		else
			echo "$d: not running"
			rc=3
		fi
	done
	if ((rc == 0)); then
		SLURM_CONF=$CONF sinfo -N -o '%N %T %c' || rc=3
		SLURM_CONF=$CONF squeue
	fi
	return $rc
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
*)
	echo "usage: $0 up|down|status   (state in \$MW_SLURM_DIR, default /tmp/mw-slurm)" >&2
	exit 2
	;;
esac
