# shellcheck shell=bash
# Sourced by scripts/mn: Mininet's launcher options beyond the topology
# and the switches (ovs.sh): --host,
# --arp, --pre/--post, --wait and --innamespace; and what runs between
# the build and the test or CLI.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

opt_host=process
host_opts=()   # mnnode add options for hosts (--cpu)
static_arp=0 pre_script='' post_script='' opt_wait=0

# --host process|cfs[,cpu=F]: F is Mininet's share of the whole machine
# (all cores); mnnode --cpu takes a share of one CPU.
parse_host_option() { # VALUE
	local sched=${1%%,*} rest cpu='' p parts
	case $sched in
	process | proc) ;;
	cfs) ;;
	rt) die "--host $1: real-time scheduling (rt) is not supported (process, cfs[,cpu=F])" ;;
	*) die "--host $1: not a host class (process, cfs[,cpu=F])" ;;
	esac
	rest=${1#"$sched"}
	IFS=, read -r -a parts <<<"${rest#,}"
	for p in "${parts[@]}"; do
		case $p in
		cpu=*) cpu=${p#cpu=} ;;
		*) die "--host $1: $p is not an option of $sched (cpu=F)" ;;
		esac
	done
	[[ -z $cpu ]] && return 0
	[[ $sched == cfs ]] || die "--host $1: cpu= needs cfs (--host cfs,cpu=$cpu)"
	if ! [[ $cpu =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] || ! awk -v f="$cpu" 'BEGIN { exit !(f > 0 && f <= 1) }'; then
		die "--host $1: cpu=$cpu is not a fraction of the machine (0 < F <= 1)"
	fi
	local cores
	cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || cores=1
	host_opts=(--cpu "$(awk -v f="$cpu" -v n="$cores" 'BEGIN { printf "%.4f", f * n }')")
}

# What the extra options need, checked before anything is made.
check_launch_options() {
	local f
	for f in ${pre_script:+--pre} ${post_script:+--post}; do
		local -n path=${f#--}_script
		[[ -f $path && -r $path ]] || die "$f $path: not a readable file"
	done
	return 0
}

# Between the build and the test or CLI: the spanning tree settled,
# static ARP, the --pre script. (--wait: switches are ready once built.)
launch_ready() {
	nat_start
	stp_settle
	((static_arp == 0)) || set_static_arp
	[[ -z $pre_script ]] || run_script --pre "$pre_script"
}

# After the test or CLI, whatever its outcome.
launch_done() {
	[[ -z $post_script ]] || run_script --post "$post_script"
}

run_script() { # OPTION FILE: CLI commands, as `source FILE` at the prompt
	say "Running $1 $2"
	cli_line "source $2" || true
}

# Every host learns every other host's MAC, as Mininet's staticArp.
set_static_arp() {
	local h i lines pids=() on=()
	local -A hw=()
	say "Setting static ARP entries"
	mkdir -p "$tmp/arp"
	for h in "${hosts[@]}"; do
		[[ -n ${first_if[$h]:-} ]] || continue
		"$bin/mnrun" -n "$h" "cat /sys/class/net/${first_if[$h]#*:}/address" >"$tmp/arp/$h" &
		pids+=($!) on+=("$h")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || die "--arp: ${on[i]}: could not read its MAC address"
		hw[${on[i]}]=$(<"$tmp/arp/${on[i]}")
	done
	pids=() on=()
	for h in "${!hw[@]}"; do
		lines=''
		for i in "${!hw[@]}"; do
			[[ $i == "$h" ]] || lines+="neigh replace ${ip[$i]%/*} lladdr ${hw[$i]} dev ${first_if[$h]#*:} nud permanent"$'\n'
		done
		[[ -n $lines ]] || continue
		"$bin/mnrun" -n "$h" "ip -batch - <<'__mn_arp'"$'\n'"$lines"'__mn_arp' &
		pids+=($!) on+=("$h")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || die "--arp: ${on[i]}: could not set its ARP entries"
	done
}
