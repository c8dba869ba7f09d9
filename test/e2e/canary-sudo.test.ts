// A canary and a bake by a non-root deploy user who has exactly the README's narrow sudoers rules
// plus traffic control's two (sudo tee of the http-level file, nginx -T), and cannot write nginx's
// directories itself. Without the -T rule, the run is refused before anything starts, naming it.
import { execFile as execFileCb } from 'node:child_process'
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createHostUser } from '../../scripts/lib/host-user.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { flippedBack, startTraffic } from '../../scripts/lib/traffic.mjs'
import { type Inputs, killDeployed, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)
const isRoot = process.getuid?.() === 0

describe.skipIf(!isRoot)('a canary and a bake by a non-root deploy user with the narrow sudoers rules', () => {
  let target: any
  let user: any
  let sudoers: string
  let dumpRule: string
  const name = `zdd-canary-${process.pid}`
  let inputs: Inputs

  beforeAll(async () => {
    target = await startTarget({ homeAuthorizedKeys: true })
    // The user reads nginx's files, and cannot write their directories: only sudo tee can.
    await chmod(target.dir, 0o755)
    const nginxArgs = `/usr/sbin/nginx -p ${target.dir} -c ${target.nginxConfPath}`
    dumpRule = `${name} ALL=(root) NOPASSWD: ${nginxArgs} -T`
    sudoers = [
      `${name} ALL=(root) NOPASSWD: /usr/bin/tee ${target.includePath}`,
      `${name} ALL=(root) NOPASSWD: /usr/bin/tee ${target.httpIncludePath}`,
      `${name} ALL=(root) NOPASSWD: ${nginxArgs} -t, ${nginxArgs} -s reload`,
      dumpRule,
      '',
    ].join('\n')
    user = await createHostUser({ name, publicKey: await readFile(`${target.privateKeyPath}.pub`, 'utf8'), sudoers })
    inputs = {
      username: name,
      'deploy-dir': path.join(user.home, 'app'),
      'nginx-test-command': `sudo -n ${nginxArgs} -t`,
      'nginx-reload-command': `sudo -n ${nginxArgs} -s reload`,
      'nginx-http-include': target.httpIncludePath,
      'canary-key': '$http_x_client',
      'drain-seconds': 1,
    }
    const first = await run(target, await workspaceWithJar('1'), inputs)
    expect(first.code, why(first)).toBe(0)
  })
  afterAll(async () => {
    if (user) await killDeployed(path.join(user.home, 'app'))
    await target?.stop()
    await user?.remove()
    await removeWorkspaces()
  })

  it('cannot write the http-level file directly', async () => {
    await expect(execFile('runuser', ['-u', name, '--', 'sh', '-c', `: > ${target.httpIncludePath}`])).rejects.toThrow()
  })

  it('a 20% canary, then a bake: 0 failed requests, both judged, the http-level file written through sudo tee', async () => {
    const traffic = startTraffic({ url: target.url, clientKeys: 40, pauseMs: 250 })
    const result = await run(target, await workspaceWithJar('2'), {
      ...inputs,
      'canary-steps': '20',
      'canary-interval': 2,
      'bake-seconds': 2,
    })
    const stats = await traffic.stop()
    expect(result.code, why(result)).toBe(0)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(flippedBack(stats)).toEqual([])
    expect(await served(target)).toMatch(/^200 version=2 /)
    const [report] = JSON.parse(result.outputs.report)
    expect(report.traffic.map((step: any) => [step.step, step.verdict])).toEqual([
      ['canary 20%', 'pass'],
      ['bake', 'pass'],
    ])
    expect(report.traffic[1].figures.new.requests).toBeGreaterThan(20)
    // After the bake, the plain include again; the http-level file (root's, written by tee) maps everyone to the new port.
    expect(await readFile(target.includePath, 'utf8')).toBe(`set $service_url http://127.0.0.1:${report.activePort};\n`)
    expect(await readFile(target.httpIncludePath, 'utf8')).toContain(`* ${report.activePort};`)
    expect((await execFile('stat', ['-c', '%U', target.httpIncludePath])).stdout.trim()).toBe('root')
  })

  it('without the nginx -T rule: refused before anything is uploaded or started, naming the line to add', async () => {
    const includeBefore = await readFile(target.includePath, 'utf8')
    const releasesBefore = await readdir(path.join(user.home, 'app', 'releases'))
    await writeFile(user.sudoersPath, sudoers.replace(`${dumpRule}\n`, ''), { mode: 0o440 })
    try {
      const result = await run(target, await workspaceWithJar('3'), { ...inputs, 'bake-seconds': 5 })
      expect(result.code, why(result)).toBe(1)
      const [report] = JSON.parse(result.outputs.report)
      expect(report.failedStep).toBe('inspect')
      expect(report.error).toContain('Nothing was uploaded or started.')
      expect(report.error).toContain(`"${dumpRule}"`)
      expect(await readdir(path.join(user.home, 'app', 'releases'))).toEqual(releasesBefore)
      expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    } finally {
      await writeFile(user.sudoersPath, sudoers, { mode: 0o440 })
    }
  })
})
