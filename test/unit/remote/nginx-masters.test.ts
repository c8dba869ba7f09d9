/**
 * The switch on a host that runs more than one nginx master (a container's, another network
 * namespace's) whose command lines the reload command cannot tell apart: the reload is confirmed on
 * the master it signalled, and the others never delay or fail it.
 */
import type { ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderInclude } from '../../../src/deploy/plan.js'
import { SWITCH_EXIT, type SwitchParams, switchScript } from '../../../src/remote/nginx.js'
import { cleanUpAfterAll, freePort, runScript, tempDir, waitUntil } from './local-host.js'
import { NGINX, type PrivateNginx, TEMPLATE, startBackends, startPrivateNginx, switchAndHandOver, viaNginx } from './private-nginx.js'

cleanUpAfterAll()

describe.skipIf(!NGINX)('switchScript with two nginx masters that look alike', { timeout: 30_000 }, () => {
  let parent: string
  let ours: PrivateNginx
  let other: PrivateNginx
  let backends: number[]
  let backendProcesses: ChildProcess[] = []
  /** As in the run's session: the script has a private directory, and looks for workers during the test. */
  let env: NodeJS.ProcessEnv

  /** Both masters' command lines hold the parent directory: a hint that cannot tell them apart. */
  const params = (port: number, overrides: Partial<SwitchParams> = {}): SwitchParams => ({
    include: ours.include,
    content: renderInclude(TEMPLATE, port),
    testCommand: ours.testCommand,
    reloadCommand: ours.reloadCommand,
    masterHint: parent,
    verifyUrl: '',
    verifyTimeoutSeconds: 2,
    intervalSeconds: 0.1,
    reloadTimeoutSeconds: 5,
    releaseStateFile: '',
    ...overrides,
  })
  const servedPort = async () => Number((await viaNginx(ours.port)).split(' ').pop())
  const otherPort = (port: number) => (port === backends[0] ? backends[1] : backends[0])

  beforeAll(async () => {
    ;({ ports: backends, processes: backendProcesses } = await startBackends(2))
    parent = tempDir('zdd-masters-')
    env = { ...process.env, ZDD_TMP: tempDir('zdd-session-') }
    mkdirSync(join(parent, 'ours'))
    mkdirSync(join(parent, 'other'))
    ours = await startPrivateNginx(join(parent, 'ours'), backends[0])
    other = await startPrivateNginx(join(parent, 'other'), backends[0])
    const title = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'latin1')
    expect(title(ours.masterPid())).toContain(parent)
    expect(title(other.masterPid())).toContain(parent)
  })

  afterAll(() => {
    ours?.stop()
    other?.stop()
    for (const child of backendProcesses) child.kill('SIGKILL')
  })

  it('confirms the reload on the master it signalled, without waiting for the other', async () => {
    const otherWorkers = other.workers()
    const target = otherPort(await servedPort())
    const run = await switchAndHandOver(env, params(target))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ reload: 'observed', nginx_master: String(ours.masterPid()), switched: 'yes' })
    expect(run.ms).toBeLessThan(4000)
    expect(await viaNginx(ours.port)).toBe(`200 backend ${target}`)
    // The other master was left alone: same workers, still serving.
    expect(other.workers()).toEqual(otherWorkers)
    expect(await viaNginx(other.port)).toBe(`200 backend ${backends[0]}`)
  })

  it('a reload command that does not reload is still not taken, though another master is there', async () => {
    const before = readFileSync(ours.include)
    const served = await servedPort()
    const run = await runScript(switchScript(params(otherPort(served), { reloadCommand: 'true', reloadTimeoutSeconds: 1 })), { env })
    expect(run.code, run.stdout).toBe(SWITCH_EXIT.notTaken)
    expect(run.answer.facts).toMatchObject({ reload: 'not_taken', error: 'reload_not_taken' })
    expect(readFileSync(ours.include)).toEqual(before)
    expect(await servedPort()).toBe(served)
  })

  it('a reload command that signals the other master: confirmed on that one, the one the command signalled', async () => {
    const served = await servedPort()
    const run = await switchAndHandOver(env, params(otherPort(served), { reloadCommand: other.reloadCommand }))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts.nginx_master).toBe(String(other.masterPid()))
    // Ours was not signalled, so it still serves the old port; point its include back there.
    expect(await servedPort()).toBe(served)
    expect((await switchAndHandOver(env, params(served))).code).toBe(0)
  })

  it('a reload command that restarts nginx: the new master in place of the one that exited is the one watched', async () => {
    const served = await servedPort()
    const target = otherPort(served)
    const before = ours.masterPid()
    const pidFile = join(ours.dir, 'nginx.pid')
    const restart = `pid=$(cat ${pidFile}); kill -QUIT "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; ${NGINX} ${ours.args}`
    const run = await switchAndHandOver(env, params(target, { reloadCommand: restart }))
    expect(run.code, run.stdout).toBe(0)
    expect(ours.masterPid()).not.toBe(before)
    expect(run.answer.facts).toMatchObject({ reload: 'observed', nginx_master: String(ours.masterPid()) })
    expect(await viaNginx(ours.port)).toBe(`200 backend ${target}`)
  })

  it('verify-url failing: the old include is put back and nginx serves the old port again', async () => {
    const served = await servedPort()
    const deadPort = await freePort()
    const run = await runScript(switchScript(params(deadPort, { verifyUrl: `http://127.0.0.1:${ours.port}/`, verifyTimeoutSeconds: 1 })), {
      env,
    })
    expect(run.code, run.stdout).toBe(SWITCH_EXIT.verifyFailed)
    expect(run.answer.facts).toMatchObject({ verify: 'failed', verify_status: '502', rolled_back: 'yes' })
    expect(await servedPort()).toBe(served)
  })

  /**
   * Kills the other master's worker as soon as the reload command has signalled ours (nginx logs
   * each signal it sends): the other master starts a new worker while the switch watches.
   */
  async function crashOtherWorkerOnReload(): Promise<{ crashed: number; respawned: () => number[] }> {
    const log = join(ours.dir, 'logs', 'error.log')
    const signals = () => (existsSync(log) ? readFileSync(log, 'utf8').split('signal process started').length : 0)
    const before = signals()
    expect(await waitUntil(() => signals() > before, 5000)).toBe(true)
    const [crashed] = other.workers()
    process.kill(crashed, 'SIGKILL')
    return { crashed, respawned: () => other.workers().filter((pid) => pid !== crashed) }
  }

  it('the default form of reload command, run by the owner of the master: SIGHUP to the master its pid file names, and nothing else', async () => {
    const served = await servedPort()
    const oursBefore = ours.workers()
    const otherBefore = other.workers()
    const log = join(ours.dir, 'logs', 'error.log')
    const signalProcesses = () => (existsSync(log) ? readFileSync(log, 'utf8').split('signal process started').length : 0)
    const before = signalProcesses()
    const run = await switchAndHandOver(env, params(otherPort(served)))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ reload: 'observed', nginx_master: String(ours.masterPid()) })
    expect(run.answer.facts.old_workers?.trim().split(' ').map(Number)).toEqual(oursBefore)
    expect(await viaNginx(ours.port)).toBe(`200 backend ${otherPort(served)}`)
    // No \`nginx -s reload\` ran (it logs each signal it sends), and the other master was not signalled.
    expect(signalProcesses()).toBe(before)
    expect(other.workers()).toEqual(otherBefore)
  })

  // Through sudo the master is not the deploy user's to signal: the command runs, and the switch
  // watches while it does.
  it.skipIf(process.getuid?.() !== 0)(
    'the default form through sudo: a worker the other master respawns meanwhile is not taken for the reload',
    async () => {
      const served = await servedPort()
      const oursBefore = ours.workers()
      const switching = switchAndHandOver(env, params(otherPort(served), { reloadCommand: `sudo -n ${ours.reloadCommand}` }))
      const other_ = await crashOtherWorkerOnReload()
      const run = await switching
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ reload: 'observed', nginx_master: String(ours.masterPid()) })
      expect(run.answer.facts.old_workers?.trim().split(' ').map(Number)).toEqual(oursBefore)
      expect(await viaNginx(ours.port)).toBe(`200 backend ${otherPort(served)}`)
      expect(await waitUntil(() => other_.respawned().length > 0)).toBe(true)
    },
  )

  it.skipIf(process.getuid?.() !== 0)(
    'a reload that did not take is not confirmed by a worker the other master respawns meanwhile',
    async () => {
      const before = readFileSync(ours.include)
      const served = await servedPort()
      // A log nginx cannot open: \`nginx -s reload\` reads the configuration and signals, and the
      // master keeps its workers since it cannot apply it. (No test command: the reload must fail.)
      const content = `${renderInclude(TEMPLATE, otherPort(served))} access_log ${join(parent, 'no-such-dir', 'x.log')};`
      const switching = runScript(
        switchScript(
          params(otherPort(served), {
            content,
            testCommand: 'true',
            reloadCommand: `sudo -n ${ours.reloadCommand}`,
            reloadTimeoutSeconds: 2,
          }),
        ),
        { env },
      )
      const other_ = await crashOtherWorkerOnReload()
      const run = await switching
      expect(await waitUntil(() => other_.respawned().length > 0)).toBe(true)
      expect(run.code, run.stdout).toBe(SWITCH_EXIT.notTaken)
      expect(run.answer.facts).toMatchObject({ reload: 'not_taken', error: 'reload_not_taken' })
      expect(readFileSync(ours.include)).toEqual(before)
      expect(await servedPort()).toBe(served)
    },
  )

  it("`nginx -s reload` with nginx's built-in paths: the pid file is found through nginx -V and the configuration it names", async () => {
    // An nginx whose built-in prefix and configuration are ours (as /usr/sbin/nginx's are the
    // system's), and whose built-in pid path the configuration overrides.
    const bin = join(parent, 'bin')
    mkdirSync(bin, { recursive: true })
    const fake = join(bin, 'nginx')
    writeFileSync(
      fake,
      `#!/bin/sh
if [ "$1" = -V ]; then
  echo 'nginx version: nginx/1.22.1' >&2
  echo "configure arguments: --with-cc-opt='-g -O2' --prefix=${ours.dir} --conf-path=nginx.conf --pid-path=/nonexistent/nginx.pid" >&2
  exit 0
fi
exec ${NGINX} ${ours.args} "$@"
`,
    )
    chmodSync(fake, 0o755)
    const before = readFileSync(ours.include)
    const served = await servedPort()
    const content = `${renderInclude(TEMPLATE, otherPort(served))} access_log ${join(parent, 'no-such-dir', 'x.log')};`
    const switching = runScript(
      switchScript(
        params(otherPort(served), { content, testCommand: 'true', reloadCommand: `${fake} -s reload`, reloadTimeoutSeconds: 2 }),
      ),
      { env },
    )
    const other_ = await crashOtherWorkerOnReload()
    const run = await switching
    expect(await waitUntil(() => other_.respawned().length > 0)).toBe(true)
    expect(run.code, run.stdout).toBe(SWITCH_EXIT.notTaken)
    expect(readFileSync(ours.include)).toEqual(before)
    const good = await switchAndHandOver(env, params(otherPort(served), { reloadCommand: `${fake} -s reload` }))
    expect(good.answer.facts).toMatchObject({ reload: 'observed', nginx_master: String(ours.masterPid()) })
    expect(await servedPort()).toBe(otherPort(served))
  })
})
