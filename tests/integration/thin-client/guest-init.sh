#!/bin/busybox sh
# /init of the viewer tests' tiny desktop: a coloured console on tty1 that echoes typed lines to
# the serial port (TYPED:<line>), and with labdesk.mode=animate keeps the screen changing.
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^labdesk.$1=//p"; }
NAME=$(arg name); MODE=$(arg mode); BG=$(arg bg)
exec 3>/dev/ttyS0
printf '\033[4%sm\033[37m\033[2J\033[H' "${BG:-0}" > /dev/tty1
echo "labdesk test desktop $NAME" > /dev/tty1
echo "type here:" > /dev/tty1
if [ "$MODE" = animate ]; then
  # 20 changes a second (each scrolls the whole screen): the same load for every viewer
  (n=0; while :; do n=$((n+1)); echo "frame $n $(cat /proc/uptime)"; usleep 50000; done > /dev/tty1) &
fi
echo "LABDESK-READY $NAME" >&3
while :; do
  while read -r line; do echo "TYPED:$line" >&3; echo "you typed: $line"; done < /dev/tty1 > /dev/tty1 2>&1
done
