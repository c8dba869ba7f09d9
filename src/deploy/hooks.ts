/** The user's own steps at fixed points of a deploy: pre-start, pre-switch and post-switch. */
import { type DeployConfig, secretsOf } from '../config/inputs.js'
import { HOOK_EXIT, HOOK_LINE_PREFIX, hookScript } from '../remote/hooks.js'
import { RemoteCommandError } from '../ssh/transport.js'
import { type HostRun, StepError, awaitNginxHandover } from './steps.js'

export type HookName = 'pre-start' | 'pre-switch' | 'post-switch'

/** The hook's command line from the config ('' when the user set none). */
export function hookCommand(config: DeployConfig, name: HookName): string {
  return config.hooks[name]
}

/** What a failed hook left: said once in the error, by the step that ran it. */
export interface HookPoint {
  name: HookName
  /** The release the hook runs for (its directory is the working directory). */
  release: string
  fileName: string
  /** The new instance's port. */
  port: number
  previousPort: number | undefined
}

/** A hook failed or ran too long. `leaves` says what the run left on the host, once it is known. */
export class HookError extends StepError {
  constructor(
    step: string,
    readonly detail: string,
    readonly tail: string,
  ) {
    super(step, `${detail}${tail}`)
    this.name = 'HookError'
  }

  /** The same failure, saying what the run did about it (before the hook's output). */
  leaving(outcome: string): HookError {
    return new HookError(this.step, `${this.detail} ${outcome}`, this.tail)
  }
}

/** Masks every secret of the run in a line of a hook's output, as the runner would. */
export function maskLine(line: string, secrets: string[]): string {
  let masked = line
  for (const secret of secrets) if (secret.length >= 3) masked = masked.split(secret).join('***')
  return masked
}

/**
 * Runs a hook on the host if the user set one, streaming its output into the job log as it comes,
 * every secret masked. Throws a HookError naming the hook, its exit status and its last lines when
 * it fails or runs past hook-timeout (then ended with all its children).
 */
export async function runHook(run: HostRun, point: HookPoint): Promise<void> {
  const { config, remote, log, state } = run
  const secrets = secretsOf(config)
  const command = hookCommand(config, point.name)
  if (command === '') return
  const step = `${point.name}-command`
  await log.group(
    `Run ${step} (${point.name === 'pre-start' ? 'before the start' : point.name === 'pre-switch' ? 'before the switch' : 'after the switch'})`,
    async () => {
      let pending = ''
      const relay = (text: string) => {
        pending += text
        const lines = pending.split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) {
          if (line.startsWith(HOOK_LINE_PREFIX)) log.info(maskLine(line.slice(HOOK_LINE_PREFIX.length), secrets))
        }
      }
      try {
        const result = await remote.run(
          hookScript({
            deployDir: state.deployDir,
            release: point.release,
            fileName: point.fileName,
            appName: config.appName,
            javaOpts: config.javaOpts,
            name: point.name,
            command,
            port: point.port,
            previousPort: point.previousPort,
            runCommand: config.command,
            timeoutSeconds: config.hookTimeoutSeconds,
          }),
          { step, onStdout: relay },
        )
        relay('\n')
        log.info(`${step} succeeded (exit ${result.answer.facts.hook_status ?? 0}).`)
      } catch (error) {
        relay('\n')
        if (!(error instanceof RemoteCommandError)) throw error
        const { facts, sections } = error.result.answer
        const tail = sections.hook_tail ? `\nLast lines it printed:\n${maskLine(sections.hook_tail, secrets)}` : ''
        if (error.result.code === HOOK_EXIT.timedOut) {
          throw new HookError(
            step,
            `did not finish within hook-timeout (${config.hookTimeoutSeconds} s) and was ended with every process it started.`,
            tail,
          )
        }
        if (error.result.code === HOOK_EXIT.failed) {
          throw new HookError(step, `failed with exit status ${facts.hook_status ?? 'unknown'}.`, tail)
        }
        throw error
      }
    },
  )
}

/**
 * The post-switch hook, for a run that has just switched to `point.port`. If it fails, traffic goes
 * back to `previous` (whose instance is still warm: stop-previous comes later) and the new instance
 * is stopped after drain-seconds; the error says so. Without a previous port there is nothing to go
 * back to, and the error says that the new release still serves.
 */
export async function runPostSwitchHook(
  run: HostRun,
  point: HookPoint,
  previous: { port: number | undefined; release: string | undefined },
  /** stop: for an instance this run started; absent, the instance stays warm as it was before. */
  moves: { switchTo: (port: number, release: string | undefined) => Promise<void>; stop?: (port: number) => Promise<void> },
): Promise<void> {
  try {
    // The hook may check the public URL: every new request must reach the new port by then.
    if (hookCommand(run.config, point.name) !== '') await awaitNginxHandover(run)
    await runHook(run, point)
  } catch (error) {
    if (!(error instanceof HookError)) throw error
    if (previous.port === undefined) {
      throw error.leaving(`There was no previous port to go back to, so port ${point.port} (release ${point.release}) still serves.`)
    }
    run.log.warning(`post-switch-command failed: switching traffic back to port ${previous.port}.`)
    try {
      await moves.switchTo(previous.port, previous.release)
    } catch (back) {
      throw error.leaving(
        `Switching back to port ${previous.port} failed too (${(back as Error).message}); port ${point.port} still serves.`,
      )
    }
    run.report.rolledBack = true
    run.report.activePort = previous.port
    run.report.release = previous.release
    await moves.stop?.(point.port).catch(() => undefined)
    const left = moves.stop ? `the new instance on port ${point.port} was stopped` : `port ${point.port} stays warm as before`
    throw error.leaving(`Traffic went back to port ${previous.port} (release ${previous.release ?? 'unknown'}), and ${left}.`)
  }
}
