# read-manifests.sh: for each jar in JARS (one "<release>/<file name>" a line, relative to
# DEPLOY_DIR/releases) whose chunk manifest (MANIFEST, beside it) exists, prints in the section
# "@@manifests" a line "release <index> <jar size>" and the manifest's lines. Exits 0.
cd -- "$DEPLOY_DIR/releases" 2>/dev/null || exit 0
echo "@@manifests"
i=0
printf '%s\n' "$JARS" | while IFS= read -r jar; do
  i=$((i + 1))
  # shellcheck disable=SC2015 # an empty line or a missing jar is skipped alike
  [ -n "$jar" ] && [ -f "$jar" ] || continue
  # shellcheck disable=SC2153 # MANIFEST, the manifest's file name, is set in the prelude
  manifest="${jar%/*}/$MANIFEST"
  [ -f "$manifest" ] || continue
  size=$(wc -c < "$jar") || continue
  echo "release $((i - 1)) $size"
  cat -- "$manifest"
  echo
done
