// A host whose PID 1 is systemd, for the supervision tests: systemd boots as PID 1 of PID, mount
// and UTS namespaces of its own, inside a network namespace of a lab (netns.mjs) that the runner
// reaches over a veth pair. It starts the distribution's own ssh.service and nginx.service.
//
// It runs on this machine's filesystem, so what a host would change on its own disk is given a
// private copy, bound over the machine's path inside the host's mount namespace only: /etc (units,
// users, sudoers, nginx and sshd config), /root, /home, /var/lib/systemd (lingering) and /var/log.
// The copies live in one state dir that outlives a power cut, as a disk does, and is removed by
// destroy(). /tmp, /var/tmp and /run get a fresh tmpfs at every boot: systemd-tmpfiles empties
// /tmp at boot, and /run is where systemd and nginx keep their runtime state.
// Services the machine's image enables besides ssh and nginx (timers, databases, gettys) are left
// out of the copy, so a boot starts nothing that could touch the machine's own disks or clock.
// Caveat: systemd shares the machine's cgroup hierarchy (no cgroup namespace), so two such hosts
// must not run at once on one machine. Needs root, iproute2, util-linux and systemd.
import { execFile as execFileCb, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createLab, namespaceSupport } from './netns.mjs'
import { childOf, isAlive, signal } from './target-processes.mjs'

const execFile = promisify(execFileCb)

const SYSTEMD = '/lib/systemd/systemd'
/** The machine's paths that get a private copy, relative to / (the state dir mirrors their layout). */
const PRIVATE = ['etc', 'root', 'home', 'var/lib/systemd', 'var/log']
/** The only services of the machine's image that the host starts at boot. */
const KEPT_SERVICES = ['ssh.service', 'nginx.service']

/**
 * Whether this machine can boot such a host: root, systemd installed, network, mount and PID namespaces.
 * @returns {Promise<{ ok: boolean, reason?: string }>}
 */
export async function systemdHostSupport() {
  if (!existsSync(SYSTEMD)) return { ok: false, reason: `systemd is not installed (${SYSTEMD} is missing)` }
  return namespaceSupport()
}

/**
 * @typedef {object} SystemdHost
 * @property {string} address the host's address on the lab segment (sshd on 22, nginx on 80)
 * @property {string} stateDir the host's private files as the runner sees them: `${stateDir}/etc` is its /etc, ...
 * @property {string[]} hostFingerprints 'SHA256:...' of its sshd host keys
 * @property {string} knownHosts known_hosts lines for them
 * @property {string} privateKey a client key that root (and every user made by addUser) accepts
 * @property {() => number | undefined} pid1 its PID 1 as the runner sees it, while it runs
 * @property {() => number} bootStartedAt Date.now() just before its PID 1 was spawned, at the last boot
 * @property {() => Promise<void>} boot starts PID 1 and waits until systemd reports the boot finished
 * @property {() => Promise<void>} powerCut kill -9 of its PID 1: every process of the host dies at once
 * @property {(command: string[], options?: { timeoutMs?: number }) => Promise<{ stdout: string, stderr: string }>} exec
 *   runs a command inside the host (all its namespaces), as root
 * @property {(user: string) => Promise<{ uid: number, home: string }>} addUser a user who logs in with privateKey
 * @property {(relative: string) => string} file a path of the host as the runner sees it, e.g. file('/etc/nginx')
 * @property {() => Promise<void>} destroy power cut, then removes the lab and the state dir; idempotent
 */

/**
 * Makes the host's files and its lab, then boots it.
 * @param {{ nginxSite?: string, files?: Record<string, string>, sshdConfig?: string }} options
 *   nginxSite: the text of the host's only nginx site (port 80); without it the host keeps the
 *   distribution's sites, as a freshly installed host has them; files: more files of the host
 *   (absolute paths), written before it boots; sshdConfig: lines that take precedence over the
 *   distribution's sshd_config (e.g. "UsePAM no": sessions then get no XDG_RUNTIME_DIR)
 * @returns {Promise<SystemdHost>}
 */
export async function createSystemdHost({ nginxSite, files = {}, sshdConfig = '' }) {
  const lab = await createLab()
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'zdd-systemd-host-'))
  /** @type {number | undefined} */
  let pid1
  let bootStartedAt = 0
  /** @type {Promise<void> | undefined} */
  let destroying
  const file = (/** @type {string} */ relative) => path.join(stateDir, relative)

  const powerCut = async () => {
    if (pid1 === undefined) return
    const pid = pid1
    pid1 = undefined
    signal(pid, 'SIGKILL')
    // The kernel kills every process of the PID namespace with its init.
    for (let i = 0; i < 100 && (await isAlive(pid)); i++) await sleep(50)
  }

  const destroy = () => {
    destroying ??= (async () => {
      await powerCut()
      await lab.destroy()
      await rm(stateDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined)
    })()
    return destroying
  }

  /** @type {SystemdHost['exec']} */
  const exec = async (command, { timeoutMs = 30_000 } = {}) => {
    if (pid1 === undefined) throw new Error('the host is not running')
    return execFile('nsenter', ['--target', String(pid1), '--all', '--', ...command], { timeout: timeoutMs })
  }

  try {
    // --- its disk: private copies of what a host changes ------------------------------------
    for (const dir of PRIVATE) await mkdir(path.dirname(file(dir)), { recursive: true })
    await execFile('cp', ['-a', '/etc', file('etc')])
    await execFile('cp', ['-a', '/var/lib/systemd', file('var/lib/systemd')])
    await mkdir(file('var/log/nginx'), { recursive: true })
    await mkdir(file('root/.ssh'), { recursive: true, mode: 0o700 })
    await chmod(file('root'), 0o700)
    await mkdir(file('home'))
    await rm(file('var/lib/systemd/linger'), { recursive: true, force: true })

    // Units: of the image's enabled services only ssh and nginx; no timers, no gettys.
    const units = file('etc/systemd/system')
    for (const entry of await readdir(units)) {
      if (!entry.endsWith('.wants') && !entry.endsWith('.requires')) continue
      if (entry !== 'multi-user.target.wants') {
        await rm(path.join(units, entry), { recursive: true, force: true })
        continue
      }
      for (const unit of await readdir(path.join(units, entry))) {
        if (!KEPT_SERVICES.includes(unit)) await unlink(path.join(units, entry, unit))
      }
    }
    // Enabled as the distribution enables them, also where the packages were installed without systemd running.
    await mkdir(path.join(units, 'multi-user.target.wants'), { recursive: true })
    for (const service of KEPT_SERVICES) {
      const link = path.join(units, 'multi-user.target.wants', service)
      if (!existsSync(link)) await symlink(`/lib/systemd/system/${service}`, link)
    }
    for (const unit of ['getty.target', 'console-getty.service', 'systemd-timesyncd.service', 'timers.target']) {
      await rm(path.join(units, unit), { force: true })
      await symlink('/dev/null', path.join(units, unit))
    }

    // nginx: the one site the test gives, if it gives one; ssh: keys for root.
    if (nginxSite !== undefined) {
      const sites = file('etc/nginx/sites-enabled')
      for (const site of await readdir(sites)) await rm(path.join(sites, site), { force: true })
      await writeFile(path.join(sites, 'zdd-test'), nginxSite)
    }
    for (const [name, text] of Object.entries(files)) {
      if (!PRIVATE.some((dir) => name.startsWith(`/${dir}/`))) throw new Error(`${name}: not in a private dir of the host (${PRIVATE.join(', ')})`)
      await mkdir(path.dirname(file(name)), { recursive: true })
      await writeFile(file(name), text)
    }
    if (sshdConfig) await writeFile(file('etc/ssh/sshd_config.d/zdd-test.conf'), sshdConfig)
    const keyPath = path.join(stateDir, 'client_key')
    await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-systemd-host', '-f', keyPath])
    const publicKey = await readFile(`${keyPath}.pub`, 'utf8')
    await writeFile(file('root/.ssh/authorized_keys'), publicKey, { mode: 0o600 })
    const privateKey = await readFile(keyPath, 'utf8')

    const hostFingerprints = []
    const hostKeys = []
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      const pub = file(`etc/ssh/ssh_host_${type}_key.pub`)
      if (!existsSync(pub)) continue
      const { stdout } = await execFile('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub])
      hostFingerprints.push(stdout.trim().split(/\s+/)[1])
      hostKeys.push((await readFile(pub, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' '))
    }
    if (hostKeys.length === 0) throw new Error('the machine has no sshd host keys in /etc/ssh (ssh-keygen -A makes them)')

    // --- its network: a namespace on a lab segment the runner is attached to ----------------
    const segment = await lab.segment('sys')
    const namespace = await lab.namespace('host')
    const address = await lab.attach(namespace, segment, 2)
    await lab.attachRunner(segment)
    const knownHosts = hostKeys.map((key) => `${address} ${key}`).join('\n') + '\n'

    const bootScript = [
      'set -e',
      `for dir in ${PRIVATE.join(' ')}; do mount --bind "$1/$dir" "/$dir"; done`,
      'mount -t tmpfs tmpfs /tmp',
      'mount -t tmpfs tmpfs /var/tmp',
      'mount -t tmpfs tmpfs /run',
      `exec ${SYSTEMD} --system --unit=multi-user.target`,
    ].join('\n')

    /** @type {SystemdHost['boot']} */
    const boot = async () => {
      if (pid1 !== undefined) throw new Error('the host is already running')
      const log = openSync(path.join(stateDir, 'boot.log'), 'a')
      const unshare = ['unshare', '--pid', '--fork', '--mount', '--uts', '--mount-proc', '--propagation', 'private']
      bootStartedAt = Date.now()
      const child = spawn('ip', ['netns', 'exec', namespace, ...unshare, 'sh', '-c', bootScript, 'sh', stateDir], {
        detached: true,
        stdio: ['ignore', log, log],
      })
      child.unref()
      closeSync(log)
      const pid = child.pid === undefined ? undefined : await childOf(child.pid, 10_000)
      if (pid === undefined) throw new Error(`systemd did not start as PID 1 of the host:\n${await readFile(path.join(stateDir, 'boot.log'), 'utf8')}`)
      pid1 = pid
      const deadline = Date.now() + 90_000
      let state = ''
      while (Date.now() < deadline) {
        state = await exec(['systemctl', 'is-system-running'], { timeoutMs: 10_000 }).then(
          (r) => r.stdout.trim(),
          (/** @type {any} */ e) => String(e.stdout ?? '').trim(),
        )
        if (state === 'running' || state === 'degraded') return
        await sleep(100)
      }
      throw new Error(`the host's systemd did not finish booting within 90 s (state: ${state || 'unknown'})`)
    }

    /** @type {SystemdHost['addUser']} */
    const addUser = async (user) => {
      // A password of '*': no password logs in, but the account is not locked (sshd without PAM refuses locked ones).
      await exec(['useradd', '--create-home', '--shell', '/bin/sh', '--password', '*', user])
      await exec(['install', '-d', '-m', '700', '-o', user, '-g', user, `/home/${user}/.ssh`])
      await writeFile(file(`home/${user}/.ssh/authorized_keys`), publicKey, { mode: 0o600 })
      await exec(['chown', `${user}:${user}`, `/home/${user}/.ssh/authorized_keys`])
      const { stdout } = await exec(['id', '-u', user])
      return { uid: Number(stdout.trim()), home: `/home/${user}` }
    }

    await boot()
    return {
      address,
      stateDir,
      hostFingerprints,
      knownHosts,
      privateKey,
      pid1: () => pid1,
      bootStartedAt: () => bootStartedAt,
      boot,
      powerCut,
      exec,
      addUser,
      file,
      destroy,
    }
  } catch (err) {
    await destroy()
    throw err
  }
}
