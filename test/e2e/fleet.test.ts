// Fleets, end to end: a rolling deploy to three hosts while requests flow through every host's nginx,
// a failure on the second host (the first is switched back, the third never touched), and deploys
// through a bastion to hosts the runner cannot reach. Each host is a machine of its own on this one:
// its own network, mount and PID namespaces (scripts/lib/netns.mjs, startTarget's machineDir), so all
// three have the same addresses plan, ports (22, 80, 8081/8082) and paths, and every input is the
// same for all of them, as for real hosts.
//
// Topology (X and Y are free /24s of 10.213.0.0/16, picked at run time):
//   front 10.213.X.0/24   runner (root namespace) .1, bastion .10
//   back  10.213.Y.0/24   bastion .10, host1 .11, host2 .12, host3 .13, and the runner .1 until the
//                         bastion tests, which take the runner off this segment
// Each segment is a bridge inside a hub namespace of its own; the root namespace holds only the
// runner's veth ends and an `unreachable` route per segment, so nothing leaves this machine.
import { execFile as execFileCb } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createLab, execIn, namespaceSupport } from '../../scripts/lib/netns.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, type Inputs, get, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)

const support: { ok: boolean; reason?: string } = await namespaceSupport()
const canMakeNamespaces = support.ok
if (!canMakeNamespaces) console.warn(`test/e2e/fleet.test.ts skipped: ${support.reason}`)

const RELEASE = /^\d{8}-\d{6}-[0-9a-f]{8}$/
/** The PATH of every host's SSH sessions: the host's own bin dir first (see the host-2 test). */
function sessionPath(machineDir: string, javaDir: string): string {
  const base = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
  if (javaDir && !base.includes(javaDir) && /^[^\s"'\\]+$/.test(javaDir)) base.push(javaDir)
  return [path.join(machineDir, 'bin'), ...base].join(':')
}

/** 'connected', or the error code of a TCP connect from the runner (the root namespace). */
function tcpConnect(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (outcome: string) => {
      socket.destroy()
      resolve(outcome)
    }
    socket.setTimeout(timeoutMs, () => done('timeout'))
    socket.once('connect', () => done('connected'))
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message))
  })
}

describe.skipIf(!canMakeNamespaces)(
  `a fleet of three hosts, and a bastion${canMakeNamespaces ? '' : ` (skipped: ${support.reason})`}`,
  () => {
    let lab: any
    let front: any
    let back: any
    let machineDir = ''
    let keyDir = ''
    let clientKey = ''
    const hosts: any[] = []
    let bastion: any
    const loops: any[] = []
    /** The workspace of v3, whose deploy fails on host 2 and is run again through the bastion. */
    let v3 = ''
    let v2Result: ActionRun | undefined

    beforeAll(async () => {
      lab = await createLab()
      machineDir = path.join(os.tmpdir(), `zdd-fleet-${lab.id}`)
      front = await lab.segment('front')
      back = await lab.segment('back')
      await lab.attachRunner(front)
      await lab.attachRunner(back)
      const bastionNs = await lab.namespace('bastion')
      await lab.attach(bastionNs, front, 10)
      await lab.attach(bastionNs, back, 10)
      const hostNs: Array<{ ns: string; address: string }> = []
      for (const i of [1, 2, 3]) {
        const ns = await lab.namespace(`host${i}`)
        hostNs.push({ ns, address: await lab.attach(ns, back, 10 + i) })
      }

      // One deploy key for the whole fleet and the bastion, as private-key is one input.
      keyDir = await mkdtemp(path.join(os.tmpdir(), 'zdd-fleet-key-'))
      await execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-fleet', '-f', path.join(keyDir, 'id_ed25519')])
      clientKey = await readFile(path.join(keyDir, 'id_ed25519'), 'utf8')
      const authorizedKeys = await readFile(path.join(keyDir, 'id_ed25519.pub'), 'utf8')

      const { stdout: javaPath } = await execFile('sh', ['-c', 'command -v java || true'])
      const PATH = sessionPath(machineDir, javaPath.trim() ? path.dirname(javaPath.trim()) : '')
      const started = await Promise.allSettled([
        ...hostNs.map(({ ns, address }) =>
          startTarget({
            netns: ns,
            listenAddress: address,
            machineDir,
            sshPort: 22,
            nginxPort: 80,
            appPorts: [8081, 8082],
            authorizedKeys,
            sessionEnv: { PATH },
          }),
        ),
        startTarget({ netns: bastionNs, listenAddress: front.address(10), sshPort: 22, authorizedKeys }),
      ])
      for (const [i, s] of started.entries()) {
        if (s.status !== 'fulfilled') continue
        if (i < 3) hosts[i] = s.value
        else bastion = s.value
      }
      const failed = started.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined
      if (failed) throw failed.reason
    })

    afterAll(async () => {
      await Promise.allSettled(loops.splice(0).map((loop) => loop.stop()))
      await Promise.allSettled([...hosts, bastion].filter(Boolean).map((t) => t.stop()))
      await lab?.destroy()
      await Promise.all([machineDir, keyDir].filter(Boolean).map((dir) => rm(dir, { recursive: true, force: true })))
      await removeWorkspaces()
    })

    /** Inputs for the fleet: the same for every host, as they are for real. */
    function fleetInputs(extra: Inputs = {}): Inputs {
      const [first] = hosts
      for (const h of hosts) expect(h.nginxReloadCommand).toBe(first.nginxReloadCommand)
      return {
        host: hosts.map((h) => `${h.user}@${h.host}:${h.sshPort}`).join('\n'),
        'private-key': clientKey,
        'known-hosts': hosts.map((h) => h.knownHosts).join(''),
        artifact: 'build/libs/*.jar',
        'app-name': 'sample',
        'deploy-dir': first.remote.deployDir,
        'nginx-include': first.remote.includePath,
        'nginx-test-command': first.nginxTestCommand,
        'nginx-reload-command': first.nginxReloadCommand,
        'health-interval': '0.1',
        'health-timeout': '30',
        'stop-timeout': '5',
        'connect-timeout': '10',
        ...extra,
      }
    }
    const viaBastion = (extra: Inputs = {}): Inputs =>
      fleetInputs({ 'proxy-host': bastion.host, 'proxy-port': bastion.sshPort, 'proxy-username': bastion.user, ...extra })

    /** Runs the action; with ZDD_VERBOSE=1, prints each host's seconds by phase. */
    const act = async (options: { inputs: Inputs; workspace: string }): Promise<ActionRun> => {
      const result = await runAction(options)
      if (process.env.ZDD_VERBOSE === '1') {
        for (const r of JSON.parse(result.outputs.report ?? '[]'))
          console.log(`${r.host} ${r.command} ${r.outcome} ${r.durationSeconds} s ${JSON.stringify(r.phases)}`)
        console.log(`action: ${result.durationMs} ms`)
      }
      return result
    }
    const label = (h: any) => `${h.user}@${h.host}`
    const reportOf = (result: ActionRun) => JSON.parse(result.outputs.report ?? '[]')
    const column = (result: ActionRun, name: string) => (result.outputs[name] ?? '').split(',')
    /** The first line this host's nginx answers with, from the runner. */
    const served = async (h: any) => {
      const response = await get(`${h.url}/`)
      return `${response.status} ${String(response.body).split('\n')[0]}`
    }
    /** The same, asked from inside the host's own namespace (for when the runner cannot reach it). */
    const servedInside = async (h: any) => {
      const script =
        "fetch(process.argv[1]).then(async (r) => console.log(r.status + ' ' + (await r.text()).split('\\n')[0]), (e) => { console.log('error ' + e.message); process.exitCode = 1 })"
      const { stdout } = await execIn(h.netns, process.execPath, ['-e', script, `${h.url}/`])
      return stdout.trim()
    }
    const accepted = async (t: any) => ((await readFile(t.sshdLogPath, 'utf8')).match(/Accepted publickey/g) ?? []).length
    /** What a deploy would change on a host. */
    const snapshot = async (h: any) => {
      const runDir = path.join(h.deployDir, 'run')
      const run: Record<string, string> = {}
      for (const name of (await readdir(runDir).catch(() => [] as string[])).sort())
        run[name] = await readFile(path.join(runDir, name), 'utf8')
      return {
        include: await readFile(h.includePath, 'utf8'),
        releases: (await readdir(path.join(h.deployDir, 'releases')).catch(() => [] as string[])).sort(),
        run,
        top: (await readdir(h.deployDir).catch(() => [] as string[])).sort(),
        logins: await accepted(h),
      }
    }
    /**
     * Watches every host's deploy dir and include (every 10 ms) while a run goes on: when each host's
     * lock was first seen, when it was last seen, and when its include first changed.
     */
    const watchFleet = () => {
      const seen = hosts.map(() => ({}) as { locked?: number; unlocked?: number; switched?: number })
      let stopped = false
      const poll = (async () => {
        const includes = await Promise.all(hosts.map((h) => readFile(h.includePath, 'utf8')))
        while (!stopped) {
          for (const [i, h] of hosts.entries()) {
            const now = performance.now()
            const locked = await stat(path.join(h.deployDir, '.lock')).then(
              () => true,
              () => false,
            )
            if (locked) seen[i].locked ??= now
            else if (seen[i].locked !== undefined) seen[i].unlocked ??= now
            if (seen[i].switched === undefined && (await readFile(h.includePath, 'utf8')) !== includes[i]) seen[i].switched = now
          }
          await sleep(10)
        }
      })()
      return {
        async stop() {
          stopped = true
          await poll
          return seen
        },
      }
    }
    const startLoops = () => {
      loops.push(...hosts.map((h) => startTraffic({ url: h.url, concurrency: 2 })))
    }
    const stopLoops = () => Promise.all(loops.splice(0).map((loop) => loop.stop()))

    it('rolls v1 out to the three hosts, one after the other', async () => {
      const watch = watchFleet()
      let result: ActionRun
      let seen: Awaited<ReturnType<typeof watch.stop>>
      try {
        result = await act({ inputs: fleetInputs(), workspace: await workspaceWithJar('1') })
      } finally {
        seen = await watch.stop()
      }
      expect(result.code, why(result)).toBe(0)
      // max-parallel 1: a host's lock is taken only once the host before it is switched and released.
      for (const i of [1, 2]) {
        expect(seen[i].locked, `${label(hosts[i])} locked`).toBeDefined()
        expect(seen[i - 1].switched, `${label(hosts[i - 1])} switched`).toBeDefined()
        expect(seen[i].locked!).toBeGreaterThan(seen[i - 1].switched!)
        expect(seen[i].locked!).toBeGreaterThan(seen[i - 1].unlocked!)
      }
      // Each include starts on 8081, where nothing runs: 8082 is idle everywhere.
      expect(result.outputs['active-port']).toBe('8082,8082,8082')
      expect(result.outputs['previous-port']).toBe('8081,8081,8081')
      expect(result.outputs['rolled-back']).toBe('false,false,false')
      const report = reportOf(result)
      expect(report.map((r: any) => [r.host, r.outcome])).toEqual(hosts.map((h) => [label(h), 'deployed']))
      for (const h of hosts) expect(await served(h)).toBe('200 version=1 port=8082')
    })

    it('rolls v2 out with traffic through every host, and not one request fails', async () => {
      startLoops()
      let result: ActionRun
      let stats: any[]
      try {
        result = await act({ inputs: fleetInputs(), workspace: await workspaceWithJar('2') })
      } finally {
        stats = await stopLoops()
      }
      expect(result.code, why(result)).toBe(0)
      const report = reportOf(result)
      expect(report).toHaveLength(3)
      expect(report.map((r: any) => [r.host, r.outcome])).toEqual(hosts.map((h) => [label(h), 'deployed']))
      // Every plain output: one value per host, comma-joined in host order.
      expect(result.outputs['active-port']).toBe('8081,8081,8081')
      expect(result.outputs['previous-port']).toBe('8082,8082,8082')
      expect(result.outputs['rolled-back']).toBe('false,false,false')
      const releases = column(result, 'release')
      expect(releases).toHaveLength(3)
      for (const [i, h] of hosts.entries()) {
        expect(releases[i]).toMatch(RELEASE)
        expect(releases[i]).toBe(report[i].release)
        expect(await readFile(path.join(h.deployDir, 'run', '8081.release'), 'utf8')).toBe(`${releases[i]}\n`)
      }
      expect(column(result, 'uploaded-bytes').map(Number)).toEqual(report.map((r: any) => r.uploadedBytes))
      // A new version crosses the wire (as a delta of the kept release: a few hundred bytes here).
      for (const bytes of column(result, 'uploaded-bytes')) expect(Number(bytes)).toBeGreaterThan(0)
      expect(column(result, 'duration-seconds').map(Number)).toEqual(report.map((r: any) => r.durationSeconds))
      for (const [i, h] of hosts.entries()) {
        expect(await served(h)).toBe('200 version=2 port=8081')
        expect(stats[i].failed, `${label(h)}: ${JSON.stringify(stats[i].failures)}`).toBe(0)
        expect(stats[i].total).toBeGreaterThan(20)
        // Each host's traffic saw the switch: v1 before, v2 after.
        expect(Object.keys(stats[i].bodies).sort()).toEqual(['version=1 port=8082', 'version=2 port=8081'])
      }
      v2Result = result
    })

    it('artifact-sha256 has one value per host too, like every other output', () => {
      // SPEC "Outputs": with several hosts, each plain output joins the hosts' values with commas,
      // in host order, so that value i of any output belongs to host i.
      expect(v2Result, 'needs the v2 rollout above').toBeDefined()
      const report = reportOf(v2Result!)
      const sha = report[0].sha256
      expect(sha).toMatch(/^[0-9a-f]{64}$/)
      expect(report.map((r: any) => r.sha256)).toEqual([sha, sha, sha])
      expect(v2Result!.outputs['artifact-sha256']).toBe([sha, sha, sha].join(','))
    })

    it('a failure on the second host switches the first back and leaves the third untouched', async () => {
      // Inputs are the same for every host, so the failure comes from host 2 itself: its Java is
      // broken. Every host's SSH sessions have <machine>/bin first on PATH (sshd SetEnv PATH, as a host's
      // own profile would); only on host 2 does that dir hold a `java`, one that exits at once, as a
      // botched JDK upgrade would. The action's own checks see a `java` there, start the release, and
      // see it die before its health check.
      const brokenJava = path.join(hosts[1].dir, 'bin', 'java')
      await mkdir(path.dirname(brokenJava), { recursive: true })
      await writeFile(brokenJava, '#!/bin/sh\necho "Error: the JDK on this host is broken (fleet test)" >&2\nexit 1\n', { mode: 0o755 })
      const before = await Promise.all(hosts.map(snapshot))
      startLoops()
      let result: ActionRun
      let stats: any[]
      try {
        v3 = await workspaceWithJar('3')
        result = await act({ inputs: fleetInputs(), workspace: v3 })
      } finally {
        stats = await stopLoops()
        await rm(brokenJava, { force: true })
      }
      expect(result.code, why(result)).not.toBe(0)
      // The step's error names host 2 and the step that failed there.
      const errorLine = result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
      expect(errorLine, why(result)).toContain(`::error::${label(hosts[1])}: start: release `)
      expect(errorLine).toContain('exited on port 8082 before it answered its health check')

      const report = reportOf(result)
      expect(report.map((r: any) => [r.host, r.outcome])).toEqual([
        [label(hosts[0]), 'reverted'],
        [label(hosts[1]), 'failed'],
        [label(hosts[2]), 'skipped'],
      ])
      expect(report[0]).toMatchObject({ rolledBack: true, activePort: 8081 })
      expect(report[1].error).toMatch(/^start: /)
      expect(result.outputs['rolled-back']).toBe('true,false,false')
      expect(column(result, 'active-port').slice(0, 2)).toEqual(['8081', '8081'])

      // Host 1 is back on v2; host 2 never left it; host 3 was not even logged into.
      for (const h of hosts) expect(await served(h)).toBe('200 version=2 port=8081')
      const after = await Promise.all(hosts.map(snapshot))
      expect(after[2]).toEqual(before[2])
      expect(after[1].include).toBe(before[1].include)
      expect(after[0].include).toBe(before[0].include)
      expect(await readFile(path.join(hosts[1].deployDir, 'logs', '8082.log'), 'utf8')).toContain('the JDK on this host is broken')
      for (const [i, h] of hosts.entries()) {
        expect(stats[i].failed, `${label(h)}: ${JSON.stringify(stats[i].failures)}`).toBe(0)
        expect(stats[i].total).toBeGreaterThan(20)
      }
      // Host 1 served v3 for a moment, then v2 again; the others only ever served v2.
      expect(Object.keys(stats[0].bodies).sort()).toEqual(['version=2 port=8081', 'version=3 port=8082'])
      expect(Object.keys(stats[1].bodies)).toEqual(['version=2 port=8081'])
      expect(Object.keys(stats[2].bodies)).toEqual(['version=2 port=8081'])
    })

    it('status reports each host of the fleet, changing nothing', async () => {
      const before = await Promise.all(hosts.map(snapshot))
      const result = await act({ inputs: fleetInputs({ command: 'status' }), workspace: await workspaceWithJar('unused') })
      expect(result.code, why(result)).toBe(0)
      const report = reportOf(result)
      expect(report).toHaveLength(3)
      expect(report.map((r: any) => [r.host, r.outcome, r.activePort])).toEqual(hosts.map((h) => [label(h), 'status', 8081]))
      for (const r of report)
        expect(r.instances).toContainEqual(expect.objectContaining({ port: 8081, running: true, healthy: true, active: true }))
      expect(result.outputs['active-port']).toBe('8081,8081,8081')
      const after = await Promise.all(hosts.map(snapshot))
      expect(after.map((s) => ({ ...s, logins: 0 }))).toEqual(before.map((s) => ({ ...s, logins: 0 })))
    })

    describe('behind a bastion', () => {
      beforeAll(async () => {
        // From here on the runner is on the front segment only, where the bastion is its one peer.
        await lab.detachRunner(back)
      })

      it('the runner reaches the bastion, and none of the hosts', async () => {
        expect(await tcpConnect(bastion.host, bastion.sshPort)).toBe('connected')
        for (const h of hosts) expect(['EHOSTUNREACH', 'ENETUNREACH']).toContain(await tcpConnect(h.host, h.sshPort))
      })

      it('deploys to all three hosts through the bastion, pinned by proxy-host-fingerprint', async () => {
        const logins = await Promise.all(hosts.map(accepted))
        // The same v3 jar again, now that host 2's Java is fixed: hosts 1 and 2 still hold its release.
        const result = await act({ inputs: viaBastion({ 'proxy-host-fingerprint': bastion.hostFingerprints[0] }), workspace: v3 })
        expect(result.code, why(result)).toBe(0)
        const report = reportOf(result)
        expect(report.map((r: any) => [r.host, r.outcome])).toEqual(hosts.map((h) => [label(h), 'deployed']))
        expect(result.outputs['active-port']).toBe('8082,8082,8082')
        expect(result.outputs['previous-port']).toBe('8081,8081,8081')
        expect(result.outputs['rolled-back']).toBe('false,false,false')
        for (const [i, release] of column(result, 'release').entries()) expect(release, label(hosts[i])).toMatch(RELEASE)
        const uploaded = column(result, 'uploaded-bytes').map(Number)
        expect(uploaded.slice(0, 2)).toEqual([0, 0])
        expect(uploaded[2]).toBeGreaterThan(0)
        for (const [i, h] of hosts.entries()) {
          expect(await servedInside(h)).toBe('200 version=3 port=8082')
          // One login per host, and it came from the bastion's address on the hosts' segment.
          expect(await accepted(h)).toBe(logins[i] + 1)
          const lines = (await readFile(h.sshdLogPath, 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey'))
          expect(lines.at(-1)).toContain(`from ${back.address(10)} `)
        }
      })

      it('refuses a bastion whose host key does not match its pin, before authenticating', async () => {
        const before = await Promise.all(hosts.map(snapshot))
        const bastionLog = (await readFile(bastion.sshdLogPath, 'utf8')).length
        // Well-formed (SHA256: and 43 base64 characters), but the fingerprint of some other key.
        const wrongPin = `SHA256:${createHash('sha256').update('not the bastion').digest('base64').replace(/=+$/, '')}`
        expect(wrongPin).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
        expect(bastion.hostFingerprints).not.toContain(wrongPin)
        const result = await act({ inputs: viaBastion({ 'proxy-host-fingerprint': wrongPin }), workspace: await workspaceWithJar('4') })
        expect(result.code, why(result)).not.toBe(0)
        const errorLine = result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
        expect(errorLine, why(result)).toContain(`${bastion.user}@${bastion.host}: host key mismatch`)
        expect(errorLine).toContain('No credential was sent')
        const report = reportOf(result)
        expect(report.map((r: any) => r.outcome)).toEqual(['failed', 'skipped', 'skipped'])
        // Nothing happened on any host, and the bastion never saw an authentication attempt.
        expect(await Promise.all(hosts.map(snapshot))).toEqual(before)
        const bastionLogText = await readFile(bastion.sshdLogPath, 'utf8')
        // (Its log does show logins: the deploy above made one.)
        expect(bastionLogText.slice(0, bastionLog)).toContain('Accepted publickey')
        expect(bastionLogText.slice(bastionLog)).not.toMatch(/publickey|Accepted|Failed|Postponed/)
        for (const h of hosts) expect(await servedInside(h)).toBe('200 version=3 port=8082')
      })
    })
  },
)
