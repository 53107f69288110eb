complete -c mnexec -s a -d 'Attach to the network namespace of PID (and its mount namespace and working directory), or to the network namespace of a namespace file such as /run/netns/NAME or /proc/PID/ns/net' -r
complete -c mnexec -s g -d 'Join cgroup GROUP: cgroup v2 /sys/fs/cgroup/GROUP, or with cgroup v1 every one of /sys/fs/cgroup/{cpu,cpuacct,cpuset}/GROUP that exists' -r
complete -c mnexec -s r -d 'Run with the SCHED_RR real-time policy at priority RTPRIO (1-99)' -r
complete -c mnexec -s c -d 'Close every file descriptor except stdin, stdout and stderr'
complete -c mnexec -s d -d 'Detach: start a new session with setsid(2), forking first when already a process group leader (the parent then exits 0)'
complete -c mnexec -s n -d 'Enter new network and mount namespaces, make / recursively private and mount a fresh sysfs on /sys, so it shows the new namespace; the copy of /run/netns (the `ip netns` entries) is detached, so that the new namespace keeps no other namespace alive'
complete -c mnexec -s p -d 'Print ^A (\\001), the process id and a newline on stdout, flushed before exec, so the printed pid is the command\'s own'
complete -c mnexec -s v -l version -d 'Print the version and exit'
complete -c mnexec -s h -l help -d 'Print this help and exit'
