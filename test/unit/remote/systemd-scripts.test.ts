/**
 * The instance scripts' systemd path (src/remote/instance.ts with a UnitTarget), run by a local sh.
 * This machine's PID 1 is not systemd, so `systemctl` here is a small stand-in on PATH that keeps
 * each unit's enabled flag and main pid in files and runs the launcher that the port's drop-in names,
 * as systemd would: what is checked is the scripts' own sequence (settings, unit files, reload,
 * enable, start, retire). The real systemd is met end to end in test/e2e/supervision.test.ts.
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readHostState } from '../../../src/deploy/host-state.js'
import { inspectScript } from '../../../src/remote/host.js'
import { INSTANCE_EXIT, freePortScript, startScript, stopScript } from '../../../src/remote/instance.js'
import { dropInText, unitFileText } from '../../../src/remote/systemd.js'
import {
  cleanUpAfterAll,
  freePort,
  isRunning,
  makeRelease,
  runScript,
  startParams,
  tempDir,
  track,
  trackGroup,
  waitUntil,
} from './local-host.js'

cleanUpAfterAll()

const FAKE_SYSTEMCTL = `#!/bin/sh
echo "$*" >> "$FAKE_STATE/calls"
[ "$1" != --user ] || shift
command=$1; shift
[ "$1" != --quiet ] || shift
for unit; do :; done
port=\${unit#*@}; port=\${port%.service}
main=$(cat "$FAKE_STATE/main.$port" 2>/dev/null || echo 0)
running() { [ "$main" -gt 0 ] && kill -0 "$main" 2>/dev/null; }
case "$command" in
  daemon-reload|reset-failed) ;;
  enable) touch "$FAKE_STATE/enabled.$port" ;;
  disable) rm -f "$FAKE_STATE/enabled.$port" ;;
  is-enabled) if [ -e "$FAKE_STATE/enabled.$port" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) if running; then echo active; else echo inactive; exit 3; fi ;;
  start)
    launcher=$(sed -n 's/^ExecStart=\\/bin\\/sh "\\(.*\\)" %i$/\\1/p' "$HOME/.config/systemd/user/$unit.d/zdd.conf")
    [ -n "$launcher" ] || { echo "$unit has no ExecStart" >&2; exit 1; }
    setsid sh "$launcher" "$port" < /dev/null > /dev/null 2>&1 & echo $! > "$FAKE_STATE/main.$port" ;;
  stop) if running; then kill -TERM -"$main"; while kill -0 "$main" 2>/dev/null; do sleep 0.02; done; fi; echo 0 > "$FAKE_STATE/main.$port" ;;
  show) echo "MainPID=$main" ;;
  *) echo "unknown command $command" >&2; exit 1 ;;
esac
`

/** A deploy dir, a home for the user's unit dir, and the stand-in systemctl first on PATH. */
function host(shared?: { home: string; state: string }) {
  const deployDir = tempDir()
  const home = shared?.home ?? tempDir('zdd-home-')
  const state = shared?.state ?? tempDir('zdd-systemctl-')
  const bin = join(state, 'bin')
  mkdirSync(bin, { recursive: true })
  writeFileSync(join(bin, 'systemctl'), FAKE_SYSTEMCTL)
  chmodSync(join(bin, 'systemctl'), 0o755)
  makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['DB_PASSWORD', 'env-secret']])
  const env = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}`, FAKE_STATE: state }
  const calls = () => (existsSync(join(state, 'calls')) ? readFileSync(join(state, 'calls'), 'utf8').trim().split('\n') : [])
  const mainPid = (port: number) => Number(readFileSync(join(state, `main.${port}`), 'utf8'))
  const unit = { scope: 'user' as const, appName: 'shop', runtimeDir: '/run/user/1000', deployDir }
  return { deployDir, home, state, env, calls, mainPid, unit }
}

describe.concurrent('instance scripts as systemd units, with a stand-in systemctl', { timeout: 30_000 }, () => {
  it('start: settings in a 0600 file, the unit file written and reloaded once, then enable, start; the main pid is watched', async () => {
    const h = host()
    const port = await freePort()
    const params = startParams(h.deployDir, port, { unit: h.unit, javaOpts: '-Dpw=opts-secret' })
    const run = await runScript(startScript(params), { env: h.env })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.answer.facts).toMatchObject({ unit: `zdd-shop@${port}.service`, health: 'ok', pid: String(h.mainPid(port)) })
    trackGroup(h.mainPid(port))
    expect(h.calls()).toEqual([
      '--user daemon-reload',
      `--user enable --quiet zdd-shop@${port}.service`,
      `--user start zdd-shop@${port}.service`,
      `--user show -p MainPID zdd-shop@${port}.service`,
    ])
    const unitFile = readFileSync(join(h.home, '.config/systemd/user/zdd-shop@.service'), 'utf8')
    expect(unitFile).toBe(unitFileText({ appName: 'shop', scope: 'user' }))
    const dropIn = readFileSync(join(h.home, `.config/systemd/user/zdd-shop@${port}.service.d/zdd.conf`), 'utf8')
    expect(dropIn).toBe(dropInText({ deployDir: h.deployDir, stopTimeoutSeconds: 5 }))
    expect(unitFile + dropIn).not.toContain('secret')
    const conf = join(h.deployDir, 'run', `${port}.conf`)
    expect(statSync(conf).mode & 0o777).toBe(0o600)
    expect(readFileSync(conf, 'utf8')).toContain("JAVA_OPTS='-Dpw=opts-secret'")
    expect(readFileSync(conf, 'utf8')).toMatch(/^export PATH=/m)
    expect(readFileSync(join(h.deployDir, 'run', `${port}.release`), 'utf8')).toBe('20260101-000000-aaaaaaaa\n')
    // The unit's main pid, recorded with its identity (record_instance), so that inspect believes it.
    expect(readFileSync(join(h.deployDir, 'run', `${port}.pid`), 'utf8')).toMatch(
      new RegExp(`^${h.mainPid(port)}\nboot=\\S+ start=\\d+\n$`),
    )

    const inspected = await runScript(
      inspectScript({
        deployDir: h.deployDir,
        include: join(h.home, 'none.inc'),
        ports: [port, port + 1],
        prepare: false,
        checkListeners: true,
        needJava: false,
        appName: 'shop',
      }),
      { env: h.env },
    )
    expect(readHostState(inspected.answer).instances[0]).toMatchObject({ port, pid: h.mainPid(port), running: true })

    // The same unit file again: no reload.
    const stop = await runScript(stopScript({ deployDir: h.deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 5, unit: h.unit }), {
      env: h.env,
    })
    expect(stop.code, stop.stdout).toBe(0)
    const again = await runScript(startScript(params), { env: h.env })
    expect(again.code, again.stdout).toBe(0)
    // Still running when the test ends: tracked by its start time, so that it is ended then.
    track(h.mainPid(port))
    expect(h.calls().filter((call) => call === '--user daemon-reload')).toHaveLength(1)
  })

  it('a crash during the health wait fails at once, and the unit is disabled and stopped', async () => {
    const h = host()
    const port = await freePort()
    const run = await runScript(startScript(startParams(h.deployDir, port, { unit: h.unit, startCommand: 'echo dying; exit 3' })), {
      env: h.env,
    })
    expect(run.code).toBe(INSTANCE_EXIT.exited)
    expect(run.answer.facts.health).toBe('exited')
    expect(run.answer.sections.log).toContain('dying')
    expect(h.calls()).toEqual(expect.arrayContaining([`--user disable --quiet zdd-shop@${port}.service`]))
    expect(existsSync(join(h.state, `enabled.${port}`))).toBe(false)
    expect(existsSync(join(h.deployDir, 'run', `${port}.conf`))).toBe(false)
  })

  it('free port and stop: a running unit is disabled and stopped, its run files removed', async () => {
    const h = host()
    const port = await freePort()
    const start = await runScript(startScript(startParams(h.deployDir, port, { unit: h.unit })), { env: h.env })
    expect(start.code, start.stdout).toBe(0)
    const pid = trackGroup(h.mainPid(port))
    const free = await runScript(freePortScript({ deployDir: h.deployDir, port, stopTimeoutSeconds: 5, unit: h.unit }), { env: h.env })
    expect(free.code, free.stdout).toBe(0)
    expect(free.answer.facts).toMatchObject({ unit_stopped: `zdd-shop@${port}.service`, port: 'free' })
    expect(await waitUntil(() => !isRunning(pid))).toBe(true)
    expect(existsSync(join(h.state, `enabled.${port}`))).toBe(false)
    for (const file of ['pid', 'release', 'conf']) expect(existsSync(join(h.deployDir, 'run', `${port}.${file}`))).toBe(false)
  })

  it("two deploy-dirs of one app on one host: each port's drop-in names its own deploy-dir, and neither retires the other's unit", async () => {
    const production = host()
    const staging = host({ home: production.home, state: production.state })
    const [prodPort, stagingPort] = [await freePort(), await freePort()]
    const units = join(production.home, '.config/systemd/user')
    const prod = await runScript(startScript(startParams(production.deployDir, prodPort, { unit: production.unit })), {
      env: production.env,
    })
    expect(prod.code, prod.stdout).toBe(0)
    track(production.mainPid(prodPort))
    const stage = await runScript(startScript(startParams(staging.deployDir, stagingPort, { unit: staging.unit })), { env: staging.env })
    expect(stage.code, stage.stdout).toBe(0)
    track(staging.mainPid(stagingPort))
    // The staging deploy left production's unit as it was: a restart runs production's launcher.
    expect(readFileSync(join(units, `zdd-shop@${prodPort}.service.d/zdd.conf`), 'utf8')).toContain(
      `ExecStart=/bin/sh "${production.deployDir}/run/launch" %i`,
    )
    expect(readFileSync(join(units, `zdd-shop@${stagingPort}.service.d/zdd.conf`), 'utf8')).toContain(
      `ExecStart=/bin/sh "${staging.deployDir}/run/launch" %i`,
    )
    // A staging run about production's port (ports configured to overlap) leaves production's unit alone.
    const stop = await runScript(
      stopScript({ deployDir: staging.deployDir, port: prodPort, drainSeconds: 0, stopTimeoutSeconds: 5, unit: staging.unit }),
      {
        env: staging.env,
      },
    )
    expect(stop.answer.facts).toMatchObject({ unit_foreign: `zdd-shop@${prodPort}.service` })
    const taken = await runScript(startScript(startParams(staging.deployDir, prodPort, { unit: staging.unit })), { env: staging.env })
    expect(taken.code).toBe(INSTANCE_EXIT.startFailed)
    expect(taken.answer.lists.unit_error).toEqual([
      `zdd-shop@${prodPort}.service runs deploy-dir ${production.deployDir}, another deploy-dir of this app on this host: give each deploy-dir ports of its own.`,
    ])
    expect(isRunning(production.mainPid(prodPort))).toBe(true)
    expect(existsSync(join(production.state, `enabled.${prodPort}`))).toBe(true)
  })

  it('a host upgraded from a template that named the deploy-dir: the enabled instance started under it gets a drop-in naming its deploy-dir', async () => {
    const h = host()
    const [legacyPort, port] = [await freePort(), await freePort()]
    const units = join(h.home, '.config/systemd/user')
    const legacy = await runScript(startScript(startParams(h.deployDir, legacyPort, { unit: h.unit })), { env: h.env })
    expect(legacy.code, legacy.stdout).toBe(0)
    track(h.mainPid(legacyPort))
    // As the previous version left it: the template's own ExecStart, the instance enabled, no drop-in.
    rmSync(join(units, `zdd-shop@${legacyPort}.service.d`), { recursive: true })
    writeFileSync(
      join(units, 'zdd-shop@.service'),
      `[Service]\nExecStart=/bin/sh "${h.deployDir}/run/launch" %i\nRestart=on-failure\nTimeoutStopSec=7\n`,
    )
    mkdirSync(join(units, 'default.target.wants'))
    symlinkSync(join(units, 'zdd-shop@.service'), join(units, `default.target.wants/zdd-shop@${legacyPort}.service`))

    const run = await runScript(startScript(startParams(h.deployDir, port, { unit: h.unit })), { env: h.env })
    expect(run.code, run.stdout).toBe(0)
    track(h.mainPid(port))
    expect(run.answer.facts).toMatchObject({ unit_adopted: `zdd-shop@${legacyPort}.service ${h.deployDir}` })
    const adopted = readFileSync(join(units, `zdd-shop@${legacyPort}.service.d/zdd.conf`), 'utf8')
    expect(adopted).toContain(`# deploy-dir: ${h.deployDir}\n`)
    expect(adopted).toContain(`\nExecStart=\nExecStart=/bin/sh "${h.deployDir}/run/launch" %i\nTimeoutStopSec=7\n`)
    expect(readFileSync(join(units, 'zdd-shop@.service'), 'utf8')).not.toContain('ExecStart')
  })

  it("the unit's settings carry the session's exported environment, minus what belongs to the SSH session", async () => {
    const h = host()
    const port = await freePort()
    const env = {
      ...h.env,
      LANG: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      JAVA_HOME: '/opt/jdk-21',
      MULTI_LINE: "one\nexport SSH_FAKE='two'",
      SSH_CONNECTION: '10.0.0.1 50000 10.0.0.2 22',
      SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
      XDG_SESSION_ID: '7',
      XDG_RUNTIME_DIR: '/run/user/1000',
    }
    const run = await runScript(startScript(startParams(h.deployDir, port, { unit: h.unit })), { env })
    expect(run.code, run.stdout).toBe(0)
    // Still running when the test ends: its launcher and app go with its group once the file is done.
    track(h.mainPid(port))
    const conf = readFileSync(join(h.deployDir, 'run', `${port}.conf`), 'utf8')
    for (const gone of ['10.0.0.1', 'ssh-agent.sock', 'XDG_SESSION_ID=', 'XDG_RUNTIME_DIR=']) expect(conf).not.toContain(gone)
    const launched = spawnSync(
      '/bin/sh',
      ['-c', `. ./run/${port}.conf && printf '%s|%s|%s|%s|%s' "$LANG" "$TZ" "$JAVA_HOME" "$MULTI_LINE" "\${SSH_AUTH_SOCK-unset}"`],
      {
        cwd: h.deployDir,
        env: { PATH: '/usr/bin:/bin' },
      },
    )
    expect(String(launched.stdout)).toBe("de_DE.UTF-8|Europe/Berlin|/opt/jdk-21|one\nexport SSH_FAKE='two'|unset")
  })

  it('with a unit target but no template installed (a host never deployed with systemd), nothing asks systemctl', async () => {
    const h = host()
    const port = await freePort()
    const run = await runScript(freePortScript({ deployDir: h.deployDir, port, stopTimeoutSeconds: 5, unit: h.unit }), { env: h.env })
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toEqual({ port: 'free' })
    expect(h.calls()).toEqual([])
  })
})
