# The node shell's own code. It runs once, from PROMPT_COMMAND, before the
# shell reads its first line, in a new shell and in one reborn after an
# exit. Whatever the user's commands change (options, aliases, functions,
# IFS, traps, limits), the hooks below must run the same: they call
# builtins through `builtin`, quote every expansion, set their own options
# in a `local -` scope, and are readonly, as are the variables the shell's
# reading depends on.
__mn_init=$PROMPT_COMMAND __mn_bash=$BASH __mn_nofile=${__MN_NOFILE:-1024}
export -n PROMPT_COMMAND PS1 PS2 __MN_NOFILE __MN_FIFO __MN_LOG
unset HISTFILE MAIL MAILPATH MAILCHECK TMOUT PS0
set +o history
__mn_rc=0 __mn_tty= __mn_live= __mn_c= __mn_s= __mn_m= __mn_x= __mn_bg= __mn_ran=
__mn_i=/dev/null __mn_o=/dev/null __mn_e=/dev/null
# __mn NONCE CMDFILE STATUS [IN OUT ERR]: takes a request. The command file
# holds the nonce, then the text to evaluate; it stays open on fd 60 and
# the status pipe on fd 61 until the status is written, both closed for
# the command itself.
__mn() {
  builtin local -
  builtin set +eEfuvxTC +o pipefail
  builtin ulimit -Sn "$__mn_nofile"
  __mn_live= __mn_c= __mn_x= __mn_ran= __mn_bg=${!-}
  __mn_i=/dev/null __mn_o=/dev/null __mn_e=/dev/null __mn_s=$3 __mn_m=$2
  exec 60<&- 61>&-
  exec 60<"$2" || return "$__mn_rc"
  builtin local nonce=
  IFS= builtin read -r -u 60 nonce
  if [[ $nonce != "$1" ]]; then exec 60<&-; return "$__mn_rc"; fi
  IFS= builtin read -r -u 60 -d '' __mn_c
  exec 61<>"$3" || { __mn_c=; exec 60<&-; return "$__mn_rc"; }
  # One job that ends normally has bash save the modes of fd 255 (below).
  if [[ ! $__mn_tty ]]; then ( : ); __mn_tty=1; fi
  __mn_live=1 __mn_i=${4:-/dev/null} __mn_o=${5:-/dev/null} __mn_e=${6:-/dev/null}
  builtin printf + >&61
  return "$__mn_rc"
}
# __mn_status KIND VALUE...: the status line, on the status pipe, led by the
# request's nonce: read again from the command file, never kept where the
# command could see it. Where fds 60 and 61 are not what __mn left (the
# shell exits from within the command, whose redirections closed them),
# they are found among the shell's descriptors.
__mn_status() {
  [[ $__mn_live ]] || return 0
  __mn_live=
  builtin local f m=/proc/self/fd/60 s=/proc/self/fd/61 nonce= IFS=' ' GLOBIGNORE=
  if ! [[ $m -ef $__mn_m && $s -ef $__mn_s ]]; then
    m= s=
    for f in /proc/self/fd/*; do
      if [[ $f -ef $__mn_m ]]; then m=$f; elif [[ $f -ef $__mn_s ]]; then s=$f; fi
    done
  fi
  if [[ $m && $s ]]; then
    IFS= builtin read -r nonce <"$m"
    builtin printf '%s %s\n' "$nonce" "$*" 1<>"$s"
  fi
  exec 60<&- 61>&-
  __mn_c= __mn_i=/dev/null __mn_o=/dev/null __mn_e=/dev/null
}
# The traps the protocol needs, set again after every command.
__mn_traps() {
  builtin trap - INT; builtin trap : PIPE; builtin trap __mn_reborn EXIT
  builtin local sig
  for sig in HUP ALRM USR1 USR2 XCPU XFSZ VTALRM PROF IO PWR SYS; do
    builtin trap "__mn_fatal $sig" "$sig"
  done
}
# PROMPT_COMMAND: the command line is over; reports its status.
__mn_done() {
  __mn_rc=$?
  builtin set +o emacs +o vi +m
  builtin local -
  builtin set +eEfuvxTC +o pipefail
  __mn_traps
  if [[ $__mn_x ]]; then __mn_rc=$__mn_x __mn_x=; fi
  [[ $__mn_live ]] || return 0
  builtin ulimit -Sn "$__mn_nofile"
  builtin local bg=-
  if [[ ${!-} && ${!-} != "$__mn_bg" ]]; then bg=${!-}; fi
  __mn_status st "$__mn_rc" "$bg" "${__mn_ran:--}"
}
# `exit` ends the command line, not the shell.
exit() {
  __mn_x=$?
  if [[ $BASHPID != "$$" ]]; then builtin exit "${1-$__mn_x}"; fi
  builtin local -
  builtin set +eEfuvxTC +o pipefail
  if [[ $# -gt 0 ]]; then __mn_x=$1; fi
  [[ $__mn_x =~ ^-?[0-9]+$ ]] || __mn_x=2
  __mn_x=$(( __mn_x & 255 ))
  # The command may have trapped or ignored INT: the line must end anyway.
  builtin trap - INT
  builtin kill -INT "$$"
}
# The EXIT trap. In the shell itself: it is ending (set -e and a failure,
# builtin exit); report and be reborn. In a child the shell forked, which
# keeps the trap until it resets its traps just before exec: a signal in
# that moment only kills the child, as it would the program it was to be.
__mn_reborn() {
  builtin local rc=$?
  if [[ $BASHPID != "$$" ]]; then
    builtin trap - EXIT
    if ((rc > 128 && rc < 192)); then
      builtin trap - $((rc - 128)); builtin kill -$((rc - 128)) "$BASHPID"
    fi
    return
  fi
  __mn_end exit "$rc"
}
# The trap on a signal that would end the shell: it does, reborn.
__mn_fatal() {
  if [[ $BASHPID != "$$" ]]; then
    builtin trap - "$1" EXIT; builtin kill "-$1" "$BASHPID"; return
  fi
  __mn_end sig "$1"
}
# `ulimit` changes soft limits unless told -H: bash's own default (both)
# would keep the shell from raising the descriptor limit its hooks need.
ulimit() {
  builtin local a
  for a in "$@"; do
    if [[ $a == -*[HS]* ]]; then builtin ulimit "$@"; return; fi
  done
  builtin ulimit -S "$@"
}
# Reports how the shell ended and execs a fresh one in the same process
# (same pid, namespaces and cgroup) on the same FIFO and log: the spare
# descriptors 63 and 62 taken at the first start. Nothing is opened by path;
# with the FIFO gone from fd 63, the shell dies instead.
__mn_end() {
  builtin trap - EXIT
  builtin set +eEuvxTCf +o pipefail
  __mn_status "$@"
  [[ -p /proc/self/fd/63 ]] || builtin exit 1
  builtin ulimit -t unlimited -f unlimited
  builtin local env=/usr/bin/env
  [[ -x $env ]] || env=/bin/env
  builtin exec "$env" -u BASH_ENV -u ENV PROMPT_COMMAND="$__mn_init" __MN_REBORN=1 \
    __MN_NOFILE="$__mn_nofile" PS1= PS2= \
    "$__mn_bash" --norc --noprofile --noediting -i 0<&63 1>&62 2>&62 60<&- 61>&- 255>&-
}
readonly -f __mn __mn_status __mn_traps __mn_done exit ulimit __mn_reborn __mn_fatal __mn_end
__mn_traps
# bash restores the terminal's modes on fd 255 (a copy of stderr, the log)
# after a command killed by a signal, and complains on the command's
# stderr when that is no terminal (`yes | head`). A pty master which
# nothing reads takes the modes quietly: the one mnnode gave the shells it
# started on fd 59 (kept for a reborn shell), else one of our own.
exec 255>&-
if [[ -t 59 ]]; then
  exec 255>&59
else
  { exec 255<>/dev/ptmx; } 2>/dev/null || exec 255>&2
fi
PROMPT_COMMAND=__mn_done
readonly PROMPT_COMMAND PS0= PS1= PS2= TMOUT= __mn_init __mn_bash __mn_nofile
if [[ ${__MN_REBORN-} ]]; then
  unset __MN_REBORN
else
  exec 63<&0 62>&2
  builtin printf '\1mnready\n'
  exec 1>&2
fi
