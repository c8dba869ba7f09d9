# assemble-delta.sh: builds releases/.partial-$RELEASE/$FILE_NAME from PLAN, one run a line
# "<source> <offset> <length>": source d reads the delta file DELTA (written from INLINE_DELTA
# first when that is set), source <i> the old jar SRC_<i> (relative to the partial directory).
# Then checks the size (SIZE) and the sha256 (SHA256), and removes the delta file.
# Takes DEPLOY_DIR, RELEASE, FILE_NAME, SHA256, SIZE, DELTA, PLAN, INLINE_DELTA, SRC_0..SRC_<n>
# and the exit statuses EXIT_NO_DELTA, EXIT_COPY_FAILED, EXIT_MISMATCH (ASSEMBLE_EXIT).
# Prints assembled=<size>, or error=<why> (with failed_source=, assembled_size= or remote_sha256=)
# and exits with one of those statuses, having removed what it wrote.
if [ -n "$INLINE_DELTA" ]; then
  # shellcheck disable=SC2015 # a failure of either step is the same failure
  mkdir -p -- "$DEPLOY_DIR/releases/.partial-$RELEASE" &&
    printf '%s' "$INLINE_DELTA" | base64 -d > "$DEPLOY_DIR/releases/.partial-$RELEASE/$DELTA" || { echo "error=delta_missing"; exit "$EXIT_NO_DELTA"; }
fi
# shellcheck disable=SC2015 # a failure of either step is the same failure
cd -- "$DEPLOY_DIR/releases/.partial-$RELEASE" 2>/dev/null && [ -f "$DELTA" ] || { echo "error=delta_missing"; exit "$EXIT_NO_DELTA"; }
if dd if=/dev/null of=/dev/null iflag=skip_bytes,count_bytes status=none 2>/dev/null; then gnu_dd=1; else gnu_dd=; fi
# Writes bytes [$2, $2 + $3) of file $1 to stdout.
copy_range() {
  [ -r "$1" ] || return 1
  if [ -n "$gnu_dd" ]; then
    dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none
  else
    tail -c "+$(($2 + 1))" "$1" | head -c "$3"
  fi
}
give_up() {
  rm -f -- "$FILE_NAME" "$DELTA"
  echo "error=$1"
  exit "$2"
}
exec 3>&1
printf '%s\n' "$PLAN" | while read -r src offset length; do
  [ -n "$src" ] || continue
  case $src in
    d) file=$DELTA ;;
    *[!0-9]*|'') exit "$EXIT_COPY_FAILED" ;;
    # Old jar <i> is in SRC_<i>; an index without one is not in the plan's sources.
    *) eval "file=\${SRC_$src-}"; [ -n "$file" ] || exit "$EXIT_COPY_FAILED" ;;
  esac
  copy_range "$file" "$offset" "$length" || { echo "failed_source=$file" >&3; exit "$EXIT_COPY_FAILED"; }
done > "$FILE_NAME"
# shellcheck disable=SC2181 # the status of the pipeline above, whose loop runs in a subshell
[ $? = 0 ] || give_up copy_failed "$EXIT_COPY_FAILED"
size=$(wc -c < "$FILE_NAME")
# shellcheck disable=SC2153 # SIZE, the expected size, is set in the prelude
[ "$size" = "$SIZE" ] || { echo "assembled_size=$size"; give_up size_mismatch "$EXIT_MISMATCH"; }
# shellcheck disable=SC2046 # splitting sha256sum's output into words is the point
set -- $(sha256sum < "$FILE_NAME")
[ "${1:-}" = "$SHA256" ] || { echo "remote_sha256=${1:-none}"; give_up sha256_mismatch "$EXIT_MISMATCH"; }
rm -f -- "$DELTA"
echo "assembled=$SIZE"
