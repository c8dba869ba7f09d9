/**
 * Supervision by systemd (src/remote/systemd.ts, src/deploy/supervision.ts): the unit file as
 * written, the launcher run by a local sh as the unit runs it, and the choice of supervisor.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { HostState } from '../../../src/deploy/host-state.js'
import { supervisionOf } from '../../../src/deploy/supervision.js'
import {
  dropInPath,
  dropInText,
  instanceConfText,
  launcherText,
  systemdWord,
  templateName,
  unitFileText,
  unitName,
} from '../../../src/remote/systemd.js'
import { cleanUpAfterAll, makeRelease, tempDir } from './local-host.js'

cleanUpAfterAll()

describe('the unit file', () => {
  it('a template per app, instance = port, restarted on failure; it names no deploy-dir', () => {
    expect(templateName('shop')).toBe('zdd-shop@.service')
    expect(unitName('shop', 8081)).toBe('zdd-shop@8081.service')
    expect(unitFileText({ appName: 'shop', scope: 'system' })).toBe(
      [
        '# Written by zero-downtime-deploy on every start; edits here are overwritten.',
        '# Each instance runs what its drop-in zdd-<app-name>@<port>.service.d/zdd.conf names.',
        '[Unit]',
        'Description=shop on port %i (zero-downtime-deploy)',
        'After=network.target',
        '',
        '[Service]',
        'Type=simple',
        'Restart=on-failure',
        'RestartSec=1',
        'SuccessExitStatus=143',
        'KillMode=control-group',
        'KillSignal=SIGTERM',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    )
  })

  it("each port's drop-in names its deploy-dir's launcher and stop timeout, clearing any ExecStart of the template", () => {
    expect(dropInPath('shop', 9081)).toBe('zdd-shop@9081.service.d/zdd.conf')
    expect(dropInText({ deployDir: '/root/apps/shop-staging', stopTimeoutSeconds: 29.5 })).toBe(
      [
        '# Written by zero-downtime-deploy on every start of this port; edits here are overwritten.',
        '# deploy-dir: /root/apps/shop-staging',
        '[Service]',
        'ExecStart=',
        'ExecStart=/bin/sh "/root/apps/shop-staging/run/launch" %i',
        'TimeoutStopSec=30',
        '',
      ].join('\n'),
    )
  })

  it('a user unit is wanted by the user manager default.target', () => {
    expect(unitFileText({ appName: 'shop', scope: 'user' })).toContain('\nWantedBy=default.target\n')
  })

  it('a path with quotes, backslashes, % and $ reaches the command line as written', () => {
    expect(systemdWord('/srv/my "app"\\100%/$HOME')).toBe('"/srv/my \\"app\\"\\\\100%%/$$HOME"')
    expect(() => systemdWord('/srv/a\nb')).toThrow(/line break/)
  })
})

describe('the launcher, run by a local sh as the unit runs it', () => {
  it('starts the recorded release in its directory with the same environment as a detached start; output to the port log', () => {
    const deployDir = tempDir()
    const release = '20260101-000000-aaaaaaaa'
    const releaseDir = makeRelease(deployDir, release, [['SECRET', "it's $HOME"]])
    const startCommand = `printf 'env %s|%s|%s|%s|%s|%s|%s|%s|%s\\n' "$PORT" "$SERVER_PORT" "$ARTIFACT" "$APP_NAME" "$RELEASE" "$JAVA_OPTS" "$SECRET" "$PWD" "$PATH"`
    writeFileSync(
      join(deployDir, 'run', '9001.conf'),
      instanceConfText({ release, fileName: 'app.jar', appName: 'shop', javaOpts: '-Xmx64m -Dx="a b"', startCommand }) +
        "export PATH='/opt/tools/bin:/usr/bin:/bin'\n",
      { mode: 0o600 },
    )
    writeFileSync(join(deployDir, 'run', 'launch'), launcherText(deployDir))
    const launched = spawnSync('/bin/sh', [join(deployDir, 'run', 'launch'), '9001'], { env: { PATH: '/usr/bin:/bin' }, cwd: '/' })
    expect(launched.status, String(launched.stderr)).toBe(0)
    const log = readFileSync(join(deployDir, 'logs', '9001.log'), 'utf8')
    expect(log).toMatch(/^--- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ starting release 20260101-000000-aaaaaaaa on port 9001 \(systemd\)$/m)
    expect(log).toContain(
      `env 9001|9001|${releaseDir}/app.jar|shop|${release}|-Xmx64m -Dx="a b"|it's $HOME|${releaseDir}|/opt/tools/bin:/usr/bin:/bin\n`,
    )
    // Its pid is the unit's main pid: recorded at every start, so a restart keeps run/<port>.pid true.
    expect(readFileSync(join(deployDir, 'run', '9001.pid'), 'utf8')).toMatch(new RegExp(`^${launched.pid}\nboot=\\S+ start=\\d+\n$`))
  })

  it('the launcher stays the main process: it exits with the status of a start command that fails, and 0 for one that ended cleanly', () => {
    const deployDir = tempDir()
    makeRelease(deployDir, 'r1')
    writeFileSync(join(deployDir, 'run', 'launch'), launcherText(deployDir))
    for (const [port, startCommand, status] of [
      [9003, 'exit 3', 3],
      [9004, 'kill -KILL $$', 137],
      [9005, 'echo done', 0],
    ] as const) {
      writeFileSync(
        join(deployDir, 'run', `${port}.conf`),
        instanceConfText({ release: 'r1', fileName: 'app.jar', appName: 'shop', javaOpts: '', startCommand }),
      )
      expect(spawnSync('/bin/sh', [join(deployDir, 'run', 'launch'), String(port)]).status).toBe(status)
    }
  })

  it('a missing release fails the start with an exit status, not a service that runs elsewhere', () => {
    const deployDir = tempDir()
    makeRelease(deployDir, 'r1')
    writeFileSync(
      join(deployDir, 'run', '9002.conf'),
      instanceConfText({ release: 'gone', fileName: 'app.jar', appName: 'shop', javaOpts: '', startCommand: 'echo ran' }),
    )
    writeFileSync(join(deployDir, 'run', 'launch'), launcherText(deployDir))
    const launched = spawnSync('/bin/sh', [join(deployDir, 'run', 'launch'), '9002'])
    expect(launched.status).toBe(97)
    expect(readFileSync(join(deployDir, 'logs', '9002.log'), 'utf8')).not.toContain('ran')
  })
})

describe('the choice of supervisor', () => {
  const host = (over: Partial<HostState>): HostState => ({
    isRoot: true,
    uid: 0,
    user: 'root',
    systemd: true,
    linger: false,
    units: [],
    home: '/root',
    http: 'curl',
    deployDirExists: true,
    releases: [],
    instances: [],
    deployDir: '/root/apps/shop',
    ...over,
  })
  const deployUser = { isRoot: false, uid: 1000, user: 'deploy' }

  it('root on a systemd host: system units, with auto and with systemd', () => {
    for (const supervisor of ['auto', 'systemd'] as const) {
      expect(supervisionOf(supervisor, 'shop', host({}))).toEqual({
        mode: 'systemd',
        start: { scope: 'system', appName: 'shop', runtimeDir: '/run/user/0', deployDir: '/root/apps/shop' },
        existing: { scope: 'system', appName: 'shop', runtimeDir: '/run/user/0', deployDir: '/root/apps/shop' },
      })
    }
  })

  it('another user with lingering: user units of its own manager', () => {
    const chosen = supervisionOf('auto', 'shop', host({ ...deployUser, linger: true }))
    expect(chosen.mode).toBe('systemd')
    expect(chosen.start).toEqual({ scope: 'user', appName: 'shop', runtimeDir: '/run/user/1000', deployDir: '/root/apps/shop' })
  })

  it('another user without lingering: systemd refuses naming the command, auto warns and starts detached', () => {
    const refused = supervisionOf('systemd', 'shop', host(deployUser))
    expect(refused.refusal).toContain('sudo loginctl enable-linger deploy')
    expect(refused.refusal).toContain('Nothing was stopped or started.')
    const auto = supervisionOf('auto', 'shop', host(deployUser))
    expect(auto.mode).toBe('none')
    expect(auto.start).toBeUndefined()
    expect(auto.warning).toContain('sudo loginctl enable-linger deploy')
    expect(auto.warning).toContain('will not come back after a crash or a reboot')
  })

  it('a host without systemd: systemd refuses, auto warns, none is silent', () => {
    const noSystemd = host({ systemd: false })
    expect(supervisionOf('systemd', 'shop', noSystemd).refusal).toContain('/run/systemd/system is absent')
    const auto = supervisionOf('auto', 'shop', noSystemd)
    expect(auto.mode).toBe('none')
    expect(auto.existing).toBeUndefined()
    expect(auto.warning).toContain('will not come back after a crash or a reboot')
    expect(supervisionOf('none', 'shop', noSystemd)).toEqual({ mode: 'none', existing: undefined })
  })

  it('none on a systemd host starts detached, but still retires the units a previous deploy left', () => {
    expect(supervisionOf('none', 'shop', host({}))).toEqual({
      mode: 'none',
      existing: { scope: 'system', appName: 'shop', runtimeDir: '/run/user/0', deployDir: '/root/apps/shop' },
    })
  })
})
