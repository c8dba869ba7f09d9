# handover.sh: waits up to TIMEOUT seconds until the old nginx workers OLD_WORKERS (as switch.sh
# names them) take no new connection. Prints handover=late if the wait ran out. Exits 0.
await_retired "$OLD_WORKERS" "$TIMEOUT"
