// stop-previous drains: the previous instance finishes what it serves. Slow requests (seconds
// each) are in flight through nginx during the switch, and not one of them may fail.
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { get, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

describe('stop-previous with slow requests in flight', () => {
  let target: any
  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target?.stop()
    await removeWorkspaces()
  })

  it('stops the previous instance only after it has drained; no request fails', async () => {
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    const oldPort = first.outputs['active-port']

    const slow = startTraffic({ url: target.url, path: '/slow?ms=3000', concurrency: 6, maxDurationMs: 120_000, timeoutMs: 30_000 })
    const quick = startTraffic({ url: target.url, concurrency: 2, maxDurationMs: 120_000 })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const result = await run(target, await workspaceWithJar('2'), { 'stop-previous': 'true', 'drain-seconds': '2', 'stop-timeout': '20' })
    expect(result.code, why(result)).toBe(0)
    // Let the requests that started on the new version finish too, then count.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [slowStats, quickStats] = await Promise.all([slow.stop(), quick.stop()])

    expect(slowStats.failed, JSON.stringify(slowStats.failures)).toBe(0)
    expect(quickStats.failed, JSON.stringify(quickStats.failures)).toBe(0)
    // Slow requests were answered by both versions: some were in flight on v1 across the switch.
    expect(Object.keys(slowStats.bodies).sort()).toEqual(['slow version=1', 'slow version=2'])
    expect(await served(target)).toMatch(/^200 version=2 /)

    const report = JSON.parse(result.outputs.report)[0]
    expect(report.phases.stop_previous).toBeGreaterThanOrEqual(2)
    // The previous instance is gone, and so is its record.
    await expect(get(`http://127.0.0.1:${oldPort}/`, { timeoutMs: 1000 })).rejects.toThrow()
    expect(await readdir(path.join(target.deployDir, 'run'))).not.toContain(`${oldPort}.pid`)
  })

  it('rollback with nothing warm on the other port starts the previous release there, then switches', async () => {
    const traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 120_000 })
    const result = await run(target, await workspaceWithJar('unused'), { command: 'rollback' })
    const stats = await traffic.stop()
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toContain('Nothing healthy runs on port')
    expect(Object.keys(JSON.parse(result.outputs.report)[0].phases)).toContain('start')
    expect(await served(target)).toMatch(/^200 version=1 /)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})
