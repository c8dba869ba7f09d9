// A pid is reused once its process has gone: a pid file left on the idle port may name any process
// on the host by now. The deploy must leave that process alone, say so, and deploy as usual, with
// requests flowing through nginx the whole time.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

describe('a stale pid file on the idle port', () => {
  let target: any
  let unrelated: ChildProcess | undefined

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    try {
      if (unrelated?.pid) process.kill(-unrelated.pid, 'SIGKILL')
    } catch {
      // gone already
    }
    await target?.stop()
    await removeWorkspaces()
  })

  it('names a process the action did not start: it is left alone, reported stale, and the deploy succeeds', async () => {
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    const idle = target.appPorts.find((port: number) => String(port) !== first.outputs['active-port'])
    // The idle port's record, as an instance that ended long ago left it; its pid now belongs to a
    // process of someone else's (a sleep, leading its own process group).
    unrelated = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' })
    const runDir = path.join(target.deployDir, 'run')
    await writeFile(path.join(runDir, `${idle}.pid`), `${unrelated.pid}\n`)
    await writeFile(path.join(runDir, `${idle}.release`), `${first.outputs.release}\n`)

    const traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 120_000 })
    const result = await run(target, await workspaceWithJar('2'))
    const stats = await traffic.stop()
    expect(result.code, why(result)).toBe(0)
    expect(isRunning(unrelated.pid!)).toBe(true)
    expect(result.stdout).toContain(
      `::warning::Port ${idle}: run/${idle}.pid names pid ${unrelated.pid}, but that process is not the instance this action started there`,
    )
    expect(result.stdout).not.toContain(`Stopped the previous instance on idle port ${idle}`)
    expect(await served(target)).toBe(`200 version=2 port=${idle}`)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    // The new instance's record names it and what it is.
    const [pid, identity] = (await readFile(path.join(runDir, `${idle}.pid`), 'utf8')).split('\n')
    expect(Number(pid)).not.toBe(unrelated.pid)
    expect(identity).toMatch(/^boot=[0-9a-f-]+ start=\d+$/)
  })

  it('an instance working in a directory inside its release is ours: the next deploy to its port stops it as usual', async () => {
    // A server that goes into a folder of its release (BusyBox's httpd -h www, a script that cds first).
    const inFolder = {
      // Its command line names the jar relative to that folder: only its working directory tells.
      'start-command': 'mkdir -p www && cd www && exec java $JAVA_OPTS -jar "../${ARTIFACT##*/}" --server.port="$PORT"',
      // No systemd on this host: without this, every deploy warns that the service runs detached.
      supervisor: 'none',
    }
    const third = await run(target, await workspaceWithJar('3'), inFolder)
    expect(third.code, why(third)).toBe(0)
    const port = Number(third.outputs['active-port'])
    const fourth = await run(target, await workspaceWithJar('4'), inFolder)
    expect(fourth.code, why(fourth)).toBe(0)

    const traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 120_000 })
    const fifth = await run(target, await workspaceWithJar('5'), inFolder)
    const stats = await traffic.stop()
    expect(fifth.code, why(fifth)).toBe(0)
    expect(
      fifth.stdout.split('\n').filter((line) => line.startsWith('::warning::')),
      fifth.stdout,
    ).toEqual([])
    expect(fifth.stdout).toContain(`Stopped the previous instance on idle port ${port}`)
    expect(fifth.stdout).not.toContain(`Port ${port} was held by pid`)
    expect(await served(target)).toBe(`200 version=5 port=${port}`)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})
