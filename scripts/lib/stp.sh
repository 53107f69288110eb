# shellcheck shell=bash
# Sourced by scripts/mn: the spanning tree of topologies with loops (torus,
# fattree, --switch lxbr,stp=1). The switches' bridges run the kernel's
# STP with short timers from birth (mnnode add --stp: forward delay 2 s,
# hellos every second) and stay down while the links are made (--down);
# the link batch then starts the tree with the first switch as its root,
# and mn waits until every port is forwarding or blocking, so that the
# test or the CLI never meets a network still learning its tree.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

stp=0
stp_lines=() stp_at=() # the batch's line that starts the tree, and its origin

# Started right after the last link, before the addresses (which are made
# while the ports listen and learn): the first switch's bridge becomes the
# root and comes up first, the others right after, and the root's first
# hello elects the whole tree in one wave (mnlink stp --start). A lab
# across machines makes its switches' bridges up, with STP, from birth
# (add_nodes_cluster): they elect as the links come, and nothing is started.
stp_start_line() {
	((stp && ${#switches[@]})) && [[ -z $cluster ]] || return 0
	stp_lines=("stp --start ${switches[0]}") stp_at=(0)
}

# Settled: no port listening or learning, and the tree unchanged long
# enough that no news is still on its way (mnlink stp --wait says how
# long, from the hello time). One mnlink reads every switch's ports over
# netlink a few times a second, without starting a lazy switch's shell.
stp_settle() {
	((stp && ${#switches[@]})) || return 0
	say "Waiting for the spanning tree to settle on ${#switches[@]} switches"
	local states
	if [[ -n $cluster ]]; then
		states=$(stp_settle_cluster) || die "the spanning tree did not settle"
	else
		states=$("$bin/mnlink" stp --wait --timeout 120 --porcelain) || die "the spanning tree did not settle"
	fi
	info "$(grep -c $'\tblocking\t' <<<"$states" || true) ports blocked"
}

# Each machine's bridges, read there, all machines at once: the tree has
# settled once every machine's part has.
stp_settle_cluster() {
	local m s pids=() rc=0
	local -A holds=()
	for s in "${switches[@]}"; do holds[${machine_of[$s]}]=1; done
	for m in "${!holds[@]}"; do
		echo "stp --wait --timeout 120 --porcelain" | "$bin/mnlink" --on "$m" -b - >"$tmp/stp-$m" &
		pids+=($!)
	done
	for m in "${pids[@]}"; do wait "$m" || rc=1; done
	cat "$tmp"/stp-*
	return "$rc"
}
