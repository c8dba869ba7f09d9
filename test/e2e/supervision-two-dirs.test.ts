// Supervision end to end on one host whose PID 1 is systemd (scripts/lib/systemd-host.mjs): the
// production and the staging deploy-dir of one repository (same app-name, two port pairs, two
// nginx sites), on a host upgraded from template units that named one deploy-dir. Neither deploy
// takes the other's units: a JVM killed with SIGKILL comes back, and so does everything after a
// power cut. A start command that puts the JVM in the background runs under systemd too, and the
// unit sees the session's environment (sshd SetEnv here, as a host's profile would set it).
import { readFile, rm, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { createSystemdHost, systemdHostSupport } from '../../scripts/lib/systemd-host.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { type Inputs, get, removeWorkspaces, runAction, why, workspaceWithJar } from './support.js'

const support: { ok: boolean; reason?: string } =
  process.getuid?.() === 0 ? await systemdHostSupport() : { ok: false, reason: 'needs root' }

const UNIT_DIR = '/etc/systemd/system'
const production = { dir: '/root/apps/sample', ports: [8081, 8082], include: '/etc/nginx/conf.d/service-url.inc', site: 80 }
const staging = { dir: '/root/apps/sample-staging', ports: [9081, 9082], include: '/etc/nginx/conf.d/staging-url.inc', site: 8080 }
type Stage = typeof production

const server = (stage: Stage) =>
  `server {\n  listen ${stage.site};\n  location / {\n    include ${stage.include};\n    proxy_pass $service_url;\n  }\n}\n`

/** The template as the previous version of the action wrote it: its ExecStart names one deploy-dir. */
const previousTemplate = (deployDir: string) =>
  [
    '# Written by zero-downtime-deploy on every start; edits here are overwritten.',
    '[Unit]',
    'Description=sample on port %i (zero-downtime-deploy)',
    'After=network.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=/bin/sh "${deployDir}/run/launch" %i`,
    'Restart=on-failure',
    'RestartSec=1',
    'SuccessExitStatus=143',
    'KillMode=control-group',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=10',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')

describe.skipIf(!support.ok)(`production and staging on one systemd host${support.ok ? '' : ` (skipped: ${support.reason})`}`, () => {
  let host: any
  let traffic: any

  /** The first line the stage's nginx site answers with right now, or the error. */
  const served = async (stage: Stage): Promise<string> => {
    try {
      const response = await get(`http://${host.address}:${stage.site}/`, { timeoutMs: 2000 })
      return `${response.status} ${String(response.body).split('\n')[0]}`
    } catch (error) {
      return String(error)
    }
  }
  const servingAgain = async (stage: Stage, expected: string, since: number, timeoutMs = 60_000): Promise<number> => {
    let last = ''
    while (Date.now() - since < timeoutMs) {
      last = await served(stage)
      if (last === expected) return Date.now() - since
      await sleep(20)
    }
    throw new Error(`nginx did not serve "${expected}" within ${timeoutMs} ms; last answer: ${last}`)
  }
  /** What the instance on `port` answers on the host itself (waits up to 60 s for it to answer). */
  const answerOn = async (port: number, path = '/'): Promise<string> => {
    const deadline = Date.now() + 60_000
    for (;;) {
      const result = await host.exec(['curl', '-s', '-m', '2', `http://127.0.0.1:${port}${path}`]).catch((error: Error) => error)
      if (!(result instanceof Error)) return String(result.stdout).split('\n')[0]
      if (Date.now() > deadline) throw result
      await sleep(200)
    }
  }
  const deploy = async (stage: Stage, version: string, extra: Inputs = {}) =>
    runAction({
      workspace: await workspaceWithJar(version),
      inputs: {
        host: host.address,
        username: 'root',
        'private-key': host.privateKey,
        'known-hosts': host.knownHosts,
        artifact: 'build/libs/*.jar',
        'app-name': 'sample',
        'deploy-dir': stage.dir,
        ports: stage.ports.join(','),
        'nginx-include': stage.include,
        'health-interval': '0.1',
        'health-timeout': '60',
        'stop-timeout': '10',
        ...extra,
      },
    })
  const restarts = async (port: number) =>
    Number((await host.exec(['systemctl', 'show', '-p', 'NRestarts', '--value', `zdd-sample@${port}.service`])).stdout.trim())

  beforeAll(async () => {
    host = await createSystemdHost({
      nginxSite: server(production) + server(staging),
      files: {
        [production.include]: `set $service_url http://127.0.0.1:${production.ports[0]};\n`,
        [staging.include]: `set $service_url http://127.0.0.1:${staging.ports[0]};\n`,
      },
      sshdConfig: 'SetEnv LANG=C.UTF-8 TZ=Europe/Berlin JAVA_HOME=/usr/lib/jvm/zdd-test-home\n',
    })
  })
  afterAll(async () => {
    await traffic?.stop()
    await host?.destroy()
    await removeWorkspaces()
  })

  it('a host upgraded from template units that named one deploy-dir: the staging deploy leaves production supervised', async () => {
    for (const version of ['1', '2']) {
      const result = await deploy(production, version)
      expect(result.code, why(result)).toBe(0)
    }
    // As the previous version left the host: the template names production, no drop-ins, both
    // instances enabled and running under it.
    for (const port of production.ports) await rm(host.file(`${UNIT_DIR}/zdd-sample@${port}.service.d`), { recursive: true, force: true })
    await writeFile(host.file(`${UNIT_DIR}/zdd-sample@.service`), previousTemplate(production.dir))
    await host.exec(['systemctl', 'daemon-reload'])
    await host.exec(['systemctl', 'restart', ...production.ports.map((port) => `zdd-sample@${port}.service`)])
    await servingAgain(production, `200 version=2 port=${production.ports[0]}`, Date.now())

    const result = await deploy(staging, 's1')
    expect(result.code, why(result)).toBe(0)
    expect(await served(staging)).toBe(`200 version=s1 port=${staging.ports[1]}`)

    const killed = Date.now()
    await host.exec(['pkill', '-KILL', '-f', '--', `server.port=${production.ports[0]}`])
    const ms = await servingAgain(production, `200 version=2 port=${production.ports[0]}`, killed, 20_000)
    console.log(`measured: kill -9 of production's JVM after the staging deploy to nginx serving it again: ${ms} ms`)
    // Each of production's instances got a drop-in naming production.
    for (const port of production.ports) {
      expect(await readFile(host.file(`${UNIT_DIR}/zdd-sample@${port}.service.d/zdd.conf`), 'utf8')).toContain(
        `ExecStart=/bin/sh "${production.dir}/run/launch" %i`,
      )
    }
  })

  it('a start command that puts the JVM in the background runs as a unit: 0 failed requests, and it comes back after kill -9', async () => {
    const staged = await deploy(staging, 's2')
    expect(staged.code, why(staged)).toBe(0)
    traffic = startTraffic({ url: `http://${host.address}`, concurrency: 4 })
    const result = await deploy(production, '3', {
      'start-command': 'nohup java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT" > /dev/null 2>&1 &',
    })
    expect(result.code, why(result)).toBe(0)
    expect(await served(production)).toBe(`200 version=3 port=${production.ports[1]}`)
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)

    const before = await restarts(production.ports[1])
    const killed = Date.now()
    await host.exec(['pkill', '-KILL', '-f', '--', `server.port=${production.ports[1]}`])
    const ms = await servingAgain(production, `200 version=3 port=${production.ports[1]}`, killed, 20_000)
    console.log(`measured: kill -9 of a backgrounded JVM to nginx serving it again: ${ms} ms`)
    expect(await restarts(production.ports[1])).toBe(before + 1)
  })

  it("the unit's JVM sees the session's environment, not the SSH session's own variables", async () => {
    const port = production.ports[1]
    expect(await answerOn(port, '/env?name=TZ')).toBe('Europe/Berlin')
    expect(await answerOn(port, '/env?name=JAVA_HOME')).toBe('/usr/lib/jvm/zdd-test-home')
    expect(await answerOn(port, '/env?name=LANG')).toBe('C.UTF-8')
    expect(await answerOn(port, '/env?name=SSH_CONNECTION')).toBe('unset')
  })

  it('power cut and boot: both deploy-dirs serve, and every instance runs its own deploy-dir release', async () => {
    await host.powerCut()
    await host.boot()
    await servingAgain(production, `200 version=3 port=${production.ports[1]}`, host.bootStartedAt())
    await servingAgain(staging, `200 version=s2 port=${staging.ports[0]}`, host.bootStartedAt())
    expect(await answerOn(production.ports[0])).toBe(`version=2 port=${production.ports[0]}`)
    expect(await answerOn(staging.ports[1])).toBe(`version=s1 port=${staging.ports[1]}`)

    const status = await deploy(staging, 'unused', { command: 'status' })
    expect(status.code, why(status)).toBe(0)
    expect(JSON.parse(status.outputs.report)[0].instances).toEqual(
      staging.ports.map((port) =>
        expect.objectContaining({ port, running: true, unit: `zdd-sample@${port}.service`, unitState: 'active/running, enabled' }),
      ),
    )
  })
})
