// Traffic control's commands end to end, on one host with real nginx and JVMs, traffic through
// nginx throughout: a deploy that holds its canary, a deploy refused meanwhile, promote; a held
// canary rolled back; maintenance and live, and a deploy during maintenance.
import { existsSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { answers, headerOf, includeOf, reloadNginx } from './held-canary.js'
import { get, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

describe('promote, rollback of a held canary, maintenance and live on one host', () => {
  let target: any
  let traffic: any
  let portA: number
  let portB: number
  const PAGE = '<h1>Back at 10:00</h1>\n<p>Orders placed before the break are safe. "$5" off today.</p>'

  beforeAll(async () => {
    target = await startTarget()
    ;[portA, portB] = target.appPorts
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  const stopTraffic = async () => {
    const stats = await traffic.stop()
    traffic = undefined
    return stats
  }

  /** A deploy that holds its canary at 50% (canary-interval 0), as a first job of a reviewed promotion. */
  const holdingCanary = async (version: string) => {
    const result = await run(target, await workspaceWithJar(version), {
      'nginx-http-include': target.httpIncludePath,
      'canary-steps': '50',
      'canary-interval': '0',
    })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs.canary).toBe('held')
    return result
  }

  it('a deploy of v2 holds its canary beside v1: status shows the split', async () => {
    // The first deploy takes port B (the include names A, where nothing runs); the second, port A.
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    await holdingCanary('2')
    const status = await run(target, await workspaceWithJar('unused'), { command: 'status' })
    expect(status.code, why(status)).toBe(0)
    const [host] = JSON.parse(status.outputs.report)
    expect(host.routing).toMatchObject({
      mode: 'canary',
      canary: { percent: 50, newPort: portA, previousPort: portB, newRelease: expect.any(String), previousRelease: expect.any(String) },
    })
    expect(status.outputs.canary).toBe('held')
    expect(status.stdout).toContain(
      `a canary is held: nginx sends 50% of clients to port ${portA} (release ${host.routing.canary.newRelease})`,
    )
    expect(status.stdout).toContain(`port ${portA} (canary: 50% of clients): release ${host.routing.canary.newRelease}`)
    expect(status.summary).toContain(`${host.host}: a canary is held: nginx sends 50% of clients to port ${portA}`)
  })

  it('a deploy while the canary is held fails at once, naming both commands, and uploads nothing', async () => {
    const include = await includeOf(target)
    const releases = await readdir(path.join(target.deployDir, 'releases'))
    const result = await run(target, await workspaceWithJar('9'))
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(`a canary is held on ${target.user}@${target.host}:${target.sshPort}`)
    expect(result.stdout).toContain('`command: promote` sends all traffic to the new instance, `command: rollback` sends it all back')
    expect(result.outputs['uploaded-bytes']).toBe('0')
    expect(await readdir(path.join(target.deployDir, 'releases'))).toEqual(releases)
    expect(await includeOf(target)).toBe(include)
    const dryRun = await run(target, await workspaceWithJar('9'), { 'dry-run': 'true' })
    expect(dryRun.code, why(dryRun)).toBe(1)
    expect(dryRun.stdout).toContain('Finish it before deploying: `command: promote` sends all traffic to the new instance')
  })

  it('promote sends all traffic to the canary with 0 failed requests, and keeps the previous instance warm', async () => {
    traffic = startTraffic({ url: target.url, concurrency: 4 })
    const result = await run(target, await workspaceWithJar('unused'), {
      command: 'promote',
      // The full switch happens now, and with it the user's check after the switch.
      'post-switch-command': 'echo "checked $RELEASE on port $PORT after $COMMAND"',
    })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs).toMatchObject({ 'active-port': String(portA), 'previous-port': String(portB), canary: 'promoted' })
    expect(result.stdout).toContain(`checked ${result.outputs.release} on port ${portA} after promote`)
    expect(await includeOf(target)).toBe(`set $service_url http://127.0.0.1:${portA};\n`)
    const after = await answers(`${target.url}/`, 20)
    expect(new Set(after.map((a) => `${a.status} ${a.body.split('\n')[0]}`))).toEqual(new Set([`200 version=2 port=${portA}`]))
    const stats = await stopTraffic()
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(stats.total).toBeGreaterThan(20)
    // stop-previous is off: v1 stays warm for rollback.
    expect((await get(`http://127.0.0.1:${portB}/`)).body).toMatch(/^version=1 /)
  })

  it('promote without a held canary fails clearly and changes nothing', async () => {
    const result = await run(target, await workspaceWithJar('unused'), { command: 'promote' })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(
      `no canary is held on ${target.user}@${target.host}:${target.sshPort}; nothing to promote (nginx sends all traffic to port ${portA}`,
    )
    expect(await served(target)).toBe(`200 version=2 port=${portA}`)
  })

  it('rollback of a held canary puts every client back on the previous instance and stops the canary: 0 failed', async () => {
    // v3 is the canary this time, on B; v2 on A is the previous instance.
    await holdingCanary('3')
    traffic = startTraffic({ url: target.url, concurrency: 4 })
    const result = await run(target, await workspaceWithJar('unused'), { command: 'rollback', 'drain-seconds': '1' })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs).toMatchObject({ 'active-port': String(portA), 'previous-port': String(portB) })
    expect(JSON.parse(result.outputs.report)[0].outcome).toBe('rolled-back')
    expect(await includeOf(target)).toBe(`set $service_url http://127.0.0.1:${portA};\n`)
    const after = await answers(`${target.url}/`, 20)
    expect(new Set(after.map((a) => `${a.status} ${a.body.split('\n')[0]}`))).toEqual(new Set([`200 version=2 port=${portA}`]))
    const stats = await stopTraffic()
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    // The canary's instance is stopped: nothing is left on its port.
    await expect(get(`http://127.0.0.1:${portB}/`, { timeoutMs: 1000 })).rejects.toThrow()
    expect(existsSync(path.join(target.deployDir, 'run', `${portB}.pid`))).toBe(false)
  })

  it('a later rollback never goes back to the canary that was sent back: it restarts v1, which served before v2', async () => {
    const result = await run(target, await workspaceWithJar('unused'), { command: 'rollback' })
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['active-port']).toBe(String(portB))
    expect(await served(target)).toBe(`200 version=1 port=${portB}`)
  })

  it('maintenance: every request through nginx gets 503, Retry-After and the page, while the instance keeps running', async () => {
    const page = path.join(target.dir, 'maintenance.html')
    await writeFile(page, `${PAGE}\n`)
    // A header the server block adds to every answer: the 503 keeps it.
    const conf = await readFile(target.nginxConfPath, 'utf8')
    await writeFile(target.nginxConfPath, conf.replace('    location / {', '    add_header X-Frame-Options DENY always;\n    location / {'))
    await reloadNginx(target)
    expect(await headerOf(`${target.url}/`, 'X-Frame-Options')).toBe('DENY')
    // Requests running across the change meet either v1 or the page, never an error of another kind.
    traffic = startTraffic({ url: target.url, concurrency: 4 })
    const result = await run(target, await workspaceWithJar('unused'), { command: 'maintenance', 'maintenance-page': page })
    expect(result.code, why(result)).toBe(0)
    const stats = await stopTraffic()
    expect(stats.failures.filter((f: any) => f.status !== 503)).toEqual([])
    const during = await answers(`${target.url}/any/path`, 20)
    const expected = { status: 503, retryAfter: '60', body: PAGE.replace('$', '&#36;') }
    expect(during).toEqual(Array(20).fill(expected))
    expect(await headerOf(`${target.url}/`, 'X-Frame-Options')).toBe('DENY')
    expect((await get(`http://127.0.0.1:${portB}/`)).body).toMatch(/^version=1 /)

    const status = await run(target, await workspaceWithJar('unused'), { command: 'status' })
    const [host] = JSON.parse(status.outputs.report)
    expect(host.routing).toMatchObject({ mode: 'maintenance', port: portB })
    expect(status.stdout).toContain(`in maintenance: nginx answers 503 to every request; port ${portB} (release`)
  })

  it('a deploy during maintenance starts and checks v4, and stays in maintenance with the page it had', async () => {
    const result = await run(target, await workspaceWithJar('4'))
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['active-port']).toBe(String(portA))
    expect(result.stdout).toContain('It stays in maintenance')
    expect(await answers(`${target.url}/`, 5)).toEqual(Array(5).fill({ status: 503, retryAfter: '60', body: PAGE.replace('$', '&#36;') }))
    expect((await get(`http://127.0.0.1:${portA}/`)).body).toMatch(/^version=4 /)
  })

  it('live puts traffic back on the active instance, v4: 0 failed requests after it', async () => {
    const result = await run(target, await workspaceWithJar('unused'), { command: 'live' })
    expect(result.code, why(result)).toBe(0)
    expect(await includeOf(target)).toBe(`set $service_url http://127.0.0.1:${portA};\n`)
    traffic = startTraffic({ url: target.url, concurrency: 4 })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const stats = await stopTraffic()
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(Object.keys(stats.bodies)).toEqual([`version=4 port=${portA}`])

    // Every command that changed what serves left its line.
    const status = await run(target, await workspaceWithJar('unused'), { command: 'status' })
    const commands = JSON.parse(status.outputs.report)[0].history.map((e: any) => `${e.command} ${e.outcome}`)
    expect(commands).toEqual(
      expect.arrayContaining(['promote promoted', 'promote failed', 'rollback rolled-back', 'maintenance maintenance', 'live live']),
    )
  })
})
