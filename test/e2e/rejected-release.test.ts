// A release that the analysis sent back never comes back by itself: after a flaky release is caught
// in a canary step and another in a bake, a plain `command: rollback` (nothing warm on the other
// port, so it restarts a kept release) starts the newest release that a run kept, never a rejected one.
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

describe('a release rejected by the analysis', () => {
  let target: any
  let traffic: any
  let ports: [number, number]
  const inputs = { 'canary-key': '$http_x_client', 'drain-seconds': 1 }

  beforeAll(async () => {
    target = await startTarget()
    ports = target.appPorts
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  /** Deploys `version` with traffic through nginx the whole time. */
  async function deploy(version: string, extra: Record<string, string | number> = {}) {
    traffic = startTraffic({ url: target.url, clientKeys: 50, pauseMs: 100 })
    await sleep(300)
    const result = await run(target, await workspaceWithJar(version), { ...inputs, 'nginx-http-include': target.httpIncludePath, ...extra })
    await traffic.stop()
    traffic = undefined
    return result
  }

  it('is not restarted by a later rollback: the newest release a run kept is', async () => {
    for (const version of ['1', '2']) {
      const result = await deploy(version)
      expect(result.code, why(result)).toBe(0)
    }
    expect(await served(target)).toBe(`200 version=2 port=${ports[0]}`)
    const releasesOf = async () => (await readdir(path.join(target.deployDir, 'releases'))).sort()
    const [v1] = await releasesOf()

    const inCanary = await deploy('3', { env: 'SAMPLE_MODE=flaky', 'canary-steps': '20', 'canary-interval': 20 })
    expect(inCanary.code, why(inCanary)).not.toBe(0)
    expect(inCanary.outputs['rolled-back']).toBe('true')
    const inBake = await deploy('4', { env: 'SAMPLE_MODE=flaky', 'bake-seconds': 20 })
    expect(inBake.code, why(inBake)).not.toBe(0)
    expect(inBake.outputs['rolled-back']).toBe('true')
    expect(JSON.parse(inBake.outputs.report)[0].failedStep).toBe('bake')
    expect(await served(target)).toBe(`200 version=2 port=${ports[0]}`)
    expect((await releasesOf()).length).toBe(4)

    // The rejected release's instance was stopped: nothing is warm on the other port.
    const back = await run(target, await workspaceWithJar('unused'), { command: 'rollback', 'drain-seconds': 1 })
    expect(back.code, why(back)).toBe(0)
    expect(back.stdout).toContain(`starting release ${v1} there`)
    expect(back.outputs.release).toBe(v1)
    expect(await served(target)).toBe(`200 version=1 port=${ports[1]}`)
  })
})
