/**
 * A process this action did not start on the idle port (SPEC, step 6): it is stopped only when it
 * is this service, a JVM of a script-era deploy running a jar named like the artifact, and then
 * only while its pid still names the process that was judged. Anything else is never signalled.
 * The scripts run by a local `sh`; freeIdlePort's remote is played by local shells too.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { DeployConfig } from '../../../src/config/inputs.js'
import type { HostReport } from '../../../src/deploy/report.js'
import { type HostRun, StepError, freeIdlePort } from '../../../src/deploy/steps.js'
import { INSTANCE_EXIT, takeOverScript } from '../../../src/remote/instance.js'
import { RemoteCommandError, type RemoteHost } from '../../../src/ssh/transport.js'
import {
  cleanUpAfterAll,
  freePort,
  isRunning,
  listener,
  portIsFree,
  runScript,
  startTimeOf,
  tempDir,
  track,
  waitUntil,
} from './local-host.js'

cleanUpAfterAll()

/**
 * A listener whose command line reads like a JVM that an old deploy script started by hand:
 * `<dir>/java ... /opt/shop/<jar>` (node, under the name java).
 */
async function scriptEraJvm(port: number, jar: string, options: { ignoreTerm?: boolean; secret?: string } = {}): Promise<ChildProcess> {
  const dir = tempDir('zdd-jvm-')
  symlinkSync(process.execPath, join(dir, 'java'))
  const code = `${options.ignoreTerm ? "process.on('SIGTERM', () => {});" : ''}require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('ready'))`
  const args = ['-e', code, '--', ...(options.secret ? [`-Ddb.password=${options.secret}`] : []), '-jar', `/opt/shop/${jar}`]
  const child = spawn(join(dir, 'java'), args, { stdio: ['ignore', 'pipe', 'ignore'] })
  track(child.pid)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (exitCode) => reject(new Error(`the fake JVM on ${port} exited with ${exitCode}`)))
  })
  return child
}

describe.concurrent('takeOverScript, run by a local sh', { timeout: 30_000 }, () => {
  it('stops the judged process and confirms that the port is free', async () => {
    const port = await freePort()
    const jvm = await scriptEraJvm(port, 'shop-api-0.9.3.jar')
    const run = await runScript(takeOverScript({ port, pid: jvm.pid!, startTime: startTimeOf(jvm.pid!)!, stopTimeoutSeconds: 5 }))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toEqual({ port: 'free' })
    expect(await waitUntil(() => !isRunning(jvm.pid!))).toBe(true)
    expect(await portIsFree(port)).toBe(true)
  })

  it('kills it after stop-timeout when it ignores SIGTERM', async () => {
    const port = await freePort()
    const jvm = await scriptEraJvm(port, 'shop-api-0.9.3.jar', { ignoreTerm: true })
    const run = await runScript(takeOverScript({ port, pid: jvm.pid!, startTime: startTimeOf(jvm.pid!)!, stopTimeoutSeconds: 1 }))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toEqual({ taken_killed: String(jvm.pid), port: 'free' })
    expect(run.ms).toBeLessThan(8000)
  })

  it('signals nothing when the pid now names another process (another start time): the port is still held, by it', async () => {
    const port = await freePort()
    const other = await listener(port)
    // The judged process started earlier: the pid was reused since.
    const judgedStart = String(Number(startTimeOf(other.pid!)) - 100)
    const run = await runScript(takeOverScript({ port, pid: other.pid!, startTime: judgedStart, stopTimeoutSeconds: 1 }))
    expect(run.code, run.stdout).toBe(INSTANCE_EXIT.portBusy)
    expect(run.answer.facts).toMatchObject({ taken_gone: String(other.pid), holder_pid: String(other.pid), error: 'port_busy' })
    expect(isRunning(other.pid!)).toBe(true)
  })
})

/** The run's remote host, played by local shells: the scripts run for real, only SSH is left out. */
function localRemote(): RemoteHost {
  return {
    entry: { username: process.env.USER ?? 'root', label: 'local' },
    run: async (script: string, options: { step: string }) => {
      const result = await runScript(script)
      if (result.code !== 0) throw new RemoteCommandError(options.step, result)
      return result
    },
  } as unknown as RemoteHost
}

function hostRun(warnings: string[], javaOpts = ''): HostRun {
  const deployDir = tempDir()
  mkdirSync(join(deployDir, 'run'))
  return {
    config: {
      appName: 'shop',
      javaOpts,
      env: [],
      auth: {},
      ports: [8080, 8081],
      stopTimeoutSeconds: 2,
      supervisor: 'none',
    } as unknown as DeployConfig,
    remote: localRemote(),
    log: { info: () => undefined, warning: (m) => warnings.push(m), progress: () => undefined, group: (_t, work) => work() },
    report: {} as HostReport,
    state: { deployDir, units: [] } as unknown as HostRun['state'],
  }
}

describe.concurrent('freeIdlePort with a process this action did not start on the port', { timeout: 30_000 }, () => {
  it('another service: never signalled; the step fails naming its pid, its command and both ways out', async () => {
    const port = await freePort()
    const other = await listener(port)
    const warnings: string[] = []
    const error = await freeIdlePort(hostRun(warnings), port, 'shop-api-1.0.0.jar').catch((e: Error) => e)
    expect(error).toBeInstanceOf(StepError)
    const message = (error as Error).message
    expect(message).toMatch(
      new RegExp(`^stop idle: port ${port} is held by pid ${other.pid} \\(\\S*node -e .*\\), which this action did not start`),
    )
    expect(message).toContain('It was not signalled')
    expect(message).toContain('Stop that process on the host, or choose other ports (the ports input, now 8080,8081)')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(isRunning(other.pid!)).toBe(true)
    expect(warnings).toEqual([])
  })

  it('a JVM running a jar of another name is another service all the same', async () => {
    const port = await freePort()
    const other = await scriptEraJvm(port, 'jenkins.jar')
    const error = await freeIdlePort(hostRun([]), port, 'shop-api-1.0.0.jar').catch((e: Error) => e)
    expect((error as Error).message).toContain(`port ${port} is held by pid ${other.pid}`)
    expect(isRunning(other.pid!)).toBe(true)
  })

  it('a JVM of a script-era deploy (the same jar, another version): taken over, with a warning naming it, secrets shortened', async () => {
    const port = await freePort()
    const secret = 'Old-db-password-Xk29'
    const jvm = await scriptEraJvm(port, 'shop-api-0.9.3.jar', { secret })
    const warnings: string[] = []
    const freed = await freeIdlePort(hostRun(warnings), port, 'shop-api-1.0.0.jar')
    expect(freed).toEqual({ tookOver: true })
    expect(await waitUntil(() => !isRunning(jvm.pid!))).toBe(true)
    expect(await portIsFree(port)).toBe(true)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(
      new RegExp(
        `^Port ${port} was held by pid ${jvm.pid} \\(\\S*/java -e .* -- -Ddb\\.password=… -jar /opt/shop/shop-api-0\\.9\\.3\\.jar\\), .*taken over, it was stopped\\.`,
      ),
    )
    expect(warnings[0]).not.toContain(secret)
  })

  it('nothing there: the port is free, nothing taken over', async () => {
    const port = await freePort()
    const warnings: string[] = []
    expect(await freeIdlePort(hostRun(warnings), port, 'shop-api-1.0.0.jar')).toEqual({ tookOver: false })
    expect(warnings).toEqual([])
  })
})
