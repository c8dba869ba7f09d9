/**
 * THE PROCEDURE BEING REPLACED: the deploy script of the classic "Travis CI + EC2 + nginx"
 * setup, as found in countless tutorials. Kept deliberately faithful, slowness included: it
 * kills whatever holds the idle port, starts the new jar with `nohup java -jar`, sleeps a fixed
 * 10 s, then tries the health URL up to 10 times 10 s apart, rewrites the include in place and
 * reloads nginx. No lock, no checksum, no confirmation that the reload took effect.
 * Two deviations, both only so the bench can run it safely:
 *   - `lsof ... -sTCP:LISTEN` (tutorials write `lsof -ti tcp:$PORT`, which can also name a
 *     client process with a connection to that port, e.g. an nginx worker);
 *   - java's stdin comes from /dev/null, or the ssh session would never end.
 * Runs as one `ssh ... sh -s` with this text on stdin, after an `scp` of the jar.
 * @param {{ include: string, ports: [number, number], jar: string, logFile: string, reload: string, startDelayMs: number }} p
 */
export function classicScript(p) {
  const q = (/** @type {string | number} */ s) => `'${String(s).replace(/'/g, `'\\''`)}'`
  return `
INCLUDE=${q(p.include)}
PORT_A=${q(p.ports[0])}
PORT_B=${q(p.ports[1])}
JAR=${q(p.jar)}
LOG=${q(p.logFile)}
RELOAD=${q(p.reload)}

# 1. find the idle port from the include
CURRENT=$(grep -o '[0-9]*;' "$INCLUDE" | tr -d ';')
if [ "$CURRENT" = "$PORT_A" ]; then IDLE_PORT=$PORT_B; else IDLE_PORT=$PORT_A; fi
echo "> idle port: $IDLE_PORT"

# 2. kill what holds the idle port
IDLE_PID=$(lsof -ti tcp:$IDLE_PORT -sTCP:LISTEN)
if [ -z "$IDLE_PID" ]; then
  echo "> nothing runs on $IDLE_PORT"
else
  echo "> kill -15 $IDLE_PID"
  kill -15 $IDLE_PID
fi

# 3. start the new jar there
SAMPLE_START_DELAY_MS=${q(p.startDelayMs)} nohup java -jar "$JAR" --server.port=$IDLE_PORT >> "$LOG" 2>&1 < /dev/null &

# 4. give it time to come up
sleep 10

# 5. health check: up to 10 tries, 10 s apart
for RETRY_COUNT in 1 2 3 4 5 6 7 8 9 10; do
  RESPONSE=$(curl -s http://127.0.0.1:$IDLE_PORT/actuator/health)
  UP_COUNT=$(echo "$RESPONSE" | grep 'UP' | wc -l)
  if [ "$UP_COUNT" -ge 1 ]; then
    echo "> health check ok"
    break
  fi
  echo "> health check: no UP yet ($RESPONSE)"
  if [ "$RETRY_COUNT" -eq 10 ]; then
    echo "> health check failed; not switching" >&2
    exit 1
  fi
  sleep 10
done

# 6. switch: rewrite the include and reload nginx
echo "set \\$service_url http://127.0.0.1:$IDLE_PORT;" > "$INCLUDE"
sh -c "$RELOAD"
echo "> switched to $IDLE_PORT"
`
}
