// Fleets, end to end: a deploy to three hosts in two phases (stage everywhere, then switch in waves)
// while requests flow through every host's nginx; a release unhealthy on one host (no host ever
// serves it), a switch that fails in the second wave (the first wave goes back), a lock held on one
// host (the whole fleet waits), and deploys through a bastion to hosts the runner cannot reach. Each host is a machine of its own on this one:
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
import { execFile as execFileCb, spawn } from 'node:child_process'
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
    let realJava = ''

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
      realJava = javaPath.trim()
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

    it('rolls v1 out in two phases: every host staged under its lock, then switched one after the other', async () => {
      const watch = watchFleet()
      let result: ActionRun
      let seen: Awaited<ReturnType<typeof watch.stop>>
      try {
        result = await act({ inputs: fleetInputs(), workspace: await workspaceWithJar('1') })
      } finally {
        seen = await watch.stop()
      }
      expect(result.code, why(result)).toBe(0)
      const firstSwitch = Math.min(...seen.map((s) => s.switched ?? Infinity))
      const lastSwitch = Math.max(...seen.map((s) => s.switched ?? -Infinity))
      for (const [i, h] of hosts.entries()) {
        // Every lock is taken before any host is switched, and held until the last host is.
        expect(seen[i].locked, `${label(h)} locked`).toBeLessThan(firstSwitch)
        expect(seen[i].unlocked, `${label(h)} unlocked`).toBeGreaterThan(lastSwitch)
      }
      // max-parallel 1: the switches come in host order, one wave at a time.
      for (const i of [1, 2]) expect(seen[i].switched!).toBeGreaterThan(seen[i - 1].switched!)
      // Each include starts on 8081, where nothing runs: 8082 is idle everywhere.
      expect(result.outputs['active-port']).toBe('8082,8082,8082')
      expect(result.outputs['previous-port']).toBe('8081,8081,8081')
      expect(result.outputs['rolled-back']).toBe('false,false,false')
      const report = reportOf(result)
      expect(report.map((r: any) => [r.host, r.outcome])).toEqual(hosts.map((h) => [label(h), 'deployed']))
      // Each row has the phases' seconds, the wait for the other hosts between stage and switch included.
      for (const r of report)
        for (const phase of ['connect', 'lock', 'upload', 'start', 'wait', 'switch']) expect(r.phases[phase]).toBeGreaterThanOrEqual(0)
      // Host 3 waited at least through the two waves before its own.
      expect(report[2].phases.wait).toBeGreaterThanOrEqual(report[0].phases.switch + report[1].phases.switch - 0.01)
      expect(result.stdout).toMatch(/Stage: all 3 hosts staged in [\d.]+ s/)
      for (const h of hosts) expect(await served(h)).toBe('200 version=1 port=8082')
      // These hosts have no systemd, and all say so: one annotation for the first host, one that
      // names the others, and the warning in each host's own group.
      const systemd = result.stdout.split('\n').filter((line) => line.startsWith('::warning::') && line.includes('does not run systemd'))
      expect(systemd).toHaveLength(2)
      const [, first, text] = /^::warning::\[([^\]]+)\] (.*)$/.exec(systemd[0]) ?? []
      const others = hosts.map(label).filter((l) => l !== first)
      expect(others).toHaveLength(2)
      const [, named, summarized] = /^::warning::2 more hosts gave the warning shown for [^ ]+ \(([^)]*)\): (.*)$/.exec(systemd[1]) ?? []
      expect(named?.split(', ').sort()).toEqual(others.sort())
      expect(summarized).toBe(text)
      expect(result.stdout.split('Warning: The host does not run systemd').length - 1).toBe(3)
    })

    it('rolls v2 out with traffic through every host, and not one request fails', async () => {
      startLoops()
      let result: ActionRun
      let stats: any[]
      try {
        result = await act({
          inputs: {
            ...fleetInputs(),
            // Each host runs the hooks at its point: the smoke test against its own new instance.
            'pre-switch-command': 'echo "smoke: $(curl -fsS http://127.0.0.1:$PORT/)"',
            'post-switch-command': 'echo "switched to $RELEASE"',
          },
          workspace: await workspaceWithJar('2'),
        })
      } finally {
        stats = await stopLoops()
      }
      expect(result.code, why(result)).toBe(0)
      expect(result.stdout.split('smoke: version=2 port=8081').length - 1).toBe(3)
      expect(result.stdout.split('switched to ').length - 1).toBe(3)
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
        // Every host keeps the run in its own history.
        const entry = JSON.parse((await readFile(path.join(h.deployDir, 'history'), 'utf8')).trim().split('\n').at(-1)!)
        expect([entry.command, entry.outcome, entry.release, entry.ports]).toEqual([
          'deploy',
          'deployed',
          releases[i],
          { before: 8082, after: 8081 },
        ])
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

    /** What answers on a port inside the host's own network (the new instance, or nothing). */
    const onPort = async (h: any, port: number) => {
      const script =
        "fetch(process.argv[1]).then(async (r) => console.log(r.status + ' ' + (await r.text()).split('\\n')[0]), (e) => console.log('error ' + (e.cause?.code ?? e.message)))"
      const { stdout } = await execIn(h.netns, process.execPath, ['-e', script, `http://127.0.0.1:${port}/`])
      return stdout.trim()
    }

    it('a release unhealthy on one host: no host is switched, no host ever serves it, the staged instances are stopped', async () => {
      // Inputs are the same for every host, so the failure comes from host 2 itself: every host's SSH
      // sessions have <machine>/bin first on PATH (sshd SetEnv PATH, as a host's own profile would);
      // only on host 2 does that dir hold a `java`, which runs the real one in a mode whose health
      // check answers 503, as a release missing a setting on that host would.
      const wrapper = path.join(hosts[1].dir, 'bin', 'java')
      await mkdir(path.dirname(wrapper), { recursive: true })
      await writeFile(wrapper, `#!/bin/sh\nSAMPLE_MODE=unhealthy exec ${realJava} "$@"\n`, { mode: 0o755 })
      const before = await Promise.all(hosts.map(snapshot))
      startLoops()
      let result: ActionRun
      let stats: any[]
      try {
        v3 = await workspaceWithJar('3')
        result = await act({ inputs: fleetInputs({ 'health-timeout': '6' }), workspace: v3 })
      } finally {
        stats = await stopLoops()
        await rm(wrapper, { force: true })
      }
      expect(result.code, why(result)).not.toBe(0)
      // The step's error names host 2 and the step that failed there.
      const errorLine = result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
      expect(errorLine, why(result)).toContain(
        `::error::${label(hosts[1])}: health check: http://127.0.0.1:8082/actuator/health did not answer 2xx`,
      )

      const report = reportOf(result)
      expect(report.map((r: any) => [r.host, r.outcome])).toEqual([
        [label(hosts[0]), 'skipped'],
        [label(hosts[1]), 'failed'],
        [label(hosts[2]), 'skipped'],
      ])
      expect(report[0].error).toBe(`staged, then stopped: ${label(hosts[1])} failed to stage; nginx was not touched`)
      expect(result.outputs['rolled-back']).toBe('false,false,false')
      expect(result.outputs['active-port']).toBe('8081,8081,8081')

      const after = await Promise.all(hosts.map(snapshot))
      for (const [i, h] of hosts.entries()) {
        // Hosts 1 and 3 did stage v3 (its release is there), yet nginx was never touched anywhere...
        expect(after[i].releases.length, label(h)).toBe(before[i].releases.length + 1)
        expect(after[i].include).toBe(before[i].include)
        expect(await served(h)).toBe('200 version=2 port=8081')
        // ...and the staged instance is stopped again.
        expect(await onPort(h, 8082)).toMatch(/^error /)
        // Polled through nginx during the whole run: v2 only, and not one request failed.
        expect(Object.keys(stats[i].bodies), label(h)).toEqual(['version=2 port=8081'])
        expect(stats[i].failed, `${label(h)}: ${JSON.stringify(stats[i].failures)}`).toBe(0)
        expect(stats[i].total).toBeGreaterThan(20)
      }
    })

    it('a switch that fails in the second wave puts the first wave back on its warm instance', async () => {
      // Host 2's nginx configuration is broken on disk (its running nginx serves on from memory): its
      // stage passes, as stage never touches nginx, and its switch's "nginx -t" fails.
      const conf = await readFile(hosts[1].nginxConfPath, 'utf8')
      await writeFile(hosts[1].nginxConfPath, `${conf}\nthis_directive_is_broken on;\n`)
      const before = await Promise.all(hosts.map(snapshot))
      startLoops()
      let result: ActionRun
      let stats: any[]
      try {
        result = await act({ inputs: fleetInputs(), workspace: await workspaceWithJar('4') })
      } finally {
        stats = await stopLoops()
        await writeFile(hosts[1].nginxConfPath, conf)
      }
      expect(result.code, why(result)).not.toBe(0)
      const errorLine = result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
      expect(errorLine, why(result)).toContain(`::error::${label(hosts[1])}: switch: the nginx test`)
      const report = reportOf(result)
      expect(report.map((r: any) => [r.host, r.outcome])).toEqual([
        [label(hosts[0]), 'reverted'],
        [label(hosts[1]), 'failed'],
        [label(hosts[2]), 'skipped'],
      ])
      expect(result.outputs['rolled-back']).toBe('true,false,false')
      expect(result.outputs['active-port']).toBe('8081,8081,8081')
      const after = await Promise.all(hosts.map(snapshot))
      for (const [i, h] of hosts.entries()) {
        expect(after[i].include, label(h)).toBe(before[i].include)
        expect(await served(h)).toBe('200 version=2 port=8081')
        expect(await onPort(h, 8082)).toMatch(/^error /)
        expect(stats[i].failed, `${label(h)}: ${JSON.stringify(stats[i].failures)}`).toBe(0)
        expect(stats[i].total).toBeGreaterThan(20)
      }
      // Host 1 served v4 for a moment (wave 1), then v2 again; the others only ever served v2.
      expect(Object.keys(stats[0].bodies).sort()).toEqual(['version=2 port=8081', 'version=4 port=8082'])
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

    it('a lock held on one host by another run makes the whole fleet wait, then deploys everywhere', async () => {
      // Another run holds host 3's lock: a live process in host 3's own PID namespace. It lets go
      // only once hosts 1 and 2 have staged (their new instance answers), as a run that ends would.
      const h3 = hosts[2]
      const v5 = await workspaceWithJar('5')
      await mkdir(path.join(h3.deployDir, '.lock'))
      await writeFile(path.join(h3.deployDir, '.lock', 'owner'), 'owner=acme/sample-service run 77.1 by someone\n')
      const holder = spawn(
        'nsenter',
        [
          '--target',
          String(h3.machinePid),
          '--pid',
          '--mount',
          '--',
          'sh',
          '-c',
          'echo $$ > "$1/.lock/pid"; exec sleep 600',
          'sh',
          h3.remote.deployDir,
        ],
        { stdio: 'ignore' },
      )
      const watch = watchFleet()
      startLoops()
      let result: ActionRun
      let stats: any[]
      let seen: Awaited<ReturnType<typeof watch.stop>>
      let releasedAt: number | undefined
      let stagedMeanwhile = false
      try {
        const running = act({ inputs: fleetInputs(), workspace: v5 })
        const deadline = performance.now() + 120_000
        while (!stagedMeanwhile && performance.now() < deadline) {
          const answers = await Promise.all(hosts.slice(0, 2).map((h) => onPort(h, 8082)))
          stagedMeanwhile = answers.every((a) => a === '200 version=5 port=8082')
          if (!stagedMeanwhile) await sleep(200)
        }
        // A while longer, in which nothing may switch anywhere.
        await sleep(1500)
        await rm(path.join(h3.deployDir, '.lock'), { recursive: true, force: true })
        releasedAt = performance.now()
        result = await running
      } finally {
        holder.kill('SIGKILL')
        stats = await stopLoops()
        seen = await watch.stop()
      }
      expect(stagedMeanwhile, 'hosts 1 and 2 staged while host 3 waited').toBe(true)
      expect(result.code, why(result)).toBe(0)
      expect(result.stdout).toContain(`[${label(h3)}] Waiting for the deploy lock, held by owner=acme/sample-service run 77.1 by someone`)
      // Not one host switched before host 3 had its lock.
      for (const [i, h] of hosts.entries()) {
        expect(seen[i].switched, label(h)).toBeGreaterThan(releasedAt!)
        expect(await served(h)).toBe('200 version=5 port=8082')
        expect(stats[i].failed, `${label(h)}: ${JSON.stringify(stats[i].failures)}`).toBe(0)
      }
      const report = reportOf(result)
      expect(report[2].phases.lock).toBeGreaterThan(1.5)
      expect(report[0].phases.wait).toBeGreaterThan(1.5)
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
        // The same v3 jar again, now that host 2's Java is fixed: every host staged it once, and holds its release.
        const result = await act({ inputs: viaBastion({ 'proxy-host-fingerprint': bastion.hostFingerprints[0] }), workspace: v3 })
        expect(result.code, why(result)).toBe(0)
        const report = reportOf(result)
        expect(report.map((r: any) => [r.host, r.outcome])).toEqual(hosts.map((h) => [label(h), 'deployed']))
        expect(result.outputs['active-port']).toBe('8081,8081,8081')
        expect(result.outputs['previous-port']).toBe('8082,8082,8082')
        expect(result.outputs['rolled-back']).toBe('false,false,false')
        for (const [i, release] of column(result, 'release').entries()) expect(release, label(hosts[i])).toMatch(RELEASE)
        expect(column(result, 'uploaded-bytes').map(Number)).toEqual([0, 0, 0])
        for (const [i, h] of hosts.entries()) {
          expect(await servedInside(h)).toBe('200 version=3 port=8081')
          // One login per host, and it came from the bastion's address on the hosts' segment.
          expect(await accepted(h)).toBe(logins[i] + 1)
          const lines = (await readFile(h.sshdLogPath, 'utf8')).split('\n').filter((l) => l.includes('Accepted publickey'))
          expect(lines.at(-1)).toContain(`from ${back.address(10)} `)
        }
      })

      it('a host behind the bastion that drops packets fails within connect-timeout, named, and said to be behind the bastion', async () => {
        // A machine on the hosts' segment whose firewall drops every TCP packet: the bastion's
        // connect to it would wait for its kernel's SYN retries, about two minutes.
        const dark = await lab.namespace('dark')
        const address = await lab.attach(dark, back, 99)
        await execIn(dark, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '-j', 'DROP'])
        const result = await act({
          inputs: viaBastion({
            host: `${hosts[0].user}@${address}`,
            'connect-timeout': '3',
            // One try: a timeout may pass, and each retry would wait for connect-timeout again.
            'connect-retries': '0',
            'proxy-host-fingerprint': bastion.hostFingerprints[0],
          }),
          workspace: await workspaceWithJar('dark'),
        })
        expect(result.code, why(result)).toBe(1)
        expect(result.durationMs).toBeLessThan(20_000)
        const errorLine = result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
        expect(errorLine, why(result)).toContain(
          `${address}:22: no connection through the jump host ${bastion.user}@${bastion.host}${bastion.sshPort === 22 ? '' : `:${bastion.sshPort}`} within 3 s (connect-timeout)`,
        )
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
        for (const h of hosts) expect(await servedInside(h)).toBe('200 version=3 port=8081')
      })

      it('rolls the whole fleet back through the bastion, to the warm previous instance on every host', async () => {
        const result = await act({
          inputs: viaBastion({ 'proxy-host-fingerprint': bastion.hostFingerprints[0], command: 'rollback' }),
          workspace: await workspaceWithJar('unused'),
        })
        expect(result.code, why(result)).toBe(0)
        const report = reportOf(result)
        expect(report.map((r: any) => [r.host, r.outcome])).toEqual(hosts.map((h) => [label(h), 'rolled-back']))
        expect(result.outputs['active-port']).toBe('8082,8082,8082')
        for (const h of hosts) expect(await servedInside(h)).toBe('200 version=5 port=8082')
      })
    })
  },
)
