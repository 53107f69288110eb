# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mnlink_global_optspecs
    string join \n b/batch= on= h/help V/version
end

function __fish_mnlink_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mnlink_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mnlink_using_subcommand
    set -l cmd (__fish_mnlink_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mnlink -n "__fish_mnlink_needs_command" -s b -l batch -d 'Run the subcommands in FILE (or stdin for -), one per line; `#` starts a comment. The first failing line stops the batch' -r -F
complete -c mnlink -n "__fish_mnlink_needs_command" -l on -d 'Run the batch on this machine of the hosts file instead, over one ssh call (see mnnode(1), section Machines): for lines whose nodes all live there' -r
complete -c mnlink -n "__fish_mnlink_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnlink -n "__fish_mnlink_needs_command" -s V -l version -d 'Print version'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "add" -d 'Create a veth pair between two nodes, optionally shaped'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "del" -d 'Delete the pair A belongs to'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "up" -d 'Bring both ends of A\'s pair up'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "down" -d 'Bring both ends of A\'s pair down (traffic stops until `up`)'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "set" -d 'Replace the shaping of one end (no options: remove it)'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "addr" -d 'Add an IPv4 or IPv6 address (CIDR, such as 10.0.0.1/8) to an end'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "mac" -d 'Set an end\'s MAC address (such as 00:00:00:00:00:01)'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "tunnel" -d 'One end of a link between machines, made on this machine by the home machine\'s mnlink (over ssh): a VXLAN device in the node\'s namespace'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "list" -d 'List links, each once: both ends, state, shaping (from the kernel)'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "stp" -d 'Show the spanning tree of the lab\'s switches (Linux bridges): each port\'s state and role, as the kernel has them'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "graph" -d 'Print the lab as a picture: nodes, links with both interface names, addresses and shaping, as the kernel has them'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "capture" -d 'Capture packets on endpoints into pcapng (merged in time order, each interface named), for Wireshark or `tcpdump -r`'
complete -c mnlink -n "__fish_mnlink_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l bw -d 'Rate limit in Mbit/s (a token bucket with a byte queue; see mnlink --help)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l delay -d 'One-way delay, 0 to 60s, such as 5ms (needs the netem qdisc)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l jitter -d 'Delay jitter, 0 to 60s, such as 1ms (needs --delay)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l delay-distribution -d 'How the jitter is drawn: normal, pareto or paretonormal (uniform when not given; needs --jitter)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l loss -d 'Random loss in percent, 0 to 100 (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l reorder -d 'Percent of packets sent at once, ahead of delayed ones (needs --delay)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l duplicate -d 'Percent of packets sent twice (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l corrupt -d 'Percent of packets with one random bit flipped (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l rate -d 'netem\'s own rate in Mbit/s: no bursts, a packet queue (see mnlink --help)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l queue -l max-queue-size -d 'Queue limit in full-size packets (default 1000 when shaping; Mininet\'s max_queue_size)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -l mtu -d 'The MTU of both ends' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnlink -n "__fish_mnlink_using_subcommand del" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand up" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand down" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l bw -d 'Rate limit in Mbit/s (a token bucket with a byte queue; see mnlink --help)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l delay -d 'One-way delay, 0 to 60s, such as 5ms (needs the netem qdisc)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l jitter -d 'Delay jitter, 0 to 60s, such as 1ms (needs --delay)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l delay-distribution -d 'How the jitter is drawn: normal, pareto or paretonormal (uniform when not given; needs --jitter)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l loss -d 'Random loss in percent, 0 to 100 (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l reorder -d 'Percent of packets sent at once, ahead of delayed ones (needs --delay)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l duplicate -d 'Percent of packets sent twice (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l corrupt -d 'Percent of packets with one random bit flipped (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l rate -d 'netem\'s own rate in Mbit/s: no bursts, a packet queue (see mnlink --help)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -l queue -l max-queue-size -d 'Queue limit in full-size packets (default 1000 when shaping; Mininet\'s max_queue_size)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand set" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand addr" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand mac" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l vni -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l local -d 'This machine\'s underlay address' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l remote -d 'The other machine\'s underlay address' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l port -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l bw -d 'Rate limit in Mbit/s (a token bucket with a byte queue; see mnlink --help)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l delay -d 'One-way delay, 0 to 60s, such as 5ms (needs the netem qdisc)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l jitter -d 'Delay jitter, 0 to 60s, such as 1ms (needs --delay)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l delay-distribution -d 'How the jitter is drawn: normal, pareto or paretonormal (uniform when not given; needs --jitter)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l loss -d 'Random loss in percent, 0 to 100 (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l reorder -d 'Percent of packets sent at once, ahead of delayed ones (needs --delay)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l duplicate -d 'Percent of packets sent twice (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l corrupt -d 'Percent of packets with one random bit flipped (needs netem)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l rate -d 'netem\'s own rate in Mbit/s: no bursts, a packet queue (see mnlink --help)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l queue -l max-queue-size -d 'Queue limit in full-size packets (default 1000 when shaping; Mininet\'s max_queue_size)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -l mtu -r
complete -c mnlink -n "__fish_mnlink_using_subcommand tunnel" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand list" -l json -d 'Print a JSON array instead'
complete -c mnlink -n "__fish_mnlink_using_subcommand list" -l porcelain -d 'For scripts: a line per link, no header, tab-separated columns A_NODE A_IF B_NODE B_IF STATE MTU A_SHAPING B_SHAPING (`-` for none or unknown). Columns are only ever added at the end'
complete -c mnlink -n "__fish_mnlink_using_subcommand list" -s h -l help -d 'Print help'
complete -c mnlink -n "__fish_mnlink_using_subcommand stp" -l start -d 'Start the spanning tree of bridges made with `mnnode add --stp --down`: ROOT\'s bridge gets priority 4096 (the least bridge ID: the root) and comes up first, the lab\'s other down STP bridges 50 ms later. Nothing has spoken yet, so the root\'s first hello crosses the lab in one wave and elects the tree at once; ports forward or block 4 s (twice the forward delay) later. Prints nothing unless --wait' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand stp" -l timeout -d 'Give up waiting after this many seconds (an error)' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand stp" -l wait -d 'First wait until the tree has settled: no port listening or learning, and nothing changed for one hello time and a second (the hold time\'s reach), which passes while ports still learn'
complete -c mnlink -n "__fish_mnlink_using_subcommand stp" -l json -d 'Print a JSON array of switches instead: bridge_id, root_id, root_path_cost, root_port and ports (interface, state, role)'
complete -c mnlink -n "__fish_mnlink_using_subcommand stp" -l porcelain -d 'For scripts: a line per port, no header, tab-separated columns SWITCH PORT STATE ROLE'
complete -c mnlink -n "__fish_mnlink_using_subcommand stp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnlink -n "__fish_mnlink_using_subcommand graph" -l format -d 'dot (Graphviz), mermaid, json, or topo (an mn topology file)' -r -f -a "dot\t''
mermaid\t''
json\t''
topo\t''"
complete -c mnlink -n "__fish_mnlink_using_subcommand graph" -l png -d 'Render to a PNG file with Graphviz\'s dot instead of printing' -r -F
complete -c mnlink -n "__fish_mnlink_using_subcommand graph" -l svg -d 'Render to an SVG file with Graphviz\'s dot instead of printing' -r -F
complete -c mnlink -n "__fish_mnlink_using_subcommand graph" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnlink -n "__fish_mnlink_using_subcommand capture" -s w -d 'Where the pcapng goes: a file, or - for stdout (the default)' -r -F
complete -c mnlink -n "__fish_mnlink_using_subcommand capture" -s f -l filter -d 'A BPF filter in tcpdump\'s syntax, such as \'icmp\'' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand capture" -s c -l count -d 'Stop after N packets in all' -r
complete -c mnlink -n "__fish_mnlink_using_subcommand capture" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "add" -d 'Create a veth pair between two nodes, optionally shaped'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "del" -d 'Delete the pair A belongs to'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "up" -d 'Bring both ends of A\'s pair up'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "down" -d 'Bring both ends of A\'s pair down (traffic stops until `up`)'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "set" -d 'Replace the shaping of one end (no options: remove it)'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "addr" -d 'Add an IPv4 or IPv6 address (CIDR, such as 10.0.0.1/8) to an end'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "mac" -d 'Set an end\'s MAC address (such as 00:00:00:00:00:01)'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "tunnel" -d 'One end of a link between machines, made on this machine by the home machine\'s mnlink (over ssh): a VXLAN device in the node\'s namespace'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "list" -d 'List links, each once: both ends, state, shaping (from the kernel)'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "stp" -d 'Show the spanning tree of the lab\'s switches (Linux bridges): each port\'s state and role, as the kernel has them'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "graph" -d 'Print the lab as a picture: nodes, links with both interface names, addresses and shaping, as the kernel has them'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "capture" -d 'Capture packets on endpoints into pcapng (merged in time order, each interface named), for Wireshark or `tcpdump -r`'
complete -c mnlink -n "__fish_mnlink_using_subcommand help; and not __fish_seen_subcommand_from add del up down set addr mac tunnel list stp graph capture help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
