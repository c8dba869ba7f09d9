// Retention after failed deploys: the releases of deploys that failed never served, and keep-releases
// must not count them so that it prunes the one version rollback can go back to (SPEC: "Retention
// never removes the newest release that has served"). Requests flow through nginx the whole time.
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

describe('keep-releases 2, one good deploy, three failed deploys in a row, another good deploy', () => {
  let target: any
  let traffic: any
  let v1Release: string
  const keep = { 'keep-releases': '2' }

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('v1 deploys and serves', async () => {
    const result = await run(target, await workspaceWithJar('1'), keep)
    expect(result.code, why(result)).toBe(0)
    v1Release = result.outputs.release
    expect(await served(target)).toBe(`200 version=1 port=${target.appPorts[1]}`)
    traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 240_000 })
  })

  it('three releases that crash on start fail, and v1 keeps serving', async () => {
    for (const version of ['2-crash', '3-crash', '4-crash']) {
      const result = await run(target, await workspaceWithJar(version), { ...keep, env: 'SAMPLE_MODE=crash' })
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toContain('fatal: sample crash requested')
      expect(await served(target)).toBe(`200 version=1 port=${target.appPorts[1]}`)
    }
  })

  it('v5 deploys with stop-previous, and retention keeps v1 although three newer releases never served', async () => {
    const result = await run(target, await workspaceWithJar('5'), { ...keep, 'stop-previous': 'true', 'drain-seconds': '1' })
    expect(result.code, why(result)).toBe(0)
    expect(await served(target)).toBe(`200 version=5 port=${target.appPorts[0]}`)
    const releases = (await readdir(path.join(target.deployDir, 'releases'))).filter((name) => !name.startsWith('.'))
    // v5 and the newest failure are the newest two; v1 is the rollback target; the older failures go.
    expect(releases).toContain(v1Release)
    expect(releases).toContain(result.outputs.release)
    expect(releases).toHaveLength(3)
  })

  it('rollback starts v1 again and switches to it, with 0 failed requests', async () => {
    const result = await run(target, await workspaceWithJar('unused'), { ...keep, command: 'rollback' })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs.release).toBe(v1Release)
    expect(await served(target)).toBe(`200 version=1 port=${target.appPorts[1]}`)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.total).toBeGreaterThan(100)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})
