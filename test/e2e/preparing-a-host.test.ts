// The README's "Preparing a host", as a newcomer follows it: its Debian commands, taken from the
// README itself (the code blocks after a `<!-- host-setup: ... -->` comment), run as written on a
// Debian host whose PID 1 is systemd, as it comes from the distribution (its default nginx site,
// sshd with PAM). Then the action's dry run passes, a deploy and a redeploy serve through nginx
// with 0 failed requests, and the README's commands for looking at the units show what happened.
// Once for a new deploy user prepared by an admin with sudo, once for root. The host's /etc,
// /home and lingering are private copies (scripts/lib/systemd-host.mjs), gone with destroy().
// Its packages are the machine's: the suite's own tools (scripts/lib/system-tools.mjs) include
// the README's, so apt-get install finds them there, and apt-get update, with no network in the
// host's namespace, only warns.
import { execFile as execFileCb } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createSystemdHost, systemdHostSupport } from '../../scripts/lib/systemd-host.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, type Inputs, get, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)
const support: { ok: boolean; reason?: string } =
  process.getuid?.() === 0 ? await systemdHostSupport() : { ok: false, reason: 'needs root' }
const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')

interface SetupBlock {
  tags: string[]
  text: string
}

/** The README's code blocks marked `<!-- host-setup: tag ... -->`, in the order a reader meets them. */
function setupBlocks(): SetupBlock[] {
  const blocks: SetupBlock[] = []
  for (const m of readme.matchAll(/<!-- host-setup: ([^>]*?) -->\n```[a-z]*\n([\s\S]*?)```\n/g)) {
    blocks.push({ tags: m[1].trim().split(/\s+/), text: m[2] })
  }
  return blocks
}

/** The Debian blocks for one way of logging in (`deploy-user` or `root`): the shared ones and its own. */
function debianBlocks(login: 'deploy-user' | 'root'): string[] {
  return setupBlocks()
    .filter((b) => b.tags[0] === 'debian' && (b.tags.length === 1 || b.tags.includes(login)))
    .map((b) => b.text)
}

/** The README's placeholder for the public key, which a reader replaces by their deploy_key.pub. */
const KEY_PLACEHOLDER = /'ssh-ed25519 AAAA[^']*\.\.\. github-actions-deploy'/g

/** The first README line that starts with `prefix` (a command the README shows among others). */
function readmeLine(prefix: string): string {
  const line = readme.split('\n').find((l) => l.startsWith(prefix))
  if (!line) throw new Error(`the README has no line starting with "${prefix}"`)
  return line.replace(/\s+#.*$/, '')
}

/** What nginx answers on the host's port 80 right now: status and first line. */
async function served(host: any): Promise<string> {
  try {
    const response = await get(`http://${host.address}/`, { timeoutMs: 2000 })
    return `${response.status} ${String(response.body).split('\n')[0]}`
  } catch (error) {
    return String(error)
  }
}

/** Waits until nginx answers `expected` (a reload takes effect a moment after its command returns). */
async function servingAgain(host: any, expected: string | RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    last = await served(host)
    if (typeof expected === 'string' ? last === expected : expected.test(last)) return
    await sleep(50)
  }
  throw new Error(`nginx did not serve "${expected}" within ${timeoutMs} ms; last answer: ${last}`)
}

/** Runs a block of the README on the host with bash (-e, pipefail): as root, or as `user` in a login shell. */
async function runBlock(host: any, text: string, user?: string): Promise<string> {
  const script = `/root/host-setup-${Date.now()}.sh`
  await writeFile(host.file(script), text, { mode: 0o644 })
  // A user's login shell cannot read root's home: the block goes to /tmp of the host, via root.
  const command = user
    ? [
        'sh',
        '-c',
        `cp ${script} /tmp/host-setup.sh && chmod 644 /tmp/host-setup.sh && runuser -l ${user} -c 'bash -e -o pipefail /tmp/host-setup.sh'`,
      ]
    : ['bash', '-e', '-o', 'pipefail', script]
  try {
    const { stdout, stderr } = await host.exec(command, { timeoutMs: 180_000 })
    return stdout + stderr
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string }
    throw new Error(
      `this README block failed on the host${user ? ` (as ${user})` : ' (as root)'}:\n${text}\n--- output\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      {
        cause: err,
      },
    )
  }
}

/** A deploy key as step 1 makes it, on "your own machine": a temp dir of the runner. */
async function makeDeployKey(): Promise<{ dir: string; privateKey: string; publicKey: string }> {
  const [workstation] = setupBlocks().filter((b) => b.tags[0] === 'workstation')
  expect(workstation, 'the README has a workstation block').toBeDefined()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zdd-workstation-'))
  await execFile('bash', ['-e', '-o', 'pipefail', '-c', workstation.text], { cwd: dir })
  return {
    dir,
    privateKey: await readFile(path.join(dir, 'deploy_key'), 'utf8'),
    publicKey: (await readFile(path.join(dir, 'deploy_key.pub'), 'utf8')).trim(),
  }
}

/** Runs `text` on the host over SSH as `user` with the deploy key, as a reader in a terminal would. */
async function overSsh(host: any, key: { dir: string }, user: string, text: string): Promise<string> {
  const knownHosts = path.join(key.dir, 'known_hosts')
  await writeFile(knownHosts, host.knownHosts)
  const ssh = [
    ...['-i', path.join(key.dir, 'deploy_key'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes'],
    ...['-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ConnectTimeout=10', `${user}@${host.address}`],
    'bash -e -o pipefail -s',
  ]
  return new Promise((resolve, reject) => {
    const child = execFileCb('ssh', ssh, { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`ssh ${user}@ failed:\n${text}\n--- output\n${stdout}${stderr}`, { cause: err })) : resolve(stdout + stderr),
    )
    child.stdin?.end(text)
  })
}

/** The fingerprint that step 7's ssh-keygen printed. */
function fingerprintIn(output: string): string {
  const m = /^\d+ (SHA256:[A-Za-z0-9+/]+) .*\(ED25519\)$/m.exec(output)
  if (!m) throw new Error(`no ED25519 fingerprint in the output of the README's commands:\n${output}`)
  return m[1]
}

describe.skipIf(!support.ok)(
  `the README's "Preparing a host" on a Debian host whose PID 1 is systemd${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  () => {
    afterAll(removeWorkspaces)

    it('the README marks its Debian and Amazon Linux commands, and the deploy user session block', () => {
      const tags = setupBlocks().map((b) => b.tags.join(' '))
      expect(tags).toContain('workstation')
      expect(tags).toContain('debian deploy-user')
      expect(tags).toContain('debian root')
      expect(tags).toContain('amazon-linux')
      expect(tags).toContain('deploy-user-session')
      expect(debianBlocks('deploy-user').join('\n')).toMatch(KEY_PLACEHOLDER)
    })

    describe('for a new deploy user, prepared by an admin with sudo', () => {
      let host: any
      let key: Awaited<ReturnType<typeof makeDeployKey>>
      let traffic: any
      let fingerprint = ''
      const admin = 'zddadmin'
      const deploy = async (version: string, extra: Inputs = {}): Promise<ActionRun> =>
        runAction({
          workspace: await workspaceWithJar(version),
          inputs: {
            host: host.address,
            username: 'deploy',
            'private-key': key.privateKey,
            'host-fingerprint': fingerprint,
            artifact: 'build/libs/*.jar',
            'app-name': 'shop',
            'health-interval': '0.1',
            'health-timeout': '60',
            'stop-timeout': '10',
            ...extra,
          },
        })

      beforeAll(async () => {
        host = await createSystemdHost({})
        key = await makeDeployKey()
        // The admin of a cloud image: a user with full passwordless sudo, who runs the steps.
        await host.exec(['useradd', '--create-home', '--shell', '/bin/bash', admin])
        await writeFile(host.file(`/etc/sudoers.d/${admin}`), `${admin} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 })
      })
      afterAll(async () => {
        await traffic?.stop()
        await host?.destroy()
        if (key) await rm(key.dir, { recursive: true, force: true })
      })

      it('every Debian block runs as written; the sudoers rules allow the nginx commands and nothing else', async () => {
        const outputs: string[] = []
        for (const block of debianBlocks('deploy-user'))
          outputs.push(await runBlock(host, block.replace(KEY_PLACEHOLDER, `'${key.publicKey}'`), admin))
        const all = outputs.join('\n')
        fingerprint = fingerprintIn(all)
        expect(host.hostFingerprints).toContain(fingerprint)
        expect(all).toContain('Linger=yes')
        // sudo -l -U deploy: exactly these commands, with exactly their arguments.
        const listed = all.split(/^User deploy may run the following commands on .*:\n/m)[1] ?? ''
        // sudo wraps a long rule at 80 columns: an indented line that opens no "(" continues the one before.
        const rules: string[] = []
        for (const line of listed.split('\n')) {
          if (/^\s+\(/.test(line)) rules.push(line.trim())
          else if (/^\s+\S/.test(line) && rules.length > 0) rules[rules.length - 1] += ` ${line.trim()}`
          else if (rules.length > 0) break
        }
        expect(rules).toEqual([
          '(root) NOPASSWD: /usr/bin/tee /etc/nginx/conf.d/service-url.inc',
          '(root) NOPASSWD: /usr/bin/tee /etc/nginx/conf.d/zdd-shop.conf',
          '(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -T, /usr/sbin/nginx -s reload',
        ])
        // The table's way to see the programs' paths that the rules name.
        const paths = /`(sudo sh -c '[^`]*')`/.exec(readme)?.[1] ?? 'missing in the README'
        expect((await runBlock(host, `${paths}\n`, admin)).trim().split('\n')).toEqual(['/usr/bin/tee', '/usr/sbin/nginx'])
        const sudoers = await host.exec(['stat', '-c', '%a %U', '/etc/sudoers.d/zero-downtime-deploy'])
        expect(sudoers.stdout.trim()).toBe('440 root')
        const refused = await overSsh(
          host,
          key,
          'deploy',
          'sudo -n true 2>&1 || echo refused; sudo -n tee /etc/nginx/conf.d/other.inc < /dev/null 2>&1 || echo refused\n',
        )
        expect(refused.match(/refused/g)).toHaveLength(2)
        // The distribution's default site is gone, the README's server block serves: 502 until the first deploy.
        await servingAgain(host, /^502 /, 10_000)
      })

      it('the dry run passes with no warning and changes nothing', async () => {
        const result = await deploy('1', { 'dry-run': 'true' })
        expect(result.code, why(result)).toBe(0)
        expect(result.stdout).not.toContain('::warning::')
        expect(result.stdout).not.toContain('::error::')
        expect(await served(host)).toMatch(/^502 /)
      })

      it('a deploy, then a redeploy under traffic through nginx with 0 failed requests, as user units', async () => {
        const first = await deploy('1')
        expect(first.code, why(first)).toBe(0)
        expect(first.stdout).not.toContain('::warning::')
        expect(await served(host)).toBe('200 version=1 port=8082')

        traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
        const second = await deploy('2')
        expect(second.code, why(second)).toBe(0)
        expect(second.stdout).toContain('systemd unit zdd-shop@8081.service, enabled')
        expect(await served(host)).toBe('200 version=2 port=8081')
        const stats = await traffic.stop()
        traffic = undefined
        console.log(`measured: redeploy as the deploy user, ${stats.failed} of ${stats.total} requests through nginx failed`)
        expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
        expect(stats.bodies['version=2 port=8081']).toBeGreaterThan(0)
        await expect(stat(host.file('/home/deploy/.config/systemd/user/zdd-shop@.service'))).resolves.toBeTruthy()
      })

      it("after a crash, the README's commands as the deploy user show the restart: over SSH and where no XDG_RUNTIME_DIR is set", async () => {
        await host.exec(['pkill', '-KILL', '-f', '--', 'server.port=8081'])
        await sleep(500)
        await servingAgain(host, '200 version=2 port=8081')
        const [session] = setupBlocks().filter((b) => b.tags[0] === 'deploy-user-session')
        const viaSsh = await overSsh(host, key, 'deploy', session.text)
        expect(viaSsh).toContain('NRestarts=1')
        expect(viaSsh).toMatch(/zdd-shop@8081\.service[\s\S]*Active: active \(running\)/)
        // runuser: a session that set no XDG_RUNTIME_DIR, as sshd without PAM, su or sudo -u leave it.
        const { stdout } = await host.exec([
          'runuser',
          '-u',
          'deploy',
          '--',
          'env',
          '-u',
          'XDG_RUNTIME_DIR',
          'bash',
          '-e',
          '-o',
          'pipefail',
          '-c',
          session.text,
        ])
        expect(stdout).toContain('NRestarts=1')
        // What the README says of the command without --user: the system manager knows no such unit.
        const system = await overSsh(host, key, 'deploy', `${readmeLine('systemctl show -p NRestarts')}\n`)
        expect(system.trim()).toBe('NRestarts=0')
      })

      it("a 20% canary, then a bake, as the deploy user with the README's rules: the stock nginx reads the http-level file, 0 failed requests", async () => {
        traffic = startTraffic({ url: `http://${host.address}`, clientKeys: 40, pauseMs: 100 })
        const run = await deploy('3', {
          'canary-steps': '20',
          'canary-interval': '3',
          'canary-key': '$http_x_client',
          'bake-seconds': '3',
          'analysis-min-requests': '5',
        })
        expect(run.code, why(run)).toBe(0)
        expect(run.outputs.canary).toBe('promoted')
        expect(run.stdout).toMatch(/Canary 20% passed/)
        expect(run.stdout).toMatch(/Bake passed/)
        expect(await served(host)).toBe('200 version=3 port=8082')
        const stats = await traffic.stop()
        traffic = undefined
        console.log(`measured: canary and bake as the deploy user, ${stats.failed} of ${stats.total} requests through nginx failed`)
        expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
        expect(stats.bodies['version=3 port=8082']).toBeGreaterThan(0)
        // The action wrote its http-level file through sudo tee; root owns it, as the rule implies.
        const owner = await host.exec(['stat', '-c', '%U', '/etc/nginx/conf.d/zdd-shop.conf'])
        expect(owner.stdout.trim()).toBe('root')
      })
    })

    describe('for root', () => {
      let host: any
      let key: Awaited<ReturnType<typeof makeDeployKey>>
      let traffic: any
      let fingerprint = ''
      const deploy = async (version: string, extra: Inputs = {}): Promise<ActionRun> =>
        runAction({
          workspace: await workspaceWithJar(version),
          inputs: {
            host: host.address,
            username: 'root',
            'private-key': key.privateKey,
            'host-fingerprint': fingerprint,
            artifact: 'build/libs/*.jar',
            'app-name': 'shop',
            'health-interval': '0.1',
            'health-timeout': '60',
            'stop-timeout': '10',
            ...extra,
          },
        })

      beforeAll(async () => {
        host = await createSystemdHost({})
        key = await makeDeployKey()
      })
      afterAll(async () => {
        await traffic?.stop()
        await host?.destroy()
        if (key) await rm(key.dir, { recursive: true, force: true })
      })

      it('every Debian block for root runs as written, as root', async () => {
        const outputs: string[] = []
        for (const block of debianBlocks('root')) outputs.push(await runBlock(host, block.replace(KEY_PLACEHOLDER, `'${key.publicKey}'`)))
        fingerprint = fingerprintIn(outputs.join('\n'))
        expect(host.hostFingerprints).toContain(fingerprint)
        // The distribution's default site is gone, the README's server block serves: 502 until the first deploy.
        await servingAgain(host, /^502 /, 10_000)
      })

      it('the dry run passes; a deploy and a redeploy under traffic with 0 failed requests, as system units', async () => {
        const dry = await deploy('1', { 'dry-run': 'true' })
        expect(dry.code, why(dry)).toBe(0)
        expect(dry.stdout).not.toContain('::warning::')
        expect(dry.stdout).not.toContain('::error::')

        const first = await deploy('1')
        expect(first.code, why(first)).toBe(0)
        expect(await served(host)).toBe('200 version=1 port=8082')
        traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
        const second = await deploy('2')
        expect(second.code, why(second)).toBe(0)
        const stats = await traffic.stop()
        traffic = undefined
        console.log(`measured: redeploy as root, ${stats.failed} of ${stats.total} requests through nginx failed`)
        expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
        expect(second.stdout).toContain('systemd unit zdd-shop@8081.service, enabled')
        await expect(stat(host.file('/etc/systemd/system/zdd-shop@.service'))).resolves.toBeTruthy()
      })

      it("after a crash, the README's command as root shows the restart", async () => {
        await host.exec(['pkill', '-KILL', '-f', '--', 'server.port=8081'])
        await sleep(500)
        await servingAgain(host, '200 version=2 port=8081')
        const output = await overSsh(host, key, 'root', `${readmeLine('systemctl show -p NRestarts')}\n`)
        expect(output.trim()).toBe('NRestarts=1')
      })
    })
  },
)
