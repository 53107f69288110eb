# shellcheck shell=bash
# Sourced by scripts/mn: Open vSwitch switches and OpenFlow controllers
# (--switch, --controller), and the CLI's dpctl and switch commands.
# The switches are mnnode's --kind ovs: the lab's own ovsdb-server and
# ovs-vswitchd, in a namespace of the lab's (see mnnode(1), OVS switches).
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154,SC2034

opt_switch='' opt_controller='' controller_type=none
switch_kind=switch # what mnnode add makes of the topology's switches
switch_args=()     # and its OVS options
switch_protocols='' switch_fail_mode=''

# Mininet's --switch and --controller: TYPE[,KEY=VALUE...].
parse_switch_option() {
	local type=${opt_switch%%,*} kv key value datapath='' controller
	local -a params=()
	[[ $opt_switch != *,* ]] || IFS=, read -r -a params <<<"${opt_switch#*,}"
	case $type in
	'') [[ -n $opt_controller && ${opt_controller%%,*} != none ]] && type=ovs ;;
	lxbr | ovs | ovsk | ovsbr | user) ;;
	*) die "--switch $type: not a switch (lxbr, ovs, ovsk, ovsbr, user)" ;;
	esac
	case $type in
	'' | lxbr)
		# stp=1: the kernel's spanning tree, for topologies with loops.
		for kv in "${params[@]}"; do
			case $kv in
			stp=1) stp=1 ;;
			stp=0) ;;
			*) die "--switch $opt_switch: $kv: not an option of Linux bridges (stp=0|1)" ;;
			esac
		done
		return 0 ;;
	ovsk) datapath=kernel ;;
	user) datapath=user ;;
	esac
	switch_kind=ovs
	for kv in "${params[@]}"; do
		key=${kv%%=*} value=${kv#*=}
		# protocols=OpenFlow10,OpenFlow13: the list goes on after a comma.
		if [[ $kv != *=* && $key == OpenFlow* && -n $switch_protocols ]]; then
			key=protocols value=$switch_protocols,$kv
		fi
		[[ ($kv == *=* || $key == protocols) && -n $value ]] || die "--switch $opt_switch: $kv: not KEY=VALUE"
		case $key in
		protocols)
			local v
			for v in ${value//,/ }; do
				[[ $v == OpenFlow1[0-5] ]] || die "--switch $opt_switch: $v: not an OpenFlow version (OpenFlow10 to OpenFlow15)"
			done
			switch_protocols=$value ;;
		datapath)
			case $value in user | kernel) datapath=$value ;; *) die "--switch $opt_switch: datapath=$value: not user or kernel" ;; esac ;;
		failMode | fail_mode)
			case $value in secure | standalone) switch_fail_mode=$value ;; *) die "--switch $opt_switch: failMode=$value: not secure or standalone" ;; esac ;;
		*) die "--switch $opt_switch: $key: not an option (protocols, datapath, failMode)" ;;
		esac
	done
	# ovsbr: OVS as a plain learning bridge, no controller (Mininet's OVSBridge).
	if [[ $type == ovsbr ]]; then
		switch_fail_mode=standalone
		[[ -z $opt_controller || ${opt_controller%%,*} == none ]] ||
			die "--switch ovsbr: an OVS bridge has no controller (--controller $opt_controller)"
	fi
	controller=${opt_controller:-ref}
	[[ $type != ovsbr ]] || controller=none
	parse_controller_option "$controller"
	# Mininet's OVSSwitch: secure, so without a controller nothing forwards
	# until flows are added (dpctl add-flow).
	switch_fail_mode=${switch_fail_mode:-secure}
	switch_args+=(--fail-mode "$switch_fail_mode")
	[[ -z $switch_protocols ]] || switch_args+=(--protocols "$switch_protocols")
	[[ -z $datapath ]] || switch_args+=(--datapath "$datapath")
}

parse_controller_option() { # SPEC
	local spec=$1 type=${1%%,*} kv key value ip=127.0.0.1 port=6653
	local -a params=()
	[[ $spec != *,* ]] || IFS=, read -r -a params <<<"${spec#*,}"
	case $type in
	none | ref)
		((${#params[@]} == 0)) || die "--controller $spec: $type takes no options" ;;
	remote)
		for kv in "${params[@]}"; do
			key=${kv%%=*} value=${kv#*=}
			[[ $kv == *=* && -n $value ]] || die "--controller $spec: $kv: not KEY=VALUE"
			case $key in
			ip) ip=$value ;;
			port) port=$value ;;
			*) die "--controller $spec: $key: not an option (ip, port)" ;;
			esac
		done
		if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
			die "--controller $spec: port=$port: not a port number"
		fi ;;
	*) die "--controller $spec: not a controller (none, ref, remote[,ip=IP][,port=PORT])" ;;
	esac
	controller_type=$type
	case $type in
	ref) switch_args+=(--controller ref) ;;
	remote) switch_args+=(--controller "tcp:$ip:$((10#$port))") ;;
	esac
}

check_switch_programs() {
	[[ $switch_kind == ovs ]] || return 0
	need ovs-vswitchd ovsdb-server ovs-vsctl ovs-ofctl
	[[ " ${switch_args[*]} " != *" --controller ref "* ]] || need ovs-testcontroller
	# The kernel's datapath, asked for, must be there before anything is made.
	if [[ " ${switch_args[*]} " == *" --datapath kernel "* && ! -d /sys/module/openvswitch ]]; then
		modprobe -q openvswitch 2>/dev/null || true
		[[ -d /sys/module/openvswitch ]] ||
			die "--switch $opt_switch: this kernel has no openvswitch module; use --switch ovs,datapath=user"
	fi
}

# --- the CLI ---------------------------------------------------------------------

# dpctl CMD [ARGS]: ovs-ofctl CMD SWITCH ARGS on every OVS switch, as
# Mininet's (with the switches' OpenFlow versions).
cli_dpctl() {
	if [[ $switch_kind != ovs ]]; then
		echo "*** Error: dpctl needs OVS switches (mn --switch ovs)"
		return 0
	fi
	(($#)) || { echo "usage: dpctl CMD [ARGS]"; return 0; }
	local s cmd=(ovs-ofctl)
	[[ -z $switch_protocols ]] || cmd+=(-O "$switch_protocols")
	for s in "${switches[@]}"; do
		output "*** $s ------------------------------------------------------------------------"
		mnrun -n "$s" "$(printf '%q ' "${cmd[@]}" "$1" "$s" "${@:2}")" || true
	done
}

# switch NAME start|stop of an OVS switch: stopped, it has no controller
# and no flows (it drops everything), as Mininet's, whose stop deletes the
# bridge.
ovs_switch_state() { # NAME start|stop
	local s=$1 saved=$tmp/switch-$1 ofctl=ovs-ofctl
	[[ -z $switch_protocols ]] || ofctl+=" -O $switch_protocols"
	if [[ $2 == stop ]]; then
		[[ ! -e $saved ]] || { echo "*** $s is stopped already"; return 0; }
		mnrun -n "$s" "ovs-vsctl get-controller $s" >"$saved" || { rm -f "$saved"; return 0; }
		mnrun -n "$s" "ovs-vsctl del-controller $s -- set-fail-mode $s secure && $ofctl del-flows $s" || true
	else
		[[ -e $saved ]] || { echo "*** $s is running already"; return 0; }
		local targets
		targets=$(tr '\n' ' ' <"$saved")
		rm -f "$saved"
		if [[ -n ${targets// /} ]]; then
			mnrun -n "$s" "ovs-vsctl set-fail-mode $s $switch_fail_mode -- set-controller $s $targets" || true
		else
			# No controller: a standalone switch learns again (OVS's NORMAL).
			mnrun -n "$s" "ovs-vsctl set-fail-mode $s $switch_fail_mode" || true
			[[ $switch_fail_mode != standalone ]] || mnrun -n "$s" "$ofctl add-flow $s actions=NORMAL" || true
		fi
	fi
}

# What dump says of a switch: OVSSwitch and its datapath id for OVS.
switch_label() { # NAME
	if [[ $switch_kind == ovs ]]; then
		local dpid
		dpid=$(mnrun -n "$1" "ovs-vsctl get bridge $1 other-config:datapath-id" 2>/dev/null) || dpid='?'
		printf "OVSSwitch{'dpid': '%s'}" "${dpid//\"/}"
	else
		printf 'Switch'
	fi
}

# Mininet connects a switch to its controller once its ports exist; ours
# connect when added, before mnlink makes their ports. A controller may
# ignore ports added while it is still taking the switch up (Faucet 1.10
# does, under load: it never forwards on them), so a remote controller is
# connected again once the ports are there: one transaction removes every
# switch's controllers and waits for ovs-vswitchd to drop them, a second
# sets them back.
reconnect_controllers() {
	[[ $switch_kind == ovs && $controller_type == remote ]] || return 0
	# shellcheck disable=SC2016
	mnrun -n "${switches[0]}" 'declare -A __t=(); __d=() __s=()
		while IFS=, read -r __u __x; do __t[$__u]=$__x; done < <(ovs-vsctl -f csv --no-headings -d bare --columns=_uuid,target list controller)
		while IFS=, read -r __b __c; do
			[[ -n $__c ]] || continue
			__d+=(-- del-controller "$__b") __s+=(-- set-controller "$__b")
			for __u in $__c; do __s+=("${__t[$__u]}"); done
		done < <(ovs-vsctl -f csv --no-headings -d bare --columns=name,controller list bridge)
		((${#__d[@]} == 0)) || { ovs-vsctl "${__d[@]}" && ovs-vsctl "${__s[@]}"; }' ||
		say "Could not connect the switches to their controller again"
}

# Before a test or the CLI: every OVS switch connected to its remote
# controller (Mininet's --wait; OVS records a connection in its database
# within about 5 s), within 10 s; a switch still unconnected is said, not
# fatal (the controller may come later). The lab's own ref answers at once.
wait_switches() {
	[[ $switch_kind == ovs && $controller_type == remote ]] || return 0
	# shellcheck disable=SC2016
	mnrun -n "${switches[0]}" 'for __i in {1..100}; do
		__c=$(ovs-vsctl --bare --columns=is_connected list controller) || break
		[[ $__c != *false* ]] && exit 0; sleep 0.1; done
		ovs-vsctl --bare --columns=_uuid,is_connected list controller >/dev/null; exit 1' ||
		say "Some switches are not connected to their controller yet"
}
