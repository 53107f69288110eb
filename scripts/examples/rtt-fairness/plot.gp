# Each flow's throughput over time. Called by the Makefile with
# file='out/throughput.csv', bw='10', cc='reno' and queue='20'.
set terminal pngcairo size 900,500
set datafile separator ','
set key autotitle columnhead top right
set title sprintf('Two TCP (%s) flows sharing %s Mbit/s (queue %s packets), by RTT', cc, bw, queue)
set xlabel 'time (s)'
set ylabel 'throughput (Mbit/s)'
set yrange [0:*]
set grid
plot file using 1:2 with lines linewidth 2 title sprintf('RTT %s', columnhead(2)), \
     file using 1:3 with lines linewidth 2 title sprintf('RTT %s', columnhead(3))
