// A small fleet for end-to-end tests: each host a machine of its own (network, mount and PID
// namespaces, as in fleet.test.ts) behind one segment the runner is attached to, with one client
// key for all and the same paths on every host, as real hosts of one service have.
import { execFile as execFileCb } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
// @ts-ignore -- plain JS helper
import { createLab } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
import type { Inputs } from './support.js'

const execFile = promisify(execFileCb)

export interface Machines {
  /** The targets, in host order (scripts/lib/target.mjs). */
  hosts: any[]
  /** The inputs every host shares, as they are for real hosts; `extra` adds or overrides. */
  fleetInputs(extra?: Inputs): Inputs
  stop(): Promise<void>
}

/** Starts `count` machines; `name` tells their temp dirs apart. On failure, what started is stopped. */
export async function startMachines(count: number, name: string): Promise<Machines> {
  const hosts: any[] = []
  const lab = await createLab()
  const machineDir = path.join(os.tmpdir(), `zdd-${name}-${lab.id}`)
  let keyDir = ''
  const stop = async () => {
    await Promise.allSettled(hosts.filter(Boolean).map((t) => t.stop()))
    await lab.destroy()
    await Promise.all([machineDir, keyDir].filter(Boolean).map((dir) => rm(dir, { recursive: true, force: true })))
  }
  try {
    const back = await lab.segment('back')
    await lab.attachRunner(back)
    const hostNs: Array<{ ns: string; address: string }> = []
    for (let i = 1; i <= count; i++) {
      const ns = await lab.namespace(`host${i}`)
      hostNs.push({ ns, address: await lab.attach(ns, back, 10 + i) })
    }
    keyDir = await mkdtemp(path.join(os.tmpdir(), `zdd-${name}-key-`))
    await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `zdd-${name}`, '-f', path.join(keyDir, 'id_ed25519')])
    const clientKey = await readFile(path.join(keyDir, 'id_ed25519'), 'utf8')
    const authorizedKeys = await readFile(path.join(keyDir, 'id_ed25519.pub'), 'utf8')
    const { stdout: javaPath } = await execFile('sh', ['-c', 'command -v java || true'])
    const bin = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    if (javaPath.trim() && !bin.includes(path.dirname(javaPath.trim()))) bin.push(path.dirname(javaPath.trim()))
    const started = await Promise.allSettled(
      hostNs.map(({ ns, address }) =>
        startTarget({
          netns: ns,
          listenAddress: address,
          machineDir,
          sshPort: 22,
          nginxPort: 80,
          appPorts: [8081, 8082],
          authorizedKeys,
          sessionEnv: { PATH: bin.join(':') },
        }),
      ),
    )
    for (const [i, s] of started.entries()) if (s.status === 'fulfilled') hosts[i] = s.value
    const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
    if (failed) throw failed.reason
    const fleetInputs = (extra: Inputs = {}): Inputs => {
      const [first] = hosts
      return {
        host: hosts.map((h) => `${h.user}@${h.host}:${h.sshPort}`).join('\n'),
        'private-key': clientKey,
        'known-hosts': hosts.map((h) => h.knownHosts).join(''),
        artifact: 'build/libs/*.jar',
        'app-name': 'sample',
        'deploy-dir': first.remote.deployDir,
        'nginx-include': first.remote.includePath,
        'nginx-http-include': first.remote.httpIncludePath,
        'nginx-test-command': first.nginxTestCommand,
        'nginx-reload-command': first.nginxReloadCommand,
        'health-interval': '0.1',
        'health-timeout': '30',
        'stop-timeout': '5',
        'drain-seconds': '1',
        ...extra,
      }
    }
    return { hosts, fleetInputs, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
