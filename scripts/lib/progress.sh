# shellcheck shell=bash
# Sourced by scripts/mn: progress lines for big builds. A network of more
# than progress_min nodes takes seconds to build and to tear down; on a
# terminal each phase then ends with a line of counts and the time since
# the phase's start (`*** 1000 hosts, 100 switches added (1.234s)`). Not on
# a pipe or a file (what scripts read stays as it was), nor below info.
# The parts share mn's globals; `shellcheck -x scripts/mn` checks them together.
# shellcheck disable=SC2154

progress_min=200
progress_on=0 progress_t0=''

progress_start() { # NODES: decides, and starts the clock
	progress_t0=$EPOCHREALTIME
	progress_on=0
	if (($1 > progress_min)) && [[ -t 1 ]] && ((level <= 1)); then progress_on=1; fi
}

progress() { # WHAT...
	((progress_on)) || return 0
	printf '*** %s (%ss)\n' "$*" "$(seconds_since "$progress_t0")"
}

# "1000 hosts, 100 switches": the kinds there are, with their counts.
counted() { # KIND=N...
	local kv out=''
	for kv in "$@"; do
		((${kv#*=} == 0)) || out+="${kv#*=} ${kv%=*}, "
	done
	printf '%s' "${out%, }"
}
