# renew-lease.sh: renews the lease of DEPLOY_DIR/.lock when the shell that KEY ("<pid>-<start>")
# names still holds it. Prints lease=renewed, or lease=lost. Exits 0.
cd -- "$DEPLOY_DIR" 2>/dev/null || { echo "lease=lost"; exit 0; }
line=
[ ! -r .lock/holder ] || read -r line < .lock/holder 2>/dev/null || line=
# shellcheck disable=SC2086 # splitting into fields is the point
set -- $line
if [ "${1:-}-${2:-}" != "$KEY" ]; then echo "lease=lost"; exit 0; fi
clock
# A renewal that lands after a takeover writes a lease nobody reads: the new holder's key differs.
printf '%s\n' "$NOW" > ".lock/.lease.renew.$$" && mv -f ".lock/.lease.renew.$$" ".lock/lease.$KEY" 2>/dev/null
echo "lease=renewed"
