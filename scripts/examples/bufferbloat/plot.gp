# RTT over time, one line per queue size. Called by the Makefile with
# files='out/rtt-q10.csv ...', bw='10' and cc='cubic'.
set terminal pngcairo size 900,500
set datafile separator ','
set title sprintf('Ping RTT under a bulk TCP (%s) flow, %s Mbit/s bottleneck', cc, bw)
set xlabel 'time (s)'
set ylabel 'RTT (ms)'
set logscale y
set key top left
set grid
plot for [f in files] f using 1:2 with linespoints pointsize 0.5 title sprintf('queue %s packets', substr(f, strstrt(f, '-q') + 2, strstrt(f, '.csv') - 1))
