// A deploy cut off (SIGKILL of the action) in the middle of a canary step: no request fails, the
// split stays in place as a held canary that a deploy will not walk past, and `command: rollback`
// puts every client back on the version that served before, with the canary's instance stopped.
import { type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, inputsFor, killDeployed, removeWorkspaces, run, runAction, served, why, workspaceWithJar } from './support.js'

/** Whether process `pid` still runs (a zombie or a dead one does not). */
async function running(pid: number): Promise<boolean> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then(
    (stat) => !/^\d+ \(.*\) [ZX] /.test(stat),
    () => false,
  )
}

describe('a deploy cut off during a canary step', () => {
  let target: any
  let traffic: any
  const inputs = (extra: Record<string, string | number> = {}) => ({
    'canary-key': '$http_x_client',
    'nginx-http-include': target.httpIncludePath,
    'drain-seconds': 1,
    'lock-timeout': 120,
    ...extra,
  })

  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
  })
  afterAll(async () => {
    await traffic?.stop()
    await killDeployed(target?.deployDir ?? '/nonexistent')
    await target?.stop()
    await removeWorkspaces()
  })

  it('SIGKILL while a 50% canary is watched: 0 failed requests, a deploy refused, then rollback serves the old version again', async () => {
    const before = await served(target)
    expect(before).toMatch(/^200 version=1 /)
    traffic = startTraffic({ url: target.url, clientKeys: 40, pauseMs: 100 })
    let child: ChildProcess | undefined
    const cut = runAction({
      inputs: inputsFor(target, inputs({ 'canary-steps': '50', 'canary-interval': '60' })),
      workspace: await workspaceWithJar('2'),
      onSpawn: (c: ChildProcess) => (child = c),
      timeoutMs: 120_000,
    })
    for (let i = 0; !(await readFile(target.includePath, 'utf8')).includes('canary 50%'); i++) {
      if (i > 2400) throw new Error('the canary step never began')
      await sleep(25)
    }
    await sleep(1000) // within the step's watch
    child!.kill('SIGKILL')
    const cutResult: ActionRun = await cut
    expect(cutResult.code).not.toBe(0)
    expect(await running(child!.pid!)).toBe(false)

    // The split stays: both versions serve their clients, and no request fails.
    await sleep(2000)
    expect(await readFile(target.includePath, 'utf8')).toContain('canary 50%')
    const during = traffic.snapshot()
    expect(during.failed, JSON.stringify(during.failures)).toBe(0)
    expect(Object.keys(during.bodies).some((body) => body.startsWith('version=2 '))).toBe(true)

    // A deploy does not walk past it, and says how to finish it.
    const refused = await run(target, await workspaceWithJar('3'), inputs())
    expect(refused.code).not.toBe(0)
    expect(refused.stdout).toContain('command: promote')
    expect(refused.stdout).toContain('command: rollback')

    const back = await run(target, await workspaceWithJar('1'), inputs({ command: 'rollback' }))
    expect(back.code, why(back)).toBe(0)
    expect(await served(target)).toBe(before)
    const stats = await traffic.stop()
    traffic = undefined
    console.log(`measured: a canary cut by SIGKILL, then rolled back: ${stats.failed} of ${stats.total} requests failed`)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    // The canary's instance was stopped: only version 1 answers on either port now.
    const include = await readFile(target.includePath, 'utf8')
    const other = target.appPorts.find((p: number) => !include.includes(`:${p};`))
    const probe = await fetch(`http://127.0.0.1:${other}/`).then(
      (r) => r.status,
      () => 'closed',
    )
    expect(probe).toBe('closed')
  }, 180_000)
})
