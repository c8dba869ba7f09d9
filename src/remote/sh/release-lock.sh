# release-lock.sh: removes DEPLOY_DIR/.lock if this session's shell ($$) still holds it.
# Prints lock=released. Exits 0.
cd -- "$DEPLOY_DIR" 2>/dev/null || exit 0
line=
[ ! -r .lock/holder ] || read -r line < .lock/holder
# shellcheck disable=SC2086 # splitting into fields is the point
set -- $line
[ "${1:-}" = "$$" ] && rm -rf .lock
echo "lock=released"
