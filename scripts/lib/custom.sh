# shellcheck shell=bash
# Sourced by scripts/mn: --custom FILE, Mininet's custom topology files.
# A Python shim (lib/mininet_shim/, python3's standard library only;
# Mininet need not be installed) runs the files unchanged, picks --topo
# NAME[,ARGS] from their `topos` dict, and writes the topology as the
# records topo-run.sh writes for a topology file; mn checks and builds
# them as any other topology. The shim's own errors (a file that raises,
# an unsupported parameter) are one line naming the file and line.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2034,SC2154

custom_files=() # as given: --custom A --custom B, or --custom A,B
topo_file=''    # the file that defines the topology, for messages

# Loads --topo from the custom files when they define it: returns 1 (and
# mn goes on with the built-in topologies and files) when they do not.
custom_topology() {
	((${#custom_files[@]})) || return 1
	local files=() f rc=0 names more
	for f in "${custom_files[@]}"; do
		IFS=, read -r -a more <<<"$f"
		files+=("${more[@]}")
	done
	for f in "${files[@]}"; do
		[[ -f $f && -r $f ]] || die "--custom $f: not a readable file"
	done
	need python3
	python3 -B "$lib/mininet_shim/mn_custom.py" "$tmp/records" "$max_hosts" "$max_nodes" "$max_links" "$topo" "${files[@]}" \
		</dev/null 3>"$tmp/custom" || rc=$?
	case $rc in
	0) ;;
	3)
		# Not defined there: a built-in topology or a file, or nothing.
		case ${topo%%,*} in minimal | single | linear | tree | reversed | torus | fattree) return 1 ;; esac
		[[ ! -e $topo ]] || return 1
		names=$(paste -sd, "$tmp/custom" | sed 's/,/, /g')
		[[ -n $names ]] || names="it has no topos = {'NAME': ...}"
		die "--topo ${topo%%,*}: not a topology of ${files[*]} ($names) nor built in ($builtins)" ;;
	*) exit 1 ;; # the shim said why, in one line
	esac
	{ IFS= read -r topo_file; IFS= read -r f || true; } <"$tmp/custom"
	# Switches in a loop: spanning tree, as for torus and fattree.
	[[ $f != stp ]] || stp=1
	run_topology made
	((${#hosts[@]} + ${#switches[@]} + ${#routers[@]})) || die "--topo $topo: no nodes"
	return 0
}
