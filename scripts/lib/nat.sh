# shellcheck shell=bash
# Sourced by scripts/mn: --nat, as Mininet's addNAT: a node nat0 in the
# root namespace, linked to the first switch, holding the next address of
# --ipbase after the hosts'; every host gets a default route through it, and the root
# namespace forwards and masquerades what the hosts send elsewhere.
#
# The rules are one nftables table per lab, ip mn-nat-LABID, whose comment
# keeps what net.ipv4.ip_forward was; teardown and `mn -c` delete the table
# and put ip_forward back once no lab's NAT table is left.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154,SC2004 # mn's arrays are associative

nat=0 nat_name=nat0 nat_ip=''
nats=() # the NAT node, for node_error

# After the addresses: the node, its link and address, checked.
nat_plan() {
	((nat)) || return 0
	need nft
	local sw=${switches[0]:-} base=${ipbase%/*} prefix=${ipbase#*/} net size
	[[ -n $sw ]] || die "--nat: the topology has no switch to attach the NAT node to"
	[[ -z ${kind[$nat_name]:-} ]] || die "--nat: the topology already has a node named $nat_name"
	size=$((1 << (32 - prefix)))
	((${#hosts[@]} + 1 < size - 1)) || die "--nat: --ipbase $ipbase has no address left for $nat_name"
	# nat0's end lives in the root namespace: one network with --nat at a time.
	! ip link show dev "$nat_name-eth0" >/dev/null 2>&1 ||
		die "--nat: $nat_name-eth0 already exists in the root namespace (another network's NAT? mn -c removes it)"
	ip2int net "$base"
	int2ip nat_ip $(((net & ~(size - 1) & 0xffffffff) + ${#hosts[@]} + 1))
	nat_ip+=/$prefix
	nats=("$nat_name")
	kind[$nat_name]=host ip[$nat_name]=$nat_ip first_if[$nat_name]=$nat_name-eth0 node_at[$nat_name]=--nat
	# port[] is the switch's next port: nat0 takes it (s1-eth3 on single,2).
	links+=("add $nat_name-eth0 $sw-eth${port[$sw]}") link_at+=(--nat)
	port[$sw]=$((port[$sw] + 1))
	addrs+=("$nat_name-eth0 $nat_ip") addr_at+=(--nat)
}

# In build, with the other nodes: nat0 runs in the root namespace.
nat_add() {
	((${#nats[@]})) || return 0
	show nat "${nats[@]}"
	mnnode add --kind host --root "${nats[@]}" 2>"$tmp/add-nat" &
	adding+=($!) adding_kind+=(nat)
}

lab_id() { # $lab_id from the lab's marker, empty without one
	lab_id=''
	local marker=${MN_DIR:-/run/mn}/.mn-lab l
	[[ -r $marker ]] || return 0
	while IFS= read -r l; do [[ $l == id=* ]] && lab_id=${l#id=}; done <"$marker"
	[[ $lab_id =~ ^[0-9a-f]+$ ]] || lab_id=''
}

# Forwarding and masquerading in the root namespace; the hosts' default
# routes through nat0.
nat_start() {
	((${#nats[@]})) || return 0
	local forward subnet h pids=() on=() i why
	lab_id
	[[ -n $lab_id ]] || die "--nat: ${MN_DIR:-/run/mn}/.mn-lab: no lab id"
	say "Starting NAT $nat_name ($nat_ip)"
	forward=$(</proc/sys/net/ipv4/ip_forward)
	subnet=${nat_ip%/*}/${nat_ip#*/}
	why=$(nft -f - 2>&1 <<EOF
table ip mn-nat-$lab_id {
	comment "mn --nat; ip_forward was $forward"
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr $subnet ip daddr != $subnet masquerade
	}
}
EOF
	) || die "--nat: nft: ${why%%$'\n'*}"
	echo 1 >/proc/sys/net/ipv4/ip_forward || die "--nat: cannot turn on net.ipv4.ip_forward"
	for h in "${hosts[@]}"; do
		[[ -n ${first_if[$h]:-} ]] || continue
		"$bin/mnrun" -n "$h" "ip route replace default via ${nat_ip%/*}" &
		pids+=($!) on+=("$h")
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || printf '%s: --nat: %s: no default route through %s\n' "$prog" "${on[i]}" "$nat_name" >&2
	done
}

# The lab's NAT table, and ip_forward as it was when no NAT is left.
nat_clean() {
	have nft || return 0
	lab_id
	[[ -n $lab_id ]] || return 0
	local table forward=''
	table=$(nft list table ip "mn-nat-$lab_id" 2>/dev/null) || return 0
	[[ $table =~ ip_forward\ was\ ([01]) ]] && forward=${BASH_REMATCH[1]}
	nft delete table ip "mn-nat-$lab_id" || return 1
	info "removed NAT table ip mn-nat-$lab_id"
	[[ -n $forward ]] || return 0
	nft list tables ip 2>/dev/null | grep -q ' mn-nat-' || echo "$forward" >/proc/sys/net/ipv4/ip_forward
}
