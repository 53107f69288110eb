# shellcheck shell=bash
# What mn and the tools need from the system, as COMMAND:DEBIAN_PACKAGE.
# One list: scripts/setup installs what is missing (--dev: also what the
# tests and CI use), and mn checks its programs against it before building
# anything (`mn: ping not found (Debian package: iputils-ping)`).
# shellcheck disable=SC2034 # read by scripts/setup and build.sh

# Whether COMMAND is a program PATH can run: `command -v` and `type -P`
# also name a file without its x bit when PATH has no runnable one.
have() { # COMMAND
	local p
	p=$(type -P -- "$1") && [[ -x $p && ! -d $p ]]
}

# mn, the tools, and the node shells' usual commands.
run_packages=(
	bash:bash ip:iproute2 tc:iproute2 ss:iproute2 ping:iputils-ping
	iperf3:iperf3 ps:procps awk:mawk
	nft:nftables python3:python3
)

# The tests, the man page check, the examples and CI.
dev_packages=(
	man:man-db groff:groff-base tmux:tmux shellcheck:shellcheck
	gnuplot:gnuplot-nox make:make chrt:util-linux setpriv:util-linux
	socat:socat sha256sum:coreutils jq:jq prlimit:util-linux
	dot:graphviz tcpdump:tcpdump
	sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client nsenter:util-linux
	ovs-vswitchd:openvswitch-switch ovsdb-server:openvswitch-switch
	ovs-vsctl:openvswitch-switch ovs-ofctl:openvswitch-switch
	ovsdb-tool:openvswitch-common ovs-testcontroller:openvswitch-testcontroller
	python3:python3 ethtool:ethtool
)

# --dev: Faucet, the OpenFlow controller the OVS tests run, from PyPI into
# a virtualenv of its own (its launcher execs osken-manager: the tests put
# the virtualenv's bin first in PATH).
faucet_venv=/opt/mn-faucet faucet_version=1.10.12
