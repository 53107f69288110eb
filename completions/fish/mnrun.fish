complete -c mnrun -s t -d 'Interrupt the command after SECS seconds (fractions allowed) and exit 124. The time counts from mnrun\'s start: waits for the node (another call\'s turn, a lazy shell\'s start) count too' -r
complete -c mnrun -s n -d 'Give the command /dev/null as stdin instead of mnrun\'s'
complete -c mnrun -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mnrun -s V -l version -d 'Print version'
