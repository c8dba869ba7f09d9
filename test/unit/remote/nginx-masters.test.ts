/**
 * The switch on a host that runs more than one nginx master (a container's, another network
 * namespace's) whose command lines the reload command cannot tell apart: the reload is confirmed on
 * the master it signalled, and the others never delay or fail it.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderInclude } from '../../../src/deploy/plan.js'
import { SWITCH_EXIT, type SwitchParams, switchScript } from '../../../src/remote/nginx.js'
import { cleanUpAfterAll, freePort, runScript, tempDir } from './local-host.js'
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
})
