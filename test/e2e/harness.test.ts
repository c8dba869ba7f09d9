// Self-check of the e2e harness (target, sample jar, traffic). If this fails, the
// deploy tests' failures say nothing about the action itself.
import { execFile as execFileCb, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper, no .d.ts (tests are not type-checked by tsc)
import { buildSampleJar } from '../../scripts/lib/sample.mjs'
// @ts-ignore -- plain JS helper, no .d.ts (tests are not type-checked by tsc)
import { get, startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper, no .d.ts (tests are not type-checked by tsc)
import { startTraffic } from '../../scripts/lib/traffic.mjs'

const execFile = promisify(execFileCb)

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await get(`${url}/actuator/health`, { timeoutMs: 1000 }).catch(() => undefined)
    if (res?.status === 200) return
    if (Date.now() > deadline) throw new Error(`${url} not healthy after ${timeoutMs} ms`)
    await sleep(100)
  }
}

describe('e2e harness', () => {
  let target: any
  let java: ChildProcess | undefined
  let javaOutput = ''

  beforeAll(async () => {
    target = await startTarget()
  })

  afterAll(async () => {
    java?.kill('SIGKILL')
    await target?.stop()
  })

  it('accepts ssh with the generated key and pinned host keys', async () => {
    expect(target.hostFingerprints).toHaveLength(2)
    for (const fp of target.hostFingerprints) expect(fp).toMatch(/^SHA256:/)
    const { stdout } = await execFile('ssh', [
      '-i',
      target.privateKeyPath,
      '-p',
      String(target.sshPort),
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${target.knownHostsPath}`,
      '-o',
      'BatchMode=yes',
      `${target.user}@127.0.0.1`,
      'echo ok',
    ])
    expect(stdout.trim()).toBe('ok')
  })

  it('serves the sample jar through nginx', async () => {
    const jar = await buildSampleJar({ outDir: path.join(target.dir, 'build'), version: '1.0.0-harness' })
    const port = target.appPorts[0]
    java = spawn('java', ['-jar', jar, `--server.port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    java.stdout!.on('data', (c) => (javaOutput += c))
    java.stderr!.on('data', (c) => (javaOutput += c))
    await waitForHealth(`http://127.0.0.1:${port}`, 15_000)
    expect(javaOutput).toContain(`started version=1.0.0-harness port=${port}`)

    const res = await get(target.url)
    expect(res.status).toBe(200)
    expect(res.body).toBe(`version=1.0.0-harness port=${port}\n`)
  })

  it('counts zero failures under steady traffic', async () => {
    const traffic = startTraffic({ url: target.url, concurrency: 4 })
    await sleep(1000)
    const stats = await traffic.stop()
    expect(stats.failures).toEqual([])
    expect(stats.failed).toBe(0)
    expect(stats.total).toBeGreaterThan(10)
    expect(Object.keys(stats.bodies)).toEqual([`version=1.0.0-harness port=${target.appPorts[0]}`])
  })

  it('finishes in-flight requests on SIGTERM', async () => {
    const slow = get(`${target.url}/slow?ms=3000`, { timeoutMs: 10_000 })
    await sleep(500) // let the request reach the handler
    const exited = once(java!, 'exit')
    java!.kill('SIGTERM')
    const res = await slow
    expect(res.status).toBe(200)
    expect(res.body).toBe('slow version=1.0.0-harness\n')
    const [code, signal] = await exited
    // 143 = 128 + SIGTERM: the JVM ran its shutdown hooks and exited by itself.
    expect(code ?? signal).toBe(143)
    expect(javaOutput).toContain('stopped version=1.0.0-harness')
    java = undefined
  })
})
