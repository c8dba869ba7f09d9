// dry-run as a new user tries it: every mistake in the setup named at once, each with its fix, and
// the run fails; nothing on the host changes (no deploy dir made, the include untouched, nginx not
// reloaded). As root, as a deploy user missing one sudo rule, and under supervisor: systemd on a
// host whose PID 1 is systemd, for a user without lingering.
import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createHostUser } from '../../scripts/lib/host-user.mjs'
// @ts-ignore -- plain JS helper
import { createSystemdHost, systemdHostSupport } from '../../scripts/lib/systemd-host.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
import { type ActionRun, type Inputs, removeWorkspaces, run, runAction, why, workspaceWithJar } from './support.js'

const isRoot = process.getuid?.() === 0

/** The pids of nginx's workers: a reload replaces them. */
async function nginxWorkers(target: any): Promise<string> {
  const master = (await readFile(path.join(target.dir, 'nginx.pid'), 'utf8')).trim()
  // A master just started may not have forked its workers yet: wait for them, as a reload's would be.
  for (let tries = 0; ; tries++) {
    const workers = (await readFile(`/proc/${master}/task/${master}/children`, 'utf8')).trim()
    if (workers !== '' || tries >= 100) return workers
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The text of the `::error::` line, decoded as the runner shows it. */
function errorOf(result: ActionRun): string {
  const line = result.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? ''
  return line.slice('::error::'.length).replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%')
}

describe('dry-run on a host set up wrong, as root', () => {
  let target: any
  let root: string
  let stranger: ChildProcess | undefined
  beforeAll(async () => {
    target = await startTarget()
    root = await mkdtemp(path.join(os.tmpdir(), 'zdd-dry-'))
  })
  afterAll(async () => {
    stranger?.kill('SIGKILL')
    await target?.stop()
    await rm(root, { recursive: true, force: true })
    await removeWorkspaces()
  })

  it('names all three mistakes in one run with their fixes, fails, and changes nothing', async () => {
    const file = path.join(root, 'a-file')
    await writeFile(file, 'not a directory')
    const deployDir = path.join(file, 'app')
    const missingConf = path.join(target.dir, 'nginx-typo.conf')
    const includeDir = path.join(target.dir, 'no-such-dir')
    const include = path.join(includeDir, 'service-url.inc')
    const includeBefore = await readFile(target.includePath, 'utf8')
    const workersBefore = await nginxWorkers(target)
    const result = await run(target, await workspaceWithJar('1'), {
      'dry-run': 'true',
      'deploy-dir': deployDir,
      'nginx-include': include,
      'nginx-test-command': `/usr/sbin/nginx -p ${target.dir} -c ${missingConf} -t`,
    })
    expect(result.code, why(result)).toBe(1)
    const error = errorOf(result)
    expect(error).toContain('dry-run: 3 problems found; a deploy would fail. Nothing was changed.')
    expect(error).toContain(
      `- deploy-dir: deploy-dir "${deployDir}" cannot be created: ${file} is a file, not a directory. Fix: Choose another deploy-dir`,
    )
    expect(error).toContain(
      `- include writable: the directory of nginx-include (${includeDir}) does not exist, so ${include} cannot be written. Fix: Set nginx-include to the file your nginx configuration includes, or create it: "sudo mkdir -p ${includeDir}"`,
    )
    expect(error).toContain(`- nginx test: nginx-test-command ("/usr/sbin/nginx -p ${target.dir} -c ${missingConf} -t") failed:`)
    expect(error).toContain(
      `Fix: ${missingConf} does not exist: set nginx-test-command and nginx-reload-command to the configuration nginx runs with`,
    )
    // The plan and the checklist are in the log, and the summary shows the checklist.
    expect(result.stdout).toContain('Dry run: nothing will change.')
    expect(result.stdout).toContain('failed\n  [x] host key: matches the pin')
    expect(result.stdout).toMatch(/Checks on .*: 3 of 12 failed/)
    expect(result.summary).toContain('- [ ] **deploy-dir**')
    expect(result.summary).toContain('- [x] **nginx reload**')
    // Nothing changed: no deploy dir, the include as it was, the same nginx workers (no reload).
    await expect(stat(deployDir)).rejects.toThrow()
    await expect(stat(includeDir)).rejects.toThrow()
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    expect(await nginxWorkers(target)).toBe(workersBefore)
    await expect(stat(target.deployDir)).rejects.toThrow()
  })

  it('a clean setup: exits 0, every check passed', async () => {
    const result = await run(target, await workspaceWithJar('1'), { 'dry-run': 'true' })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toMatch(/Checks on .*: all 12 passed/)
    expect(result.stdout).toContain(`  [x] deploy-dir: ${target.deployDir} does not exist yet; the deploy creates it in ${target.dir}`)
    expect(result.stdout).toContain(`  [x] port ${target.appPorts[1]}: free`)
    expect(result.summary).not.toContain('- [ ]')
    await expect(stat(target.deployDir)).rejects.toThrow()
  })

  it('a port of the pair held by another service: named, with the way out', async () => {
    const port = target.appPorts[1]
    stranger = spawn(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready'))`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    await new Promise((resolve) => stranger!.stdout!.once('data', resolve))
    const result = await run(target, await workspaceWithJar('1'), { 'dry-run': 'true' })
    expect(result.code, why(result)).toBe(1)
    expect(errorOf(result)).toContain(`- port ${port}: port ${port} is held by pid ${stranger.pid} (${process.execPath} -e require('net')`)
    expect(errorOf(result)).toContain(
      'which is not this service: a deploy would refuse to stop it. Fix: Stop it on the host, or choose other ports (input ports).',
    )
    stranger.kill('SIGKILL')
    stranger = undefined
  })
})

describe('dry-run on a fleet where one host lacks curl and wget', () => {
  let good: any
  let bare: any
  let bin: string
  beforeAll(async () => {
    // The second host's sessions get a PATH of /usr/bin's tools but the two HTTP clients.
    bin = await mkdtemp(path.join(os.tmpdir(), 'zdd-dry-bin-'))
    for (const tool of await readdir('/usr/bin'))
      if (tool !== 'curl' && tool !== 'wget') await symlink(path.join('/usr/bin', tool), path.join(bin, tool)).catch(() => undefined)
    good = await startTarget()
    bare = await startTarget({
      sessionEnv: { PATH: `${bin}:/usr/sbin` },
      authorizedKeys: await readFile(`${good.privateKeyPath}.pub`, 'utf8'),
    })
  })
  afterAll(async () => {
    await good?.stop()
    await bare?.stop()
    await rm(bin, { recursive: true, force: true })
    await removeWorkspaces()
  })

  it('a table host by host, check by check, in the log and the summary; the error names the host and its fix', async () => {
    const hosts = [good, bare].map((t) => `${t.user}@${t.host}:${t.sshPort}`)
    const result = await run(good, await workspaceWithJar('1'), {
      'dry-run': 'true',
      host: hosts.join(','),
      'known-hosts': good.knownHosts + bare.knownHosts,
    })
    expect(result.code, why(result)).toBe(1)
    const table = result.stdout.slice(result.stdout.indexOf('Checks, host by host:'))
    expect(table).toMatch(new RegExp(`\\ncheck +${hosts[0]} +${hosts[1]}\\n`))
    expect(table).toMatch(/\ncurl or wget +ok +FAIL\n/)
    expect(table).toMatch(/\nnginx test +ok +ok\n/)
    expect(errorOf(result)).toBe(
      `${hosts[1]}: dry-run: 1 problem found; a deploy would fail. Nothing was changed.\n- curl or wget: the host has neither curl nor wget, and the health check needs one. Fix: Install curl on the host (e.g. "apt-get install curl" or "dnf install curl").`,
    )
    expect(result.summary).toContain('<th>Check</th>')
    expect(result.summary).toContain('<tr><td>curl or wget</td><td>✅</td><td>❌</td></tr>')
    expect(result.summary).toContain(`- ${hosts[1]}, **curl or wget**: the host has neither curl nor wget`)
  })
})

describe.skipIf(!isRoot)('dry-run as a deploy user missing the reload rule', () => {
  let target: any
  let user: any
  let sudoers: string
  let reloadRule: string
  const name = `zdd-dry-${process.pid}`
  let inputs: Inputs

  beforeAll(async () => {
    target = await startTarget({ homeAuthorizedKeys: true })
    await chmod(target.dir, 0o755)
    const nginxArgs = `/usr/sbin/nginx -p ${target.dir} -c ${target.nginxConfPath}`
    reloadRule = `${name} ALL=(root) NOPASSWD: ${nginxArgs} -s reload`
    sudoers = [`${name} ALL=(root) NOPASSWD: /usr/bin/tee ${target.includePath}`, `${name} ALL=(root) NOPASSWD: ${nginxArgs} -t`, ''].join(
      '\n',
    )
    user = await createHostUser({ name, publicKey: await readFile(`${target.privateKeyPath}.pub`, 'utf8'), sudoers })
    inputs = {
      username: name,
      'dry-run': 'true',
      'deploy-dir': path.join(user.home, 'app'),
      // As a user copies them from the README: nginx by name, found by sudo.
      'nginx-test-command': `sudo -n nginx -p ${target.dir} -c ${target.nginxConfPath} -t`,
      'nginx-reload-command': `sudo -n nginx -p ${target.dir} -c ${target.nginxConfPath} -s reload`,
    }
  })
  afterAll(async () => {
    await target?.stop()
    await user?.remove()
    await removeWorkspaces()
  })

  it('names the reload command and the sudoers line to add; the include and the test pass through sudo', async () => {
    const includeBefore = await readFile(target.includePath, 'utf8')
    const workersBefore = await nginxWorkers(target)
    const result = await run(target, await workspaceWithJar('1'), inputs)
    expect(result.code, why(result)).toBe(1)
    const error = errorOf(result)
    expect(error).toContain('dry-run: 1 problem found; a deploy would fail. Nothing was changed.')
    expect(error).toContain(
      `- nginx reload: sudo does not allow user "${name}" to run "/usr/sbin/nginx -p ${target.dir} -c ${target.nginxConfPath} -s reload" (nginx-reload-command) without a password, so the switch could not reload nginx.`,
    )
    expect(error).toContain(
      `Fix: Add this line to /etc/sudoers.d/zero-downtime-deploy (with "sudo visudo -f /etc/sudoers.d/zero-downtime-deploy"): "${reloadRule}".`,
    )
    expect(result.stdout).toContain(`  [x] include writable: sudo allows "tee ${target.includePath}"`)
    expect(result.stdout).toContain(`  [x] nginx test: "sudo -n nginx -p ${target.dir} -c ${target.nginxConfPath} -t" passed`)
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    expect(await nginxWorkers(target)).toBe(workersBefore)
    await expect(stat(path.join(user.home, 'app'))).rejects.toThrow()
  })

  it('with the line added as told: every check passes', async () => {
    await writeFile(user.sudoersPath, `${sudoers}${reloadRule}\n`, { mode: 0o440 })
    const result = await run(target, await workspaceWithJar('1'), inputs)
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toMatch(/Checks on .*: all 12 passed/)
    expect(result.stdout).toContain(
      `  [x] nginx reload: sudo allows "/usr/sbin/nginx -p ${target.dir} -c ${target.nginxConfPath} -s reload"`,
    )
  })
})

const support: { ok: boolean; reason?: string } = isRoot ? await systemdHostSupport() : { ok: false, reason: 'needs root' }

describe.skipIf(!support.ok)(
  `dry-run under supervisor: systemd, on a host whose PID 1 is systemd${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  () => {
    let host: any
    const name = 'zdddry'
    const include = '/etc/nginx/conf.d/service-url.inc'
    beforeAll(async () => {
      host = await createSystemdHost({
        nginxSite: `server {\n  listen 80;\n  location / {\n    include ${include};\n    proxy_pass $service_url;\n  }\n}\n`,
        files: { [include]: 'set $service_url http://127.0.0.1:8081;\n' },
        sshdConfig: 'UsePAM no\n',
      })
      await host.addUser(name)
      await writeFile(
        host.file('/etc/sudoers.d/zero-downtime-deploy'),
        `${name} ALL=(root) NOPASSWD: /usr/bin/tee ${include}\n${name} ALL=(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -s reload\n`,
        { mode: 0o440 },
      )
    })
    afterAll(async () => {
      await host?.destroy()
      await removeWorkspaces()
    })

    it('a user without lingering: named, with loginctl enable-linger', async () => {
      const result = await runAction({
        workspace: await workspaceWithJar('1'),
        inputs: {
          host: host.address,
          username: name,
          'private-key': host.privateKey,
          'known-hosts': host.knownHosts,
          artifact: 'build/libs/*.jar',
          'app-name': 'sample',
          supervisor: 'systemd',
          'dry-run': 'true',
        },
      })
      expect(result.code, why(result)).toBe(1)
      const error = errorOf(result)
      expect(error).toContain('dry-run: 1 problem found; a deploy would fail. Nothing was changed.')
      expect(error).toContain(
        `- supervisor: supervisor is "systemd", but user "${name}" is not root and lingering is not enabled for it: its units would stop at logout and not start at boot. Fix: Run "sudo loginctl enable-linger ${name}" on the host, or set supervisor to auto or none.`,
      )
      await expect(stat(host.file(`/home/${name}/apps`))).rejects.toThrow()
    })
  },
)
