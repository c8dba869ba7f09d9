// The main job, end to end: the bundled action, run as a runner runs it, deploys to a real sshd,
// nginx and JVM on loopback while requests flow through nginx, and not one of them may fail.
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

describe('deploy, deploy, status, rollback, deploy on one host', () => {
  let target: any
  let traffic: any
  const [portA, portB] = [0, 1]

  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('first deploy starts v1 on the idle port and points nginx at it', async () => {
    const result = await run(target, await workspaceWithJar('1'), { env: 'GREETING=hello world' })
    expect(result.code, why(result)).toBe(0)
    // The include initially names the first port, where nothing runs: the second port is idle.
    expect(result.outputs['active-port']).toBe(String(target.appPorts[portB]))
    expect(result.outputs['previous-port']).toBe(String(target.appPorts[portA]))
    expect(result.outputs['rolled-back']).toBe('false')
    expect(result.outputs['artifact-sha256']).toMatch(/^[0-9a-f]{64}$/)
    expect(Number(result.outputs['uploaded-bytes'])).toBeGreaterThan(1000)
    expect(result.outputs.release).toMatch(/^\d{8}-\d{6}-[0-9a-f]{8}$/)
    expect(await served(target)).toBe(`200 version=1 port=${target.appPorts[portB]}`)
    expect(await readFile(target.includePath, 'utf8')).toBe(`set $service_url http://127.0.0.1:${target.appPorts[portB]};\n`)
    // The job summary's table names the host, the port switch and the release.
    expect(result.summary).toContain('<th>Host</th>')
    expect(result.summary).toContain(`${target.appPorts[portA]} -> ${target.appPorts[portB]}`)
    expect(result.summary).toContain(result.outputs.release)
  })

  it('second deploy under load switches to v2 with 0 failed requests', async () => {
    traffic = startTraffic({ url: target.url, concurrency: 4 })
    const result = await run(target, await workspaceWithJar('2'))
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['active-port']).toBe(String(target.appPorts[portA]))
    expect(result.outputs['previous-port']).toBe(String(target.appPorts[portB]))
    expect(await served(target)).toBe(`200 version=2 port=${target.appPorts[portA]}`)
    const report = JSON.parse(result.outputs.report)
    expect(report).toHaveLength(1)
    expect(report[0].outcome).toBe('deployed')
    expect(Object.keys(report[0].phases)).toEqual(expect.arrayContaining(['connect', 'lock', 'upload', 'start', 'switch', 'cleanup']))
    expect(traffic.snapshot().failed).toBe(0)
  })

  it('status reports the active port and both healthy instances, changing nothing', async () => {
    const includeBefore = await readFile(target.includePath, 'utf8')
    const result = await run(target, await workspaceWithJar('unused'), { command: 'status' })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['active-port']).toBe(String(target.appPorts[portA]))
    const [host] = JSON.parse(result.outputs.report)
    expect(host.instances).toEqual([
      expect.objectContaining({ port: target.appPorts[portA], running: true, healthy: true, active: true }),
      expect.objectContaining({ port: target.appPorts[portB], running: true, healthy: true, active: false }),
    ])
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
  })

  it('rollback switches back to the warm v1 in seconds, uploading nothing', async () => {
    const result = await run(target, await workspaceWithJar('unused'), { command: 'rollback' })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['active-port']).toBe(String(target.appPorts[portB]))
    expect(result.outputs['uploaded-bytes']).toBe('0')
    expect(await served(target)).toBe(`200 version=1 port=${target.appPorts[portB]}`)
    // The warm instance is reused: nothing is uploaded or started, only nginx is switched.
    expect(Object.keys(JSON.parse(result.outputs.report)[0].phases)).not.toContain('start')
    expect(result.durationMs).toBeLessThan(30_000)
    expect(traffic.snapshot().failed).toBe(0)
  })

  it('third deploy replaces the idle v2, keeps v1 warm, prunes to keep-releases', async () => {
    const result = await run(target, await workspaceWithJar('3'), { 'keep-releases': 1 })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['active-port']).toBe(String(target.appPorts[portA]))
    expect(await served(target)).toBe(`200 version=3 port=${target.appPorts[portA]}`)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(stats.total).toBeGreaterThan(100)
    expect(Object.keys(stats.bodies).sort()).toEqual(
      [
        `version=1 port=${target.appPorts[portB]}`,
        `version=2 port=${target.appPorts[portA]}`,
        `version=3 port=${target.appPorts[portA]}`,
      ].sort(),
    )

    // The host's layout: v3 and the warm v1 remain (v1 runs, so it is never pruned); v2 is gone.
    const releases = (await readdir(path.join(target.deployDir, 'releases'))).sort()
    expect(releases).toHaveLength(2)
    const v3 = result.outputs.release
    expect(releases).toContain(v3)
    expect(await readdir(path.join(target.deployDir, 'releases', v3))).toEqual(expect.arrayContaining(['sample-3.jar', 'sha256', 'env']))
    expect((await stat(path.join(target.deployDir, 'releases', v3, 'env'))).mode & 0o777).toBe(0o600)
    const run_ = path.join(target.deployDir, 'run')
    expect(await readFile(path.join(run_, `${target.appPorts[portA]}.release`), 'utf8')).toBe(`${v3}\n`)
    expect(await readFile(path.join(run_, `${target.appPorts[portB]}.release`), 'utf8')).not.toBe(`${v3}\n`)
    expect(await readFile(path.join(target.deployDir, 'logs', `${target.appPorts[portA]}.log`), 'utf8')).toContain('started version=3')
    // The lock is released.
    expect(await readdir(target.deployDir)).not.toContain('.lock')
  })
})
