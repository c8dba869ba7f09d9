# traffic-read.sh: reads the traffic log LOG (see log_format in src/remote/traffic.ts) from byte
# OFFSET on and adds its complete lines up by port, status and whole milliseconds. A negative
# OFFSET starts a new log, just before the switch that makes nginx write it: the old one is
# removed (nginx creates the log again when it loads the switched include, and a worker that still
# writes the old one writes to a file that is gone, freed once it exits), so that the log holds one
# run's lines, not every run's. Where it cannot be removed, reading starts at its end. A log
# shorter than OFFSET was rotated or truncated, and is read from its start. A last line without its
# newline is being written: it is left for the next read.
# Prints offset= (where the next read starts), rotated=yes when the log was read from its start,
# missing=yes when there is no log (removed=yes when this read removed it), then a section
# "@@traffic" of lines "port status ms count" (port 0: the request reached no upstream). Exits 0.
case "$LOG" in /*) ;; *) LOG="$HOME/$LOG" ;; esac
if [ "$OFFSET" -lt 0 ] && [ -e "$LOG" ] && rm -f -- "$LOG" 2>/dev/null && [ ! -e "$LOG" ]; then
  echo "removed=yes"
fi
if [ ! -e "$LOG" ]; then
  echo "missing=yes"
  [ "$OFFSET" -ge 0 ] || OFFSET=0
  echo "offset=$OFFSET"
  echo "@@traffic"
  exit 0
fi
traffic_size=$(wc -c < "$LOG") || traffic_size=0
traffic_size=$(( traffic_size + 0 ))
if [ "$OFFSET" -lt 0 ]; then
  echo "offset=$traffic_size"
  echo "@@traffic"
  exit 0
fi
if [ "$OFFSET" -gt "$traffic_size" ]; then
  echo "rotated=yes"
  OFFSET=0
fi
# A line "@@end" closes what tail gives, after a newline of its own: the line before it is then
# empty when the log ended with a newline, and otherwise the partial line, left unread. awk holds
# two lines back to know which is which.
{ tail -c "+$(( OFFSET + 1 ))" -- "$LOG"; printf '\n@@end\n'; } | LC_ALL=C awk -v offset="$OFFSET" '
  function take(line,   f, n, k, port, status, ms, addr, parts, i) {
    offset += length(line) + 1
    n = split(line, f, "|")
    if (n != 5 || f[5] != "zdd") return
    status = f[2] + 0
    if (status < 100 || status > 999) return
    # Several upstreams tried ("a, b") or an internal redirect ("a : b"): the last one answered.
    addr = f[3]
    k = split(addr, parts, /[ ,:]+/)
    port = 0
    if (addr != "-" && k > 1 && parts[k] ~ /^[0-9]+$/) port = parts[k] + 0
    ms = 0
    k = split(f[4], parts, /[ ,:]+/)
    for (i = 1; i <= k; i++) if (parts[i] ~ /^[0-9.]+$/) ms += parts[i]
    ms = int(ms * 1000 + 0.5)
    count[port " " status " " ms]++
  }
  NR > 2 { take(held1) }
  { held1 = held2; held2 = $0 }
  END {
    print "offset=" offset
    print "@@traffic"
    for (key in count) print key, count[key]
  }'
