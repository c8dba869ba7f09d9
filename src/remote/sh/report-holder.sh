# report-holder.sh: the function report_holder PID, which names the process that holds a port, for
# the client to judge and, should it take it over, to make sure it signals that very process:
# holder_pid=, holder_start= (field 22 of its stat, which a reused pid does not share) and
# holder_command= (its command line, arguments joined by spaces, cut at 2000 characters: the jar
# it runs may come after many options).

report_holder() {
  proc_start "$1" || PROC_START=
  echo "holder_pid=$1"
  echo "holder_start=$PROC_START"
  echo "holder_command=$(tr '\0\n' '  ' < "/proc/$1/cmdline" 2>/dev/null | cut -c1-2000)"
}
