// Every failure leaves the old version serving: a release that never turns healthy, one that
// crashes, an include nginx rejects, a verify-url that fails after the switch, and an old JVM of
// the service holding the idle port. Requests flow through nginx the whole time; not one may fail.
import { readdir, readFile } from 'node:fs/promises'
import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { get, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

describe('failed deploys keep the old version serving', () => {
  let target: any
  let traffic: any
  let v1Served: string
  let stranger: ChildProcess | undefined

  /** What must hold after every failure: same include, same answer, no partial release left. */
  async function expectUntouched(includeBefore: string): Promise<void> {
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    expect(await served(target)).toBe(v1Served)
    const releases = await readdir(path.join(target.deployDir, 'releases'))
    expect(releases.filter((name) => name.startsWith('.'))).toEqual([])
    expect((await readdir(path.dirname(target.includePath))).filter((name) => name.includes('.zdd-'))).toEqual([])
  }

  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    v1Served = await served(target)
    traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 170_000 })
  })
  afterAll(async () => {
    stranger?.kill('SIGKILL')
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('a release that never turns healthy fails after health-timeout, is stopped, and shows its log', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const result = await run(target, await workspaceWithJar('2-unhealthy'), { env: 'SAMPLE_MODE=unhealthy', 'health-timeout': '3' })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(
      /::error::health check: http:\/\/127\.0\.0\.1:\d+\/actuator\/health did not answer 2xx within health-timeout \(3 s\); last answer: HTTP 503/,
    )
    expect(result.stdout).toContain('started version=2-unhealthy')
    const report = JSON.parse(result.outputs.report)[0]
    expect(report.outcome).toBe('failed')
    expect(result.outputs['active-port']).toBe(String(target.appPorts[1]))
    await expectUntouched(include)
    // The unhealthy instance was stopped: nothing answers on the idle port.
    await expect(get(`http://127.0.0.1:${target.appPorts[0]}/`, { timeoutMs: 1000 })).rejects.toThrow()
  })

  it('a release that crashes on start fails within seconds, not at the timeout, with its log tail', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const result = await run(target, await workspaceWithJar('2-crash'), { env: 'SAMPLE_MODE=crash', 'health-timeout': '120' })
    expect(result.code, why(result)).toBe(1)
    // Far below health-timeout: the dead process is noticed, not waited out.
    expect(result.durationMs).toBeLessThan(40_000)
    expect(result.stdout).toMatch(/::error::start: release \S+ exited on port \d+ before it answered its health check/)
    expect(result.stdout).toContain('fatal: sample crash requested')
    await expectUntouched(include)
  })

  it('an include that nginx -t rejects is put back byte for byte, and nginx is not reloaded', async () => {
    // Odd bytes in the old include (a comment, no final newline) prove the restore is exact.
    const include = await readFile(target.includePath, 'utf8')
    const odd = `# keep me \u00e9\r\n${include.trimEnd()}`
    const { writeFile } = await import('node:fs/promises')
    await writeFile(target.includePath, odd)
    const result = await run(target, await workspaceWithJar('2-badinclude'), {
      'nginx-include-template': 'set $service_url http://127.0.0.1:{port}; no_such_directive on;',
    })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain('::error::switch: the nginx test')
    expect(result.stdout).toContain('no_such_directive')
    await expectUntouched(odd)
    await writeFile(target.includePath, include)
  })

  it('a verify-url that fails after the reload puts traffic back and reports rolled-back', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const result = await run(target, await workspaceWithJar('2-verify'), {
      'verify-url': `${target.url}/no-such-page`,
      'health-timeout': '2',
    })
    expect(result.code, why(result)).toBe(1)
    expect(result.outputs['rolled-back']).toBe('true')
    expect(result.stdout).toMatch(
      /::error::verify: .*no-such-page did not answer 2xx within 2 s after the switch \(last answer: HTTP 404\); traffic was put back/,
    )
    await expectUntouched(include)
  })

  it('a JVM of this service that an old deploy script started, holding the idle port and ignoring SIGTERM, is taken over: killed and named; traffic never reaches it', async () => {
    const idle = target.appPorts[0]
    const jarDir = await workspaceWithJar('0.9')
    const jar = path.join(jarDir, 'build', 'libs', 'sample-0.9.jar')
    stranger = spawn('java', ['-jar', jar, `--server.port=${idle}`], {
      env: { ...process.env, SAMPLE_MODE: 'ignore-term' },
      stdio: 'ignore',
    })
    for (let i = 0; i < 100; i++) {
      if ((await get(`http://127.0.0.1:${idle}/`, { timeoutMs: 500 }).catch(() => undefined))?.status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const result = await run(target, await workspaceWithJar('2'), { 'stop-timeout': '2' })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toMatch(
      new RegExp(
        `::warning::Port ${idle} was held by pid ${stranger.pid} \\(java -jar .*sample-0\\.9\\.jar.*\\), a JVM of this service .*: taken over, it was stopped with SIGKILL after stop-timeout`,
      ),
    )
    expect(await served(target)).toBe(`200 version=2 port=${idle}`)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(Object.keys(stats.bodies).some((body) => body.includes('version=0.9'))).toBe(false)
  })

  it('after all that, a rerun of the same version succeeds', async () => {
    const result = await run(target, await workspaceWithJar('3'))
    expect(result.code, why(result)).toBe(0)
    expect(await served(target)).toBe(`200 version=3 port=${target.appPorts[1]}`)
  })
})
