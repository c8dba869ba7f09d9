// The switch on hosts as users have them: a second nginx master on the machine whose command line
// looks exactly like the target's (a container's, another network namespace's), as root and as a
// non-root deploy user who has exactly the README's narrow sudoers rules and nothing more.
import { execFile as execFileCb } from 'node:child_process'
import { chmod, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createHostUser } from '../../scripts/lib/host-user.mjs'
// @ts-ignore -- plain JS helper
import { startNginxTwin } from '../../scripts/lib/nginx-twin.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type Inputs, get, killDeployed, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)
const isRoot = process.getuid?.() === 0

/** The twin's master and workers, and the command line both masters show in /proc. */
async function masterTitle(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'latin1')).replace(/\0+$/, '')
}

describe.skipIf(!isRoot)('a second nginx master that looks alike, as root', () => {
  let target: any
  let twin: any
  let traffic: any
  let twinWorkers: number[]

  beforeAll(async () => {
    target = await startTarget()
    twin = await startNginxTwin(target)
    twinWorkers = await twin.workers()
  })
  afterAll(async () => {
    await traffic?.stop()
    await twin?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('both masters show the same command line', async () => {
    const ours = Number((await readFile(path.join(target.dir, 'nginx.pid'), 'utf8')).trim())
    expect(await masterTitle(twin.masterPid)).toBe(await masterTitle(ours))
    expect(twinWorkers.length).toBeGreaterThan(0)
  })

  it('deploy, deploy with verify-url, rollback: each switch confirmed on the target nginx, 0 failed requests', async () => {
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    traffic = startTraffic({ url: target.url, concurrency: 3 })
    const second = await run(target, await workspaceWithJar('2'), { 'verify-url': `${target.url}/` })
    expect(second.code, why(second)).toBe(0)
    expect(second.stdout).toContain('answered 2xx')
    expect(await served(target)).toMatch(/^200 version=2 /)
    const back = await run(target, await workspaceWithJar('unused'), { command: 'rollback' })
    expect(back.code, why(back)).toBe(0)
    expect(await served(target)).toMatch(/^200 version=1 /)
    expect(traffic.snapshot().failed, JSON.stringify(traffic.snapshot().failures)).toBe(0)
    // The twin was never signalled: its workers are the ones it started with.
    expect(await twin.workers()).toEqual(twinWorkers)
  })

  it('a reload that does not take: the include goes back, and the new instance drains drain-seconds before it stops', async () => {
    const reloads = path.join(target.dir, 'reloads')
    // Tests the target's configuration instead of reloading it, and records each time it runs: the
    // reload, then the one that follows putting the old include back.
    const reloadCommand = `${target.nginxTestCommand} 2>/dev/null && date +%s.%N >> ${reloads}`
    const includeBefore = await readFile(target.includePath, 'utf8')
    const active = Number(/:(\d+);/.exec(includeBefore)![1])
    const idle = target.appPorts.find((port: number) => port !== active)
    let lastAnswerOnIdle = 0
    let watching = true
    const watch = (async () => {
      while (watching) {
        const answered = await get(`http://127.0.0.1:${idle}/`, { timeoutMs: 500 }).then(
          () => true,
          () => false,
        )
        if (answered) lastAnswerOnIdle = Date.now()
        await sleep(100)
      }
    })()
    const drainSeconds = 4
    const result = await run(target, await workspaceWithJar('3'), { 'nginx-reload-command': reloadCommand, 'drain-seconds': drainSeconds })
    watching = false
    await watch
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain('no nginx master started new workers within 10 s of the reload')
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    expect(await served(target)).toMatch(/^200 version=1 /)
    const [, restoreReload] = (await readFile(reloads, 'utf8')).trim().split('\n').map(Number)
    // The new instance answered for drain-seconds after the include was put back, and is gone now.
    expect(lastAnswerOnIdle / 1000 - restoreReload).toBeGreaterThan(drainSeconds - 0.5)
    await expect(get(`http://127.0.0.1:${idle}/`, { timeoutMs: 1000 })).rejects.toThrow()
    expect(result.stdout).toContain(`Draining port ${idle} for ${drainSeconds} s`)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    expect(stats.total).toBeGreaterThan(50)
    await rm(reloads, { force: true })
  })
})

describe.skipIf(!isRoot)('a non-root deploy user with the narrow sudoers file, and a second nginx master', () => {
  let target: any
  let twin: any
  let user: any
  let sudoers: string
  const name = `zdd-sudo-${process.pid}`
  let inputs: Inputs

  beforeAll(async () => {
    target = await startTarget({ homeAuthorizedKeys: true })
    // The user reads the include (and nginx's files as root does): the dir is not writable by it.
    await chmod(target.dir, 0o755)
    const nginxArgs = `/usr/sbin/nginx -p ${target.dir} -c ${target.nginxConfPath}`
    sudoers = [
      `${name} ALL=(root) NOPASSWD: /usr/bin/tee ${target.includePath}`,
      `${name} ALL=(root) NOPASSWD: ${nginxArgs} -t, ${nginxArgs} -s reload`,
      '',
    ].join('\n')
    user = await createHostUser({ name, publicKey: await readFile(`${target.privateKeyPath}.pub`, 'utf8'), sudoers })
    twin = await startNginxTwin(target)
    inputs = {
      username: name,
      'deploy-dir': path.join(user.home, 'app'),
      'nginx-test-command': `sudo -n ${nginxArgs} -t`,
      'nginx-reload-command': `sudo -n ${nginxArgs} -s reload`,
    }
  })
  afterAll(async () => {
    if (user) await killDeployed(path.join(user.home, 'app'))
    await twin?.stop()
    await target?.stop()
    await user?.remove()
    await removeWorkspaces()
  })

  it('cannot write the include directly, nor run anything else as root', async () => {
    const asUser = (...command: string[]) => execFile('runuser', ['-u', name, '--', ...command])
    await expect(asUser('sh', '-c', `: > ${path.dirname(target.includePath)}/other`)).rejects.toThrow()
    await expect(asUser('sudo', '-n', 'tee', `${target.includePath}.other`)).rejects.toThrow()
    await expect(asUser('sudo', '-n', 'sh', '-c', 'true')).rejects.toThrow()
  })

  it('deploys twice (verify-url on the second) and rolls back: 0 failed requests, the include written in place', async () => {
    const includeStat = async () => {
      const { stdout } = await execFile('stat', ['-c', '%i %U %a', target.includePath])
      return stdout.trim()
    }
    const before = await includeStat()
    const first = await run(target, await workspaceWithJar('1'), inputs)
    expect(first.code, why(first)).toBe(0)
    expect(await served(target)).toMatch(/^200 version=1 /)
    const traffic = startTraffic({ url: target.url, concurrency: 3 })
    try {
      const second = await run(target, await workspaceWithJar('2'), { ...inputs, 'verify-url': `${target.url}/` })
      expect(second.code, why(second)).toBe(0)
      expect(await served(target)).toMatch(/^200 version=2 /)
      const back = await run(target, await workspaceWithJar('unused'), { ...inputs, command: 'rollback' })
      expect(back.code, why(back)).toBe(0)
      expect(await served(target)).toMatch(/^200 version=1 /)
    } finally {
      const stats = await traffic.stop()
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
      expect(stats.total).toBeGreaterThan(50)
    }
    // Same file (inode), owner and mode: written in place by sudo tee, nothing left beside it.
    expect(await includeStat()).toBe(before)
    expect((await execFile('ls', [path.dirname(target.includePath)])).stdout.trim()).toBe(path.basename(target.includePath))
  })

  it('without the tee rule: the error names the sudoers line to add, and nothing changed', async () => {
    const includeBefore = await readFile(target.includePath, 'utf8')
    const servedBefore = await served(target)
    await writeFile(user.sudoersPath, sudoers.split('\n').slice(1).join('\n'), { mode: 0o440 })
    try {
      const result = await run(target, await workspaceWithJar('3'), inputs)
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toContain(`"sudo -n tee ${target.includePath}" was refused`)
      expect(result.stdout).toContain(`"${name} ALL=(root) NOPASSWD: /usr/bin/tee ${target.includePath}"`)
      expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
      expect(await served(target)).toBe(servedBefore)
    } finally {
      await writeFile(user.sudoersPath, sudoers, { mode: 0o440 })
    }
  })
})
