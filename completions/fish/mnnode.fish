# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mnnode_global_optspecs
    string join \n h/help V/version
end

function __fish_mnnode_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mnnode_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mnnode_using_subcommand
    set -l cmd (__fish_mnnode_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mnnode -n "__fish_mnnode_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnnode -n "__fish_mnnode_needs_command" -s V -l version -d 'Print version'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "add" -d 'Create nodes, all at once, and return when every one is ready'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "del" -d 'End nodes: every process in their namespaces, their links, their `ip netns` entries and directories'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "list" -d 'List the nodes of this lab: NAME KIND PID STATE'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "pid" -d 'Print a node\'s shell pid (for `mnexec -a $(mnnode pid h1) ...`), starting a lazy node\'s shell; one line per node named'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "ip" -d 'Print a node\'s first IPv4 address; an error when it has none'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "restart" -d 'Give a node a new shell: same name, namespaces, links and addresses, a fresh shell state. For a shell that no longer answers mnrun (its hooks changed, its FIFO replaced); the old shell is killed, the jobs it started keep running'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "clean" -d 'Remove every node of this lab, running or dead, and whatever a crashed run left: directories, `ip netns` entries, cgroups'
complete -c mnnode -n "__fish_mnnode_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l kind -d 'What the nodes are' -r -f -a "host\t'an end host'
switch\t'a Linux bridge named after the node'
router\t'a host that forwards IPv4 and IPv6'
ovs\t'an Open vSwitch bridge named after the node, in the lab\'s own OVS'"
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l cpu -d 'Limit each node to this fraction of one CPU (cgroup CPU bandwidth)' -r
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l on -d 'Make the nodes on this machine of the hosts file, over ssh (see "Machines" below)' -r
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l dpid -d 'ovs: the datapath id, 1 to 16 hex digits (default: the first number in the name, as Mininet: s1 is 0000000000000001)' -r
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l protocols -d 'ovs: the OpenFlow versions, comma-separated (OpenFlow10 to OpenFlow15; default: OVS\'s, OpenFlow10 up to OpenFlow14)' -r
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l fail-mode -d 'ovs: without a controller, secure forwards nothing, standalone learns as a switch (default: secure with --controller, else standalone)' -r -f -a "secure\t'No controller, no forwarding: only the controller\'s flows'
standalone\t'No controller: a learning switch, as OVS is on its own'"
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l controller -d 'ovs: a controller to connect to, repeatable: tcp:IP[:PORT] (in the namespace mnnode runs in, port 6653 by default), unix:PATH, or ref (the lab\'s own ovs-testcontroller)' -r
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l listen -d 'ovs: ptcp:PORT[:IP], a port (on 127.0.0.1 by default) where `ovs-ofctl CMD tcp:127.0.0.1:PORT` reaches the switch, as Mininet\'s --listenport; several switches get PORT, PORT+1, ...' -r
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l datapath -d 'ovs: the datapath: auto (the kernel\'s when its openvswitch module loads, else userspace), user (netdev) or kernel (system)' -r -f -a "auto\t'The kernel\'s when its openvswitch module loads, else userspace'
user\t'The userspace (netdev) datapath, in ovs-vswitchd itself'
kernel\t'The kernel\'s (system) datapath: needs the openvswitch module'"
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l root -d 'Run in the root namespaces instead of new ones'
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l lazy -d 'Start no shell yet: make and configure each node\'s network namespace, pinned by its `ip netns` entry; the shell (with its own mount namespace and sysfs) starts on the first mnrun, `mnnode pid` or `restart` of the node (an OVS switch\'s entry pins the lab\'s OVS namespace, where its shell starts). Not for --root'
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l stp -d 'Turn on spanning tree on switches\' bridges (the kernel\'s STP), with its least forward delay (2 s) and a hello every second, and a bridge ID fixed at birth (an address made from the name), so that a lab\'s tree settles in seconds, is not elected anew as links are added, and comes out the same every time. See `mnlink stp`'
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l down -d 'With --stp: make each bridge down, so that it forwards nothing and its spanning tree does not start until `mnlink stp --start ROOT` brings the lab\'s bridges up together, the root first: the tree is then elected in one wave once every link exists'
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l ipv6-ll -d 'Give hosts\' interfaces IPv6 link-local addresses (and SLAAC), as the kernel does by default. Without it hosts stay silent when links come up: their autoconfiguration multicast would be flooded to every host'
complete -c mnnode -n "__fish_mnnode_using_subcommand add" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand del" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand list" -l json -d 'Print a JSON array of objects instead'
complete -c mnnode -n "__fish_mnnode_using_subcommand list" -l porcelain -d 'For scripts: a line per node, no header, tab-separated columns NAME KIND PID STATE NETNS (PID, KIND and NETNS are `-` when unknown or none). Columns are only ever added at the end'
complete -c mnnode -n "__fish_mnnode_using_subcommand list" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand pid" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand ip" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand restart" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand clean" -s v -l verbose -d 'Say what was removed'
complete -c mnnode -n "__fish_mnnode_using_subcommand clean" -l wait -d 'Return only once the kernel has finished tearing the lab\'s namespaces down (and any it was tearing down before), so that the next lab is built at full speed and timings are honest. Without a lab, just wait for the kernel'
complete -c mnnode -n "__fish_mnnode_using_subcommand clean" -l help -d 'Print help'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "add" -d 'Create nodes, all at once, and return when every one is ready'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "del" -d 'End nodes: every process in their namespaces, their links, their `ip netns` entries and directories'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "list" -d 'List the nodes of this lab: NAME KIND PID STATE'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "pid" -d 'Print a node\'s shell pid (for `mnexec -a $(mnnode pid h1) ...`), starting a lazy node\'s shell; one line per node named'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "ip" -d 'Print a node\'s first IPv4 address; an error when it has none'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "restart" -d 'Give a node a new shell: same name, namespaces, links and addresses, a fresh shell state. For a shell that no longer answers mnrun (its hooks changed, its FIFO replaced); the old shell is killed, the jobs it started keep running'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "clean" -d 'Remove every node of this lab, running or dead, and whatever a crashed run left: directories, `ip netns` entries, cgroups'
complete -c mnnode -n "__fish_mnnode_using_subcommand help; and not __fish_seen_subcommand_from add del list pid ip restart clean help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
