// A process this action did not start on the idle port. Another service (here a Python web server,
// as after a typo in `ports`) is never signalled: the deploy fails before anything changes, naming
// it and the ways out. A JVM of this service that an old deploy script started by hand is taken
// over: stopped, with a warning, and the deploy goes on. A rollback that must start the previous
// release treats that port alike. Requests flow through nginx the whole time.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { get, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

/** Waits until `url` answers 200. */
async function answers(url: string): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if ((await get(url, { timeoutMs: 500 }).catch(() => undefined))?.status === 200) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

/** Pids of the processes whose command line holds `text`. */
function processesWith(text: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)
      } catch {
        return false
      }
    })
    .map(Number)
}

describe('a process this action did not start on the idle port', () => {
  let target: any
  let stranger: ChildProcess | undefined
  let idle: number
  /** The Python servers' empty document roots. */
  const roots: string[] = []

  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    idle = target.appPorts.find((port: number) => String(port) !== first.outputs['active-port'])
  })
  afterAll(async () => {
    try {
      // Started detached: it leads its own group, with whatever it started.
      if (stranger?.pid) process.kill(-stranger.pid, 'SIGKILL')
    } catch {
      // gone already
    }
    await target?.stop()
    await removeWorkspaces()
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })))
  })

  it('another service (a Python web server) is left alone: the deploy fails before anything changes, naming it and the ways out', async () => {
    const served0 = await served(target)
    const include = await readFile(target.includePath, 'utf8')
    const www = await mkdtemp(path.join(os.tmpdir(), 'zdd-www-'))
    roots.push(www)
    stranger = spawn('python3', ['-m', 'http.server', String(idle), '--bind', '127.0.0.1'], { cwd: www, stdio: 'ignore', detached: true })
    expect(await answers(`http://127.0.0.1:${idle}/`)).toBe(true)
    // The pid that holds the port: python3 may be a launcher that runs the interpreter as its child.
    const [pid] = processesWith('http.server').filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(String(idle)))

    const traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 120_000 })
    const result = await run(target, await workspaceWithJar('2'))
    const stats = await traffic.stop()

    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(
      new RegExp(
        `::error::stop idle: port ${idle} is held by pid ${pid} \\(\\S*python3?\\S* -m http\\.server ${idle} --bind 127\\.0\\.0\\.1\\), which this action did not start`,
      ),
    )
    expect(result.stdout).toContain('It was not signalled; nothing was started and nginx was not touched.')
    expect(result.stdout).toContain('Stop that process on the host, or choose other ports')
    expect(result.stdout).not.toContain('taken over')
    // The server still runs and answers; nginx still serves the old release, from the same include.
    expect(isRunning(pid)).toBe(true)
    expect((await get(`http://127.0.0.1:${idle}/`)).status).toBe(200)
    expect(await served(target)).toBe(served0)
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    // No new instance: nothing runs sample-2.jar, and the idle port has no record.
    expect(processesWith('sample-2.jar')).toEqual([])
    expect(existsSync(path.join(target.deployDir, 'run', `${idle}.pid`))).toBe(false)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(Object.keys(stats.bodies).some((body) => body.includes('Directory listing'))).toBe(false)

    process.kill(-stranger.pid!, 'SIGKILL')
    stranger = undefined
  })

  it('a JVM of this service started by an old deploy script (sample-0.9.jar) is taken over: stopped, with a warning, and the deploy succeeds', async () => {
    // As the old script did: java -jar <dir>/sample-0.9.jar --server.port=<port>, detached.
    const legacyJar = path.join(await workspaceWithJar('0.9'), 'build', 'libs', 'sample-0.9.jar')
    stranger = spawn('java', ['-jar', legacyJar, `--server.port=${idle}`], { stdio: 'ignore', detached: true })
    stranger.unref()
    const legacy = stranger.pid!
    expect(await answers(`http://127.0.0.1:${idle}/`)).toBe(true)

    const traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 120_000 })
    // The previous instance stops, so that the rollback below has to start one on its port.
    const result = await run(target, await workspaceWithJar('1.0'), { 'stop-previous': 'true', 'drain-seconds': '1' })
    const stats = await traffic.stop()

    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toMatch(
      new RegExp(
        `::warning::Port ${idle} was held by pid ${legacy} \\(java -jar \\S*/sample-0\\.9\\.jar --server\\.port=${idle}\\), a JVM of this service that this action did not start .*: taken over, it was stopped\\.`,
      ),
    )
    expect(isRunning(legacy)).toBe(false)
    expect(await served(target)).toBe(`200 version=1.0 port=${idle}`)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(Object.keys(stats.bodies).some((body) => body.includes('version=0.9'))).toBe(false)
    stranger = undefined
  })

  it('rollback: another service on the port it would start the previous release on is left alone, and the rollback fails', async () => {
    const other = target.appPorts.find((port: number) => port !== idle)
    const served0 = await served(target)
    const www = await mkdtemp(path.join(os.tmpdir(), 'zdd-www-'))
    roots.push(www)
    stranger = spawn('python3', ['-m', 'http.server', String(other), '--bind', '127.0.0.1'], { cwd: www, stdio: 'ignore', detached: true })
    expect(await answers(`http://127.0.0.1:${other}/`)).toBe(true)
    const [pid] = processesWith('http.server').filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(String(other)))

    const traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 120_000 })
    const result = await run(target, await workspaceWithJar('unused'), { command: 'rollback' })
    const stats = await traffic.stop()

    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(
      new RegExp(`::error::stop idle: port ${other} is held by pid ${pid} \\(\\S*python3?\\S* -m http\\.server ${other} `),
    )
    expect(result.stdout).toContain('Stop that process on the host, or choose other ports')
    expect(isRunning(pid)).toBe(true)
    expect(await served(target)).toBe(served0)
    expect(processesWith('sample-1.jar')).toEqual([])
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})
