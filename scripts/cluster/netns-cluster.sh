#!/usr/bin/env bash
# netns-cluster.sh: a cluster of N hosts on this machine, for trying `mpirun --hostfile` over
# TCP and ssh, and for the tests (clustertest/). Each host is a Linux network namespace with
# its own address on a private subnet, its own hostname (a UTS namespace: h1, h2, ...) and its
# own sshd (key-only root login, listening only on the host's address). A bridge in one more
# namespace (the switch) joins them, so the subnet exists only inside the namespaces. The
# hosts share this machine's filesystem, as a cluster shares a network filesystem.
#
#   scripts/cluster/netns-cluster.sh up 3          # h1 h2 h3, hostfile, ssh keys, mpirun flags
#   scripts/cluster/netns-cluster.sh run h1 -- /tmp/mw-cluster/mpirun \
#       -np 3 --map-by node ./mw selftest --items 100000 -o out.txt   # launched from h1
#   scripts/cluster/netns-cluster.sh run h2 -- hostname    # any command inside host h2
#   ssh -F /tmp/mw-cluster/ssh/config h3 uptime            # from inside any host
#   scripts/cluster/netns-cluster.sh link h3 down|up       # pull / plug host h3's cable
#   scripts/cluster/netns-cluster.sh status                # hosts, sshd pids, links
#   scripts/cluster/netns-cluster.sh down                  # end every process in the hosts
#                                                          # (by pid), delete the namespaces
#
# Environment:
#   MW_CLUSTER_DIR   state directory (default /tmp/mw-cluster): hostfile, mpirun (a wrapper
#                    with every flag the subnet needs), env, ssh/ (keys,
#                    known_hosts, client config), hN/ (each host's sshd config, key, pid, log)
#   MW_CLUSTER_NAME  prefix of the namespaces' names (default mwc: mwc-sw, mwc-h1, ...)
#   MW_CLUSTER_NET   the subnet's first three octets (default 10.231.77: hosts .1 to .N);
#                    nothing outside the namespaces can reach it
#   MW_CLUSTER_SLOTS slots per host in the hostfile (default 2)
#
# Exit codes: 0 done, 1 failed, 2 usage, 3 (status) not running, 77 cannot run here (not
# root, no network namespaces, no sshd): the tests skip on 77.
#
# Facts measured on this machine (Debian 12, OpenMPI 4.1.4, OpenSSH 9.2): sshd needs
# /run/sshd; keys under /tmp need `StrictModes no`; `lo` must be up in each namespace or the
# ranks hang; OpenMPI must be kept on the subnet (btl tcp,self, btl_tcp_if_include,
# oob_tcp_if_include) and told how to ssh (plm_rsh_agent); with OpenMPI's default keepalive
# a host whose link goes down hangs the job for about 8 minutes, while
# oob_tcp_keepalive_time=5, _intvl=2, _probes=3 and ssh's ServerAliveInterval 5 end it in
# about 12 s (mpirun exits 205 some 14 s after the cut). With mpirun --enable-recovery the
# job goes on without the host (mw finishes it), but mpirun then waits for the lost host's
# daemon for ever: end it once mw is done.
set -euo pipefail

DIR=${MW_CLUSTER_DIR:-/tmp/mw-cluster}
NAME=${MW_CLUSTER_NAME:-mwc}
NET=${MW_CLUSTER_NET:-10.231.77}
SLOTS=${MW_CLUSTER_SLOTS:-2}
SW=$NAME-sw

die() { echo "netns-cluster: $*" >&2; exit 1; }
skip() { echo "netns-cluster: SKIP: $*" >&2; exit 77; }
usage() {
	echo "usage: $0 up N | down | status | run HOST -- CMD... | link HOST up|down" >&2
	echo "       (state in \$MW_CLUSTER_DIR, default /tmp/mw-cluster)" >&2
	exit 2
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	local secs=$1; shift
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < end)) || return 1
		sleep 0.1
	done
}

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# hosts: the names of the cluster's hosts (h1 h2 ...), one a line in $DIR/hosts.
hosts() { [[ -s $DIR/hosts ]] && cat "$DIR/hosts"; }

check_host() {
	[[ $(id -u) == 0 ]] || skip "must run as root (network namespaces, sshd)"
	local c
	for c in ip ssh ssh-keygen nsenter unshare; do
		command -v "$c" >/dev/null || skip "missing $c (apt-get install iproute2 openssh-client util-linux)"
	done
	[[ -x /usr/sbin/sshd ]] || skip "missing /usr/sbin/sshd (apt-get install openssh-server; make deps)"
	# Can this machine (container?) make a network namespace with a veth pair and a bridge?
	local probe=$NAME-probe$$
	if ! ip netns add "$probe" 2>/dev/null; then
		skip "cannot create network namespaces here (ip netns add failed: no CAP_SYS_ADMIN?)"
	fi
	if ! ip -n "$probe" link add p0 type veth peer name p1 2>/dev/null ||
		! ip -n "$probe" link add b0 type bridge 2>/dev/null; then
		ip netns del "$probe" 2>/dev/null || true
		skip "cannot create veth pairs or bridges in a network namespace here"
	fi
	ip netns del "$probe"
}

up() {
	local n=${1:-}
	if ! [[ $n =~ ^[1-9][0-9]*$ ]] || ((n > 250)); then usage; fi
	check_host
	if [[ -s $DIR/hosts ]] && ip netns list | grep -q "^$SW\b"; then
		die "a cluster is already up in $DIR ($(hosts | xargs)): '$0 down' first"
	fi
	ip netns list | grep -q "^$NAME-" && die "namespaces named $NAME-* exist already (another cluster? set MW_CLUSTER_NAME)"
	mkdir -p "$DIR/ssh"
	chmod 0755 "$DIR"
	rm -f "$DIR/hosts" "$DIR/hostfile" "$DIR/ssh/known_hosts" "$DIR/ssh/authorized_keys"
	# Whatever fails from here on (die, set -e), take down what was made.
	trap 'rc=$?; if ((rc != 0)); then echo "netns-cluster: up failed; cleaning up" >&2; down >/dev/null 2>&1 || true; fi' EXIT

	# The switch: a bridge in a namespace of its own.
	ip netns add "$SW"
	ip -n "$SW" link set lo up
	ip -n "$SW" link add br0 type bridge
	ip -n "$SW" link set br0 up

	# The client key every host accepts, and the ssh client's config.
	rm -f "$DIR/ssh/id_ed25519" "$DIR/ssh/id_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C "mw-cluster" -f "$DIR/ssh/id_ed25519"
	cp "$DIR/ssh/id_ed25519.pub" "$DIR/ssh/authorized_keys"
	mkdir -p /run/sshd # sshd's privilege separation directory
	chmod 0755 /run/sshd

	local i h addr ns
	for ((i = 1; i <= n; i++)); do
		h=h$i addr=$NET.$i ns=$NAME-$h
		echo "$h" >>"$DIR/hosts"
		ip netns add "$ns"
		ip -n "$ns" link set lo up # without lo the ranks hang
		# The cable: eth0 in the host, $h on the switch.
		ip -n "$SW" link add "$h" type veth peer name eth0 netns "$ns"
		ip -n "$SW" link set "$h" master br0 up
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n "$ns" link set eth0 up

		mkdir -p "$DIR/$h"
		rm -f "$DIR/$h/ssh_host_ed25519_key"* "$DIR/$h/sshd.pid"
		ssh-keygen -q -t ed25519 -N '' -C "$h" -f "$DIR/$h/ssh_host_ed25519_key"
		echo "$addr,$h $(cut -d' ' -f1,2 "$DIR/$h/ssh_host_ed25519_key.pub")" >>"$DIR/ssh/known_hosts"
		cat >"$DIR/$h/sshd_config" <<EOF
# sshd of host $h ($addr), written by scripts/cluster/netns-cluster.sh
ListenAddress $addr
Port 22
HostKey $DIR/$h/ssh_host_ed25519_key
PidFile $DIR/$h/sshd.pid
AuthorizedKeysFile $DIR/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# the keys live under /tmp (world-writable): sshd's ownership checks would refuse them
StrictModes no
X11Forwarding no
PrintMotd no
PrintLastLog no
# notice a dead client (a link down) within about 15 s
ClientAliveInterval 5
ClientAliveCountMax 3
MaxStartups 200
MaxSessions 200
LogLevel INFO
EOF
		# The host's own hostname: sshd (and every session it starts) lives in a new UTS
		# namespace. sshd -D stays in the foreground of a session of its own (setsid), its
		# output in its log: no daemon(), which fails whenever /dev/null is not the device.
		# It writes its pid file; `down` ends it and its sessions by pid.
		setsid ip netns exec "$ns" unshare --uts \
			sh -c "hostname $h && exec /usr/sbin/sshd -D -f '$DIR/$h/sshd_config' -E '$DIR/$h/sshd.log'" \
			<"$DIR/$h/sshd_config" >>"$DIR/$h/sshd.log" 2>&1 &
	done

	cat >"$DIR/ssh/config" <<EOF
# ssh client config for the netns cluster in $DIR (ssh -F this-file h2)
Host *
	User root
	IdentityFile $DIR/ssh/id_ed25519
	IdentitiesOnly yes
	UserKnownHostsFile $DIR/ssh/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	ConnectTimeout 5
	# notice a dead server (a link down) within about 15 s
	ServerAliveInterval 5
	ServerAliveCountMax 3
	LogLevel ERROR
	# the post-quantum default key exchange costs seconds of CPU on a loaded 2-core test machine
	KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
EOF
	for h in $(hosts); do
		printf 'Host %s\n\tHostName %s.%s\n' "$h" "$NET" "${h#h}" >>"$DIR/ssh/config"
	done

	# The hostfile, by address (the names h1, h2, ... exist only in the ssh config).
	{
		echo "# netns cluster in $DIR: one line per host, slots = ranks it takes"
		for h in $(hosts); do echo "$NET.${h#h} slots=$SLOTS"; done
	} >"$DIR/hostfile"

	# mpirun with everything the subnet needs, as a wrapper: $DIR/mpirun -np 3 ./mw ...
	# The flags go on mpirun's command line (not in OMPI_MCA_* variables) so that mpirun
	# hands them on to the daemons (orted) it starts on the other hosts over ssh.
	cat >"$DIR/mpirun" <<EOF
#!/bin/sh
# mpirun for the netns cluster in $DIR; run it inside a host:
#   scripts/cluster/netns-cluster.sh run h1 -- $DIR/mpirun -np 3 --map-by node ./mw ...
exec mpirun --hostfile "$DIR/hostfile" \\
	--mca plm_rsh_agent "ssh -F $DIR/ssh/config" \\
	--mca pml ob1 --mca btl tcp,self \\
	--mca btl_tcp_if_include $NET.0/24 --mca oob_tcp_if_include $NET.0/24 \\
	--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3 \\
	"\$@"
EOF
	chmod 0755 "$DIR/mpirun"
	cat >"$DIR/env" <<EOF
# . this file for the netns cluster in $DIR
export MW_CLUSTER_DIR=$DIR MW_CLUSTER_NAME=$NAME MW_CLUSTER_NET=$NET
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF

	# Ready when every sshd answers from h1 (over the bridge) as the host it should be.
	local first
	first=$(hosts | head -1)
	for h in $(hosts); do
		wait_for 10 alive "$DIR/$h/sshd.pid" || die "sshd of $h did not start: $(tail -3 "$DIR/$h/sshd.log")"
		wait_for 15 in_host "$first" ssh -F "$DIR/ssh/config" "$h" "test \$(hostname) = $h" ||
			die "cannot ssh from $first to $h: $(in_host "$first" ssh -F "$DIR/ssh/config" "$h" true 2>&1 | tail -3)"
	done
	trap - EXIT
	echo "netns-cluster: up: $(hosts | xargs) on $NET.0/24; hostfile $DIR/hostfile; mpirun: $DIR/mpirun"
}

# in_host HOST CMD...: run CMD in HOST's network and UTS namespaces (its sshd's).
in_host() {
	local h=$1; shift
	local pidf=$DIR/$h/sshd.pid
	alive "$pidf" || die "host $h is not up (no sshd pid in $pidf)"
	nsenter -t "$(cat "$pidf")" -n -u -- "$@"
}

run() {
	local h=${1:-}
	[[ -n $h ]] || usage
	shift
	[[ ${1:-} == -- ]] && shift
	(($# > 0)) || usage
	in_host "$h" "$@"
}

link() {
	local h=${1:-} how=${2:-}
	[[ -n $h && ($how == up || $how == down) ]] || usage
	hosts | grep -qx "$h" || die "no host $h in $DIR/hosts"
	ip -n "$SW" link set "$h" "$how"
}

down() {
	local h ns
	local -a pids
	# Every process in a host's namespace: its sshd, the sessions, mpirun's daemons, ranks.
	for ns in $(ip netns list | awk '{print $1}' | grep "^$NAME-" || true); do
		mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
		if ((${#pids[@]} > 0)); then kill -TERM "${pids[@]}" 2>/dev/null || true; fi
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$NAME-" || true); do
		if ! wait_for 5 bash -c "[ -z \"\$(ip netns pids $ns)\" ]"; then
			mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
			if ((${#pids[@]} > 0)); then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
		fi
		ip netns del "$ns" 2>/dev/null || echo "netns-cluster: could not delete namespace $ns" >&2
	done
	for h in $(hosts || true); do rm -f "$DIR/$h/sshd.pid"; done
	rm -f "$DIR/hosts"
	echo "netns-cluster: down ($DIR kept: sshd logs in $DIR/h*/sshd.log)"
}

status() {
	local h rc=0
	if ! [[ -s $DIR/hosts ]]; then
		echo "netns-cluster: not up ($DIR)"
		return 3
	fi
	for h in $(hosts); do
		local st=down
		alive "$DIR/$h/sshd.pid" && st="sshd pid $(cat "$DIR/$h/sshd.pid")" || rc=3
		local l
		l=$(ip -n "$SW" -br link show "$h" 2>/dev/null | awk '{print $2}') || l=missing
		echo "$h $NET.${h#h} $st link ${l:-missing}"
	done
	echo "hostfile: $DIR/hostfile"
	echo "mpirun:   $DIR/mpirun (inside a host: $0 run h1 -- $DIR/mpirun -np N ...)"
	return $rc
}

case ${1:-} in
up) up "${2:-}" ;;
down) down ;;
status) status ;;
run) shift; run "$@" ;;
link) link "${2:-}" "${3:-}" ;;
*) usage ;;
esac
