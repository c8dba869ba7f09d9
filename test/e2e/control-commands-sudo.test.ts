// promote, rollback of a held canary, maintenance and live as a non-root deploy user who has exactly
// the README's three sudoers rules (tee of the include, nginx -t, nginx -s reload) and nothing more.
import { execFile as execFileCb } from 'node:child_process'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_MAINTENANCE_PAGE } from '../../src/deploy/maintenance-text.js'
// @ts-ignore -- plain JS helper
import { createHostUser } from '../../scripts/lib/host-user.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { answers, fetchPage, headerOf, holdCanary, includeOf, reloadNginx } from './held-canary.js'
import { type Inputs, get, killDeployed, removeWorkspaces, run, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)
const isRoot = process.getuid?.() === 0

describe.skipIf(!isRoot)('the control commands as a deploy user with the narrow sudoers rules', () => {
  let target: any
  let user: any
  let traffic: any
  let inputs: Inputs
  let deployDir: string
  let sudoers: string
  let nginxArgs: string
  const name = `zdd-ctl-${process.pid}`

  beforeAll(async () => {
    target = await startTarget({ homeAuthorizedKeys: true })
    // The user reads the include and nginx's files, and writes none of them itself.
    await chmod(target.dir, 0o755)
    nginxArgs = `/usr/sbin/nginx -p ${target.dir} -c ${target.nginxConfPath}`
    sudoers = [
      `${name} ALL=(root) NOPASSWD: /usr/bin/tee ${target.includePath}`,
      `${name} ALL=(root) NOPASSWD: ${nginxArgs} -t, ${nginxArgs} -s reload`,
      '',
    ].join('\n')
    user = await createHostUser({ name, publicKey: await readFile(`${target.privateKeyPath}.pub`, 'utf8'), sudoers })
    deployDir = path.join(user.home, 'app')
    inputs = {
      username: name,
      'deploy-dir': deployDir,
      'nginx-test-command': `sudo -n ${nginxArgs} -t`,
      'nginx-reload-command': `sudo -n ${nginxArgs} -s reload`,
      'drain-seconds': '1',
    }
  })
  afterAll(async () => {
    await traffic?.stop()
    if (user) await killDeployed(path.join(user.home, 'app'))
    await target?.stop()
    await user?.remove()
    await removeWorkspaces()
  })

  const inode = async () => (await execFile('stat', ['-c', '%i %U %a', target.includePath])).stdout.trim()
  const stopTraffic = async () => {
    const stats = await traffic.stop()
    traffic = undefined
    return stats
  }

  it('promote and the rollback of a held canary: 0 failed requests, the include written in place', async () => {
    const before = await inode()
    for (const version of ['1', '2']) {
      const deployed = await run(target, await workspaceWithJar(version), inputs)
      expect(deployed.code, why(deployed)).toBe(0)
    }
    const [portA, portB] = target.appPorts
    await holdCanary(target, { percent: 50, newPort: portA, previousPort: portB, deployDir })
    traffic = startTraffic({ url: target.url, concurrency: 3 })
    const promoted = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'promote' })
    expect(promoted.code, why(promoted)).toBe(0)
    expect(promoted.outputs.canary).toBe('promoted')
    expect(await includeOf(target)).toBe(`set $service_url http://127.0.0.1:${portA};\n`)

    await holdCanary(target, { percent: 50, newPort: portB, previousPort: portA, deployDir })
    const back = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'rollback' })
    expect(back.code, why(back)).toBe(0)
    expect(await includeOf(target)).toBe(`set $service_url http://127.0.0.1:${portA};\n`)
    await expect(get(`http://127.0.0.1:${portB}/`, { timeoutMs: 1000 })).rejects.toThrow()
    const stats = await stopTraffic()
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(stats.total).toBeGreaterThan(20)
    const after = await answers(`${target.url}/`, 10)
    expect(new Set(after.map((a) => `${a.status} ${a.body.split('\n')[0]}`))).toEqual(new Set([`200 version=2 port=${portA}`]))
    // Same file, owner and mode: written in place through sudo tee, nothing left beside it.
    expect(await inode()).toBe(before)
  })

  it('maintenance with the default page, then live: 0 failed requests after it', async () => {
    const [portA] = target.appPorts
    const paused = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'maintenance' })
    expect(paused.code, why(paused)).toBe(0)
    expect(await answers(`${target.url}/`, 5)).toEqual(Array(5).fill({ status: 503, retryAfter: '60', body: DEFAULT_MAINTENANCE_PAGE }))
    expect((await get(`http://127.0.0.1:${portA}/`)).body).toMatch(/^version=2 /)

    const live = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'live' })
    expect(live.code, why(live)).toBe(0)
    traffic = startTraffic({ url: target.url, concurrency: 3 })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const stats = await stopTraffic()
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(Object.keys(stats.bodies)).toEqual([`version=2 port=${portA}`])
  })

  it("with a canary's nginx -T rule as well, the 503 keeps the add_header directives the server adds", async () => {
    const conf = await readFile(target.nginxConfPath, 'utf8')
    await writeFile(target.nginxConfPath, conf.replace('    location / {', '    add_header X-Frame-Options DENY always;\n    location / {'))
    await reloadNginx(target)
    await writeFile(user.sudoersPath, `${sudoers}${name} ALL=(root) NOPASSWD: ${nginxArgs} -T\n`, { mode: 0o440 })
    const paused = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'maintenance' })
    expect(paused.code, why(paused)).toBe(0)
    expect((await fetchPage(`${target.url}/`)).status).toBe(503)
    expect(await headerOf(`${target.url}/`, 'X-Frame-Options')).toBe('DENY')
    const live = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'live' })
    expect(live.code, why(live)).toBe(0)
    expect(await headerOf(`${target.url}/`, 'X-Frame-Options')).toBe('DENY')
  })

  it('a canary that no longer answers is not promoted: the canary stays held, and rollback takes every client back', async () => {
    const [portA, portB] = target.appPorts
    // Nothing runs on B since the canary there was rolled back.
    await holdCanary(target, { percent: 50, newPort: portB, previousPort: portA, deployDir })
    const include = await includeOf(target)
    const refused = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'promote' })
    expect(refused.code, why(refused)).toBe(1)
    expect(refused.stdout).toContain(`the canary on port ${portB} (release unknown) does not answer its health check`)
    expect(refused.stdout).toContain('nothing was switched and the canary stays held')
    expect(await includeOf(target)).toBe(include)
    const back = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'rollback' })
    expect(back.code, why(back)).toBe(0)
    const after = await answers(`${target.url}/`, 10)
    expect(new Set(after.map((a) => `${a.status} ${a.body.split('\n')[0]}`))).toEqual(new Set([`200 version=2 port=${portA}`]))
  })
})
