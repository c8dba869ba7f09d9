// What a run starts does not outlive it unseen: a deploy cut off while its instance is still
// starting leaves nothing the next deploy cannot find and stop, and a rollback whose
// pre-switch-command fails stops the instance it started. Requests flow through nginx all along.
import { type ChildProcess } from 'node:child_process'
import { readdir, readFile, readlink } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, get, inputsFor, killDeployed, removeWorkspaces, run, runAction, served, why, workspaceWithJar } from './support.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Every process running in one of `deployDir`'s releases, with its release: the app's instances and what they started. */
async function releaseProcesses(deployDir: string): Promise<Array<{ pid: number; release: string; command: string }>> {
  const releases = path.join(deployDir, 'releases') + '/'
  const found = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '')
    if (!cwd.startsWith(releases)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    if (stat === '' || /^\d+ \(.*\) [ZX] /.test(stat)) continue
    const command = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ')
    found.push({ pid: Number(entry), release: cwd.slice(releases.length).split('/')[0], command })
  }
  return found
}

describe('processes a cut-off run started', () => {
  let target: any
  let traffic: any
  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    traffic = startTraffic({ url: target.url, concurrency: 2, maxDurationMs: 240_000 })
  }, 120_000)
  afterAll(async () => {
    await traffic?.stop()
    await killDeployed(target?.deployDir ?? '/nonexistent')
    await target?.stop()
    await removeWorkspaces()
  })

  it('a deploy killed as soon as its start was sent: the next deploy stops what it started; two instances at most', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const idle = target.appPorts.find((p: number) => !include.includes(`:${p};`))
    const log = path.join(target.deployDir, 'logs', `${idle}.log`)
    const starts = async () => (await readFile(log, 'utf8').catch(() => '')).match(/starting release (\S+)/g) ?? []
    const before = (await starts()).length
    let child: ChildProcess | undefined
    // The instance waits before it starts the JVM: the run is cut while it is not listening yet.
    const cut = runAction({
      inputs: inputsFor(target, { 'start-command': 'sleep 8; exec java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"' }),
      workspace: await workspaceWithJar('2-cut'),
      onSpawn: (c: ChildProcess) => (child = c),
      timeoutMs: 120_000,
    })
    for (let i = 0; (await starts()).length === before; i++) {
      if (i > 1200) throw new Error('the cut run never started its release')
      await sleep(25)
    }
    child!.kill('SIGKILL')
    const cutResult: ActionRun = await cut
    expect(cutResult.code).not.toBe(0)
    const cutRelease = (await starts()).at(-1)!.split(' ').at(-1)!
    expect((await releaseProcesses(target.deployDir)).some((p) => p.release === cutRelease)).toBe(true)

    const next = await run(target, await workspaceWithJar('3'), { 'lock-timeout': '120' })
    expect(next.code, why(next)).toBe(0)
    expect(await served(target)).toMatch(/^200 version=3 /)
    // Whatever the cut run's shell still did, nothing of its release runs once it has settled.
    await sleep(3000)
    const left = await releaseProcesses(target.deployDir)
    expect(left.filter((p) => p.release === cutRelease)).toEqual([])
    expect(left.filter((p) => p.command.startsWith('java ')).length, JSON.stringify(left)).toBeLessThanOrEqual(2)
  }, 180_000)

  it('a rollback whose pre-switch-command fails stops the instance it started; the active version still serves', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const idle = target.appPorts.find((p: number) => !include.includes(`:${p};`))
    // The warm instance is gone: the rollback starts the previous release itself.
    const pidFile = path.join(target.deployDir, 'run', `${idle}.pid`)
    const warm = Number.parseInt(await readFile(pidFile, 'utf8'), 10)
    process.kill(-warm, 'SIGKILL')
    await sleep(500)
    const result = await run(target, '.', { command: 'rollback', 'pre-switch-command': 'echo "smoke test failed"; exit 5' })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(`Nothing healthy runs on port ${idle}: starting release`)
    expect(result.stdout).toContain(
      `::error::pre-switch-command: failed with exit status 5. The instance it started on port ${idle} was stopped; nothing was switched and the active version still serves.`,
    )
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toMatch(/^200 version=3 /)
    await expect(get(`http://127.0.0.1:${idle}/`, { timeoutMs: 1000 })).rejects.toThrow()
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  }, 120_000)
})
