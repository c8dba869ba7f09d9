// Supervision end to end: on a host whose PID 1 is systemd (scripts/lib/systemd-host.mjs, with the
// distribution's ssh.service and nginx.service and the action's default nginx commands), as root
// and as a user with lingering, the service outlives the deploy: a JVM killed with SIGKILL and a
// power cut both end with nginx serving the active release again, with no deploy. On today's
// loopback target, which runs no systemd, `auto` starts detached with a warning and `none` as before.
import { readFile, readlink, stat, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createSystemdHost, systemdHostSupport } from '../../scripts/lib/systemd-host.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type ActionRun, type Inputs, get, removeWorkspaces, run, runAction, why, workspaceWithJar } from './support.js'

const support: { ok: boolean; reason?: string } =
  process.getuid?.() === 0 ? await systemdHostSupport() : { ok: false, reason: 'needs root' }
const [PORT_A, PORT_B] = [8081, 8082]

/** A site that proxies to whatever port the include names, as the README sets it up. */
const site = (include: string) => `server {\n  listen 80;\n  location / {\n    include ${include};\n    proxy_pass $service_url;\n  }\n}\n`

/** The first line nginx answers with right now, or the error. */
async function served(host: any): Promise<string> {
  try {
    const response = await get(`http://${host.address}/`, { timeoutMs: 2000 })
    return `${response.status} ${String(response.body).split('\n')[0]}`
  } catch (error) {
    return String(error)
  }
}

/** Milliseconds from `since` until nginx answers `expected`; fails after `timeoutMs`. */
async function servingAgain(host: any, expected: string, since: number, timeoutMs = 60_000): Promise<number> {
  let last = ''
  while (Date.now() - since < timeoutMs) {
    last = await served(host)
    if (last === expected) return Date.now() - since
    await sleep(20)
  }
  throw new Error(`nginx did not serve "${expected}" within ${timeoutMs} ms; last answer: ${last}`)
}

/** ActiveState, SubState, UnitFileState and NRestarts of the port's unit, as systemctl shows them. */
async function unitOf(host: any, port: number, user?: { name: string; uid: number }): Promise<Record<string, string>> {
  const show = ['show', '-p', 'ActiveState', '-p', 'SubState', '-p', 'UnitFileState', '-p', 'NRestarts', `zdd-sample@${port}.service`]
  const command = user
    ? ['runuser', '-u', user.name, '--', 'env', `XDG_RUNTIME_DIR=/run/user/${user.uid}`, 'systemctl', '--user', ...show]
    : ['systemctl', ...show]
  const { stdout } = await host.exec(command)
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line: string) => line.split('=', 2)),
  )
}

/** Waits until the instance on `port` answers its health check on the host. */
async function waitHealthy(host: any, port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await host.exec(['curl', '-sf', '-o', '/dev/null', `http://127.0.0.1:${port}/actuator/health`]).then(
      () => true,
      () => false,
    )
    if (ok) return
    await sleep(200)
  }
  throw new Error(`port ${port} did not turn healthy within ${timeoutMs} ms`)
}

function report(result: ActionRun): any {
  return JSON.parse(result.outputs.report)[0]
}

describe.skipIf(!support.ok)(`on a host whose PID 1 is systemd${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  afterAll(removeWorkspaces)

  describe('as root: system units', () => {
    let host: any
    let traffic: any
    const include = '/etc/nginx/conf.d/service-url.inc'
    const deployDir = '/root/apps/sample'
    const deploy = async (version: string, extra: Inputs = {}) =>
      runAction({
        workspace: await workspaceWithJar(version),
        inputs: {
          host: host.address,
          username: 'root',
          'private-key': host.privateKey,
          'known-hosts': host.knownHosts,
          artifact: 'build/libs/*.jar',
          'app-name': 'sample',
          'health-interval': '0.1',
          'health-timeout': '60',
          'stop-timeout': '10',
          ...extra,
        },
      })

    beforeAll(async () => {
      host = await createSystemdHost({ nginxSite: site(include), files: { [include]: `set $service_url http://127.0.0.1:${PORT_A};\n` } })
    })
    afterAll(async () => {
      await traffic?.stop()
      await host?.destroy()
    })

    it('supervisor none on a systemd host: detached, as before, and no unit is written', async () => {
      const result = await deploy('1', { supervisor: 'none' })
      expect(result.code, why(result)).toBe(0)
      expect(result.stdout).not.toContain('::warning::')
      expect(await served(host)).toBe(`200 version=1 port=${PORT_B}`)
      await expect(stat(host.file('/etc/systemd/system/zdd-sample@.service'))).rejects.toThrow()
    })

    it('the next deploy (auto) moves the host to units with no manual step and 0 failed requests; env stays out of the unit', async () => {
      traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
      const result = await deploy('2', { env: 'DB_PASSWORD=s3cret-env', 'java-opts': '-Dpw=s3cret-opts' })
      expect(result.code, why(result)).toBe(0)
      expect(result.stdout).toContain(`systemd unit zdd-sample@${PORT_A}.service, enabled`)
      expect(await served(host)).toBe(`200 version=2 port=${PORT_A}`)
      const stats = await traffic.stop()
      traffic = undefined
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
      expect(stats.bodies[`version=1 port=${PORT_B}`]).toBeGreaterThan(0)

      const unitFile = await readFile(host.file('/etc/systemd/system/zdd-sample@.service'), 'utf8')
      expect(unitFile).toContain('Restart=on-failure')
      const dropIn = await readFile(host.file(`/etc/systemd/system/zdd-sample@${PORT_A}.service.d/zdd.conf`), 'utf8')
      expect(dropIn).toContain(`ExecStart=/bin/sh "${deployDir}/run/launch" %i`)
      expect(dropIn).toContain('TimeoutStopSec=10')
      expect(unitFile + dropIn).not.toContain('s3cret')
      expect(await readlink(host.file(`/etc/systemd/system/multi-user.target.wants/zdd-sample@${PORT_A}.service`))).toContain(
        'zdd-sample@.service',
      )
      const conf = host.file(`${deployDir}/run/${PORT_A}.conf`)
      expect((await stat(conf)).mode & 0o777).toBe(0o600)
      expect(await readFile(conf, 'utf8')).toContain('s3cret-opts')
      expect(await unitOf(host, PORT_A)).toMatchObject({ ActiveState: 'active', UnitFileState: 'enabled', NRestarts: '0' })
      // The detached v1 keeps serving as the warm instance until a deploy replaces it.
      expect((await get(`http://${host.address}/`)).status).toBe(200)
    })

    it('kill -9 of the active JVM: systemd starts it again and nginx serves it with no deploy', async () => {
      const killed = Date.now()
      await host.exec(['pkill', '-KILL', '-f', '--', `server.port=${PORT_A}`])
      const ms = await servingAgain(host, `200 version=2 port=${PORT_A}`, killed)
      console.log(`measured: kill -9 of the active JVM to nginx serving again (root, system unit): ${ms} ms`)
      expect(await unitOf(host, PORT_A)).toMatchObject({ ActiveState: 'active', NRestarts: '1' })
    })

    it('power cut and boot: the active release serves again, status is right, rollback works with 0 failed requests', async () => {
      await host.powerCut()
      await host.boot()
      const ms = await servingAgain(host, `200 version=2 port=${PORT_A}`, host.bootStartedAt())
      console.log(`measured: boot (start of PID 1) to nginx serving the active release (root): ${ms} ms`)

      const status = await deploy('unused', { command: 'status' })
      expect(status.code, why(status)).toBe(0)
      expect(report(status).supervisor).toBe('systemd (system units)')
      expect(report(status).instances).toEqual([
        expect.objectContaining({
          port: PORT_A,
          active: true,
          running: true,
          healthy: true,
          unit: `zdd-sample@${PORT_A}.service`,
          unitState: 'active/running, enabled',
          restarts: 0,
        }),
        // The detached v1 did not survive the power cut: nothing runs on the other port.
        expect.objectContaining({ port: PORT_B, active: false, running: false }),
      ])
      expect(status.stdout).toContain(`unit zdd-sample@${PORT_A}.service active/running, enabled, 0 restarts`)

      traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
      const rollback = await deploy('unused', { command: 'rollback' })
      expect(rollback.code, why(rollback)).toBe(0)
      expect(await served(host)).toBe(`200 version=1 port=${PORT_B}`)
      expect(await unitOf(host, PORT_B)).toMatchObject({ ActiveState: 'active', UnitFileState: 'enabled' })
      expect(traffic.snapshot().failed).toBe(0)
    })

    it('a crash during the health wait fails at once with the log tail; the unit is stopped and disabled, not restarted', async () => {
      const result = await deploy('crash', { env: 'SAMPLE_MODE=crash' })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain(`exited on port ${PORT_A} before it answered its health check`)
      expect(result.stdout).toContain('fatal: sample crash requested')
      expect(result.durationMs).toBeLessThan(30_000)
      await sleep(2500) // past RestartSec: a unit left enabled would be running again by now
      expect(await unitOf(host, PORT_A)).toMatchObject({ ActiveState: 'inactive', UnitFileState: 'disabled' })
      expect(await served(host)).toBe(`200 version=1 port=${PORT_B}`)
    })

    it('a release that never turns healthy: its unit is stopped and disabled', async () => {
      const result = await deploy('sick', { env: 'SAMPLE_MODE=unhealthy', 'health-timeout': '3' })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain('did not answer 2xx within health-timeout (3 s)')
      expect(await unitOf(host, PORT_A)).toMatchObject({ ActiveState: 'inactive', UnitFileState: 'disabled' })
      const stats = await traffic.stop()
      traffic = undefined
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
    })

    it('stop-previous, then a reboot: the stopped instance stays stopped', async () => {
      traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
      const result = await deploy('3', { 'stop-previous': 'true', 'drain-seconds': '0' })
      expect(result.code, why(result)).toBe(0)
      const stats = await traffic.stop()
      traffic = undefined
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
      expect(await unitOf(host, PORT_B)).toMatchObject({ ActiveState: 'inactive', UnitFileState: 'disabled' })

      await host.powerCut()
      await host.boot()
      await servingAgain(host, `200 version=3 port=${PORT_A}`, host.bootStartedAt())
      expect(await unitOf(host, PORT_B)).toMatchObject({ ActiveState: 'inactive', UnitFileState: 'disabled' })
      const status = await deploy('unused', { command: 'status' })
      expect(report(status).instances[1]).toMatchObject({ port: PORT_B, running: false, healthy: false })
    })
  })

  describe('as a user with lingering: user units', () => {
    let host: any
    let traffic: any
    let user: { name: string; uid: number }
    const include = '/etc/nginx/conf.d/service-url.inc'
    const deploy = async (version: string, extra: Inputs = {}) =>
      runAction({
        workspace: await workspaceWithJar(version),
        inputs: {
          host: host.address,
          username: user.name,
          'private-key': host.privateKey,
          'known-hosts': host.knownHosts,
          artifact: 'build/libs/*.jar',
          'app-name': 'sample',
          'health-interval': '0.1',
          'health-timeout': '60',
          'stop-timeout': '10',
          ...extra,
        },
      })

    beforeAll(async () => {
      // Without PAM, as sshd is often set up for deploy users: the session has no XDG_RUNTIME_DIR.
      host = await createSystemdHost({
        nginxSite: site(include),
        files: { [include]: `set $service_url http://127.0.0.1:${PORT_A};\n` },
        sshdConfig: 'UsePAM no\n',
      })
      const name = 'zdddeploy'
      const { uid } = await host.addUser(name)
      user = { name, uid }
      // The README's sudoers file for a user who is not root: the include and the two nginx commands, nothing more.
      await writeFile(
        host.file('/etc/sudoers.d/zero-downtime-deploy'),
        `${name} ALL=(root) NOPASSWD: /usr/bin/tee ${include}\n${name} ALL=(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -s reload\n`,
        { mode: 0o440 },
      )
    })
    afterAll(async () => {
      await traffic?.stop()
      await host?.destroy()
    })

    it('without lingering, supervisor systemd refuses before anything is started, naming the command', async () => {
      const result = await deploy('1', { supervisor: 'systemd' })
      expect(result.code).toBe(1)
      expect(result.stdout).toContain(`Run "sudo loginctl enable-linger ${user.name}" on the host`)
      expect(result.stdout).toContain('Nothing was stopped or started.')
      expect(await served(host)).toMatch(/^502 /)
    })

    it('without lingering, auto starts detached and warns, naming the command', async () => {
      const result = await deploy('1')
      expect(result.code, why(result)).toBe(0)
      expect(result.stdout).toMatch(
        /::warning::User "zdddeploy" has no lingering on the host, so the service runs detached: it will not come back after a crash or a reboot\. Run "sudo loginctl enable-linger zdddeploy"/,
      )
      expect(await served(host)).toBe(`200 version=1 port=${PORT_B}`)
    })

    it('with lingering, the next deploys run user units, 0 failed requests', async () => {
      await host.exec(['loginctl', 'enable-linger', user.name])
      traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
      for (const [version, port] of [
        ['2', PORT_A],
        ['3', PORT_B],
      ] as const) {
        const result = await deploy(version)
        expect(result.code, why(result)).toBe(0)
        expect(result.stdout).not.toContain('::warning::')
        expect(await served(host)).toBe(`200 version=${version} port=${port}`)
      }
      const stats = await traffic.stop()
      traffic = undefined
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
      const unitFile = await readFile(host.file(`/home/${user.name}/.config/systemd/user/zdd-sample@.service`), 'utf8')
      expect(unitFile).toContain('WantedBy=default.target')
      for (const port of [PORT_A, PORT_B])
        expect(await unitOf(host, port, user)).toMatchObject({ ActiveState: 'active', UnitFileState: 'enabled' })
    })

    it('kill -9 of the active JVM: the user manager starts it again and nginx serves it with no deploy', async () => {
      const killed = Date.now()
      await host.exec(['pkill', '-KILL', '-f', '--', `server.port=${PORT_B}`])
      const ms = await servingAgain(host, `200 version=3 port=${PORT_B}`, killed)
      console.log(`measured: kill -9 of the active JVM to nginx serving again (user unit): ${ms} ms`)
    })

    it('power cut and boot: both instances come back, status is right, rollback switches to the warm one with 0 failed requests', async () => {
      await host.powerCut()
      await host.boot()
      const ms = await servingAgain(host, `200 version=3 port=${PORT_B}`, host.bootStartedAt())
      console.log(`measured: boot (start of PID 1) to nginx serving the active release (user with lingering): ${ms} ms`)

      const status = await deploy('unused', { command: 'status' })
      expect(status.code, why(status)).toBe(0)
      expect(report(status).supervisor).toBe('systemd (user units)')
      // The warm instance may still be starting: its unit is up, its health is not asserted.
      expect(report(status).instances).toEqual([
        expect.objectContaining({
          port: PORT_A,
          active: false,
          unit: `zdd-sample@${PORT_A}.service`,
          unitState: 'active/running, enabled',
        }),
        expect.objectContaining({
          port: PORT_B,
          active: true,
          running: true,
          healthy: true,
          unitState: 'active/running, enabled',
          restarts: 0,
        }),
      ])
      // Rollback takes the warm instance only once it answers its health check.
      await waitHealthy(host, PORT_A)

      traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
      const rollback = await deploy('unused', { command: 'rollback' })
      expect(rollback.code, why(rollback)).toBe(0)
      expect(Object.keys(report(rollback).phases)).not.toContain('start')
      expect(await served(host)).toBe(`200 version=2 port=${PORT_A}`)
      expect(traffic.snapshot().failed).toBe(0)
    })

    it('stop-previous, then a reboot: the stopped instance stays stopped', async () => {
      const result = await deploy('4', { 'stop-previous': 'true', 'drain-seconds': '0' })
      expect(result.code, why(result)).toBe(0)
      const stats = await traffic.stop()
      traffic = undefined
      expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
      expect(await unitOf(host, PORT_A, user)).toMatchObject({ ActiveState: 'inactive', UnitFileState: 'disabled' })

      await host.powerCut()
      await host.boot()
      await servingAgain(host, `200 version=4 port=${PORT_B}`, host.bootStartedAt())
      expect(await unitOf(host, PORT_A, user)).toMatchObject({ ActiveState: 'inactive', UnitFileState: 'disabled' })
    })
  })
})

describe('on a host without systemd (the loopback target)', () => {
  let target: any
  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target?.stop()
    await removeWorkspaces()
  })

  it('supervisor systemd refuses before anything is started', async () => {
    const result = await run(target, await workspaceWithJar('1'), { supervisor: 'systemd' })
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('the host does not run systemd (/run/systemd/system is absent)')
    expect((await get(target.url + '/')).status).toBe(502)
  })

  it('auto starts detached as before, and warns that the service will not come back after a crash or a reboot', async () => {
    const result = await run(target, await workspaceWithJar('1'))
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toContain(
      '::warning::The host does not run systemd (/run/systemd/system is absent), so the service runs detached: it will not come back after a crash or a reboot.',
    )
    expect((await get(target.url + '/')).body).toBe(`version=1 port=${target.appPorts[1]}\n`)
  })

  it('none starts detached, without the warning', async () => {
    const result = await run(target, await workspaceWithJar('2'), { supervisor: 'none' })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).not.toContain('::warning::')
    expect((await get(target.url + '/')).body).toBe(`version=2 port=${target.appPorts[0]}\n`)
  })
})
