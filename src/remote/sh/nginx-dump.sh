# nginx-dump.sh: runs DUMP_COMMAND (the nginx test command with -T: the whole configuration on
# stdout), and VERSION_COMMAND (nginx -V) for the access log nginx was built to write when a
# configuration names none.
# Prints home= (for paths under the remote user's home), http_log_path= (from nginx -V, when it
# says), then the dump in a section "@@dump", each line after a "|" so that no line of it can be
# taken for a section; or error=nginx_dump with the command's output in "@@dump_output", exit 1.
echo "home=$HOME"
run_command() { set +u; zdd_command=$1; shift; eval "$zdd_command"; }
if [ -n "$VERSION_COMMAND" ]; then
  # sudo's secure_path has the sbin directories, which a user's PATH may not.
  dump_version=$(PATH=$PATH:/usr/sbin:/usr/local/sbin:/usr/local/nginx/sbin; run_command "$VERSION_COMMAND" 2>&1 < /dev/null) || dump_version=
  case "$dump_version" in
    *" --http-log-path="*) dump_version=${dump_version#* --http-log-path=}; echo "http_log_path=${dump_version%%[[:space:]]*}" ;;
  esac
fi
dump_file=$(mktemp) || { echo "error=nginx_dump"; echo "@@dump_output"; echo "mktemp could not create a temporary file"; exit 1; }
if ! dump_errors=$(run_command "$DUMP_COMMAND" 2>&1 > "$dump_file" < /dev/null); then
  echo "error=nginx_dump"
  echo "@@dump_output"
  printf '%s\n' "$dump_errors"
  rm -f -- "$dump_file"
  exit 1
fi
echo "@@dump"
sed 's/^/|/' "$dump_file"
rm -f -- "$dump_file"
