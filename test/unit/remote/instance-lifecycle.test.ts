/**
 * What a run leaves behind when it is cut off, and what the next run may signal: a start cut right
 * after its launch, a start on a host without setsid, a stop whose process stops being ours before
 * stop-timeout (src/remote/instance.ts, src/remote/sh/lib.sh).
 */
import { execFileSync } from 'node:child_process'
import { lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePortScript, startScript, stopScript } from '../../../src/remote/instance.js'
import { shellQuote } from '../../../src/remote/quote.js'
import {
  LocalShell,
  cleanUpAfterAll,
  freePort,
  isRunning,
  makeRelease,
  portIsFree,
  runScript,
  startParams,
  tempDir,
  track,
  userlandWithout,
  waitUntil,
} from './local-host.js'

cleanUpAfterAll()

/** Pids of the processes whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgid, sid, ...]. */
function statOf(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/** Ignores SIGTERM, and leaves the release directory on it: from then on, it is not our instance. */
const LEAVES_JS =
  "process.on('SIGTERM', () => process.chdir('/')); require('net').createServer().listen(Number(process.env.PORT), '127.0.0.1'); require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT) + 1, '127.0.0.1')"

const APP = `exec ${shellQuote(process.execPath)} server.js`

describe.concurrent('instances of runs that were cut off', { timeout: 30_000 }, () => {
  it('a start cut right after its launch leaves a record that proves the instance, and the next run stops it', async () => {
    const deployDir = tempDir()
    const port = await freePort()
    makeRelease(deployDir, 'r1')
    // A slow disk, here a pipe nobody reads: whatever the cut script had still to write, it never did.
    execFileSync('mkfifo', [join(deployDir, 'run', `${port}.pid`)])
    const marker = `zdd-cut-${Math.floor(Math.random() * 1e9)}`
    const cut = new LocalShell({ cwd: deployDir, detached: true })
    cut
      .run(startScript(startParams(deployDir, port, { release: 'r1', startCommand: `: ${marker}; sleep 30; ${APP}` })))
      .catch(() => undefined)
    expect(await waitUntil(() => processesWith(marker).length > 0, 10_000)).toBe(true)
    const instance = track(processesWith(marker)[0])
    // The run is cut: its shell and its script end, as a lock takeover ends them.
    process.kill(-cut.pid, 'SIGKILL')
    expect(isRunning(instance)).toBe(true)
    expect(lstatSync(join(deployDir, 'run', `${port}.pid`)).isFile()).toBe(true)
    expect(readFileSync(join(deployDir, 'run', `${port}.release`), 'utf8')).toBe('r1\n')
    // Not listening yet, yet found and stopped by the next run's freeing of the port.
    const next = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 3 }), { cwd: deployDir })
    expect(next.code, next.stdout).toBe(0)
    expect(next.answer.facts).toMatchObject({ idle_pid: String(instance), port: 'free' })
    expect(await waitUntil(() => processesWith(marker).length === 0, 4000)).toBe(true)
    expect(await portIsFree(port)).toBe(true)
  })

  it('without setsid, the instance still runs in a session of its own: ending the run’s session does not reach it', async () => {
    const deployDir = tempDir()
    const port = await freePort()
    makeRelease(deployDir, 'r1')
    const env = { ...process.env, PATH: userlandWithout(['setsid', 'busybox']) }
    const shell = new LocalShell({ cwd: deployDir, detached: true, env })
    const start = await shell.run(startScript(startParams(deployDir, port, { release: 'r1' })))
    expect(start.code, start.stdout + start.stderr).toBe(0)
    const pid = track(Number(start.answer.facts.pid))
    const [, , pgid, sid] = statOf(pid)
    expect(pgid).not.toBe(String(shell.pid))
    expect(sid).toBe(String(pid))
    // A lock takeover ends the silent run's session: the instance goes on serving.
    process.kill(-shell.pid, 'SIGTERM')
    expect(await waitUntil(() => !isRunning(shell.pid), 3000)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(isRunning(pid)).toBe(true)
    expect(await portIsFree(port)).toBe(false)
    const stop = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 3 }), { cwd: deployDir })
    expect(stop.answer.facts.stopped, stop.stdout).toBe(String(pid))
  })

  it('a process that is no longer our instance when stop-timeout ends is not killed', async () => {
    const deployDir = tempDir()
    const port = await freePort()
    makeRelease(deployDir, 'r1')
    // It ignores SIGTERM, and leaves the release directory on it: from then on, it is not ours.
    writeFileSync(join(deployDir, 'releases', 'r1', 'leaves.js'), LEAVES_JS)
    const start = await runScript(
      startScript(
        startParams(deployDir, port, {
          release: 'r1',
          startCommand: `exec ${shellQuote(process.execPath)} leaves.js`,
          healthUrl: `http://127.0.0.1:${port + 1}/`,
        }),
      ),
      { cwd: deployDir },
    )
    expect(start.answer.facts.health, start.stdout).toBe('ok')
    const pid = track(Number(start.answer.facts.pid))
    const stop = await runScript(stopScript({ deployDir, port, drainSeconds: 0, stopTimeoutSeconds: 1 }), { cwd: deployDir })
    expect(stop.answer.facts.killed, stop.stdout).toBeUndefined()
    expect(stop.answer.facts.not_killed).toBe(String(pid))
    expect(isRunning(pid)).toBe(true)
  })

  it('freeing the port: our instance that is no longer ours at stop-timeout is not killed as ours', async () => {
    const deployDir = tempDir()
    const port = await freePort()
    makeRelease(deployDir, 'r1')
    writeFileSync(join(deployDir, 'releases', 'r1', 'leaves.js'), LEAVES_JS)
    const start = await runScript(
      startScript(
        startParams(deployDir, port, {
          release: 'r1',
          startCommand: `exec ${shellQuote(process.execPath)} leaves.js`,
          healthUrl: `http://127.0.0.1:${port + 1}/`,
        }),
      ),
      { cwd: deployDir },
    )
    expect(start.answer.facts.health, start.stdout).toBe('ok')
    const pid = track(Number(start.answer.facts.pid))
    const free = await runScript(freePortScript({ deployDir, port, stopTimeoutSeconds: 1 }), { cwd: deployDir })
    expect(free.answer.facts.idle_pid, free.stdout).toBe(String(pid))
    // Still listening, it is then a process this action did not start, and handled as one.
    expect(free.answer.facts.killed).toBeUndefined()
  })
})
