# shellcheck shell=bash
# Sourced by scripts/mn: the built-in topologies with loops or odd port
# orders (Mininet's torus and reversed, and a k-ary fat-tree): their
# argument checks and sizes. Their records are made by topo-run.sh.
#
# A torus and a fat-tree have loops: their Linux bridges run the kernel's
# spanning tree (stp.sh), as `mn --switch lxbr,stp=1` does in Mininet.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

# Arguments the numbers alone do not check. NAME ARGS... (positive, normalised)
topolib_check() {
	case $1 in
	torus)
		# Mininet's TorusTopo refuses smaller ones: a 2-wide ring links
		# the same two switches twice.
		if big_gt 3 "$2" || big_gt 3 "$3"; then
			die "--topo $topo: a torus needs X and Y of 3 or more"
		fi
		stp=1 ;;
	fattree)
		[[ $2 == *[02468] ]] || die "--topo $topo: K must be even (k/2 hosts per edge switch)"
		stp=1 ;;
	esac
	return 0
}

big_half() { # DIGITS (even): $big = DIGITS / 2
	local d=$1 i r=0 q='' x
	for ((i = 0; i < ${#d}; i++)); do
		x=$((r * 10 + ${d:i:1}))
		q+=$((x / 2)) r=$((x % 2))
	done
	big_norm "$q"
}

# The hosts and switches, exact however big (see topo_size).
topolib_size() { # NAME ARGS...
	local m a
	for a in "${@:2}"; do
		((${#a} <= 100)) || { size_hosts='' size_switches=''; return 0; }
	done
	case $1 in
	reversed) big_norm "$2"; size_hosts=$big size_switches=1 ;;
	torus)
		big_mul "$2" "$3"; size_switches=$big
		big_mul "$size_switches" "$4"; size_hosts=$big ;;
	fattree)
		# k = 2m: k^3/4 = 2m^3 hosts; (k/2)^2 core, k^2/2 aggregation and
		# k^2/2 edge switches: 5m^2.
		big_half "$2"; m=$big
		big_mul "$m" "$m"; big_mul "$big" "$m"; big_mul "$big" 2; size_hosts=$big
		big_mul "$m" "$m"; big_mul "$big" 5; size_switches=$big ;;
	esac
}
