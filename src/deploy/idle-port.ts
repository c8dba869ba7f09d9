/**
 * Step 6, freeing the idle port: only a process this run starts may serve there, and only this
 * service is ever stopped to make room for it.
 */
import { secretsOf } from '../config/inputs.js'
import { redactCommandLine } from '../config/secrets.js'
import { INSTANCE_EXIT, PORT_HELD_EXIT, freePortScript, takeOverScript } from '../remote/instance.js'
import { RemoteCommandError, type RemoteResult } from '../ssh/transport.js'
import { warnStaleRecords } from './host-state.js'
import { runsJarLike } from './same-service.js'
import { STAGE_MARK } from './stage-mark.js'
import { StepError } from './step-error.js'
import type { HostRun } from './steps.js'
import { supervisionOf } from './supervision.js'

/**
 * Step 6: stops what runs on the idle port, so that only a process this run starts can serve there.
 * What is stopped must be this service: our instance (proven on the host), or, on a host moving
 * from a script-based deploy, a JVM running a jar named like `artifactFileName` (see
 * same-service.ts), which is taken over at the cost of one more round trip. Anything else there is
 * never signalled: the step fails, naming it. `tookOver` says that the port was taken over: the
 * host then skipped a start sent right behind this step (see sendStart).
 */
export async function freeIdlePort(run: HostRun, port: number, artifactFileName: string): Promise<{ tookOver: boolean }> {
  const { remote, config, state } = run
  let answer: RemoteResult['answer']
  try {
    answer = (
      await remote.run(
        freePortScript({
          deployDir: state.deployDir,
          port,
          stopTimeoutSeconds: config.stopTimeoutSeconds,
          unit: supervisionOf(config.supervisor, config.appName, state).existing,
        }),
        { step: 'stop idle', failureMark: STAGE_MARK },
      )
    ).answer
  } catch (error) {
    if (!(error instanceof RemoteCommandError)) throw error
    if (error.result.code === INSTANCE_EXIT.portBusy) throw portBusyError(run, port)
    if (error.result.code !== PORT_HELD_EXIT) throw error
    reportIdleInstance(run, port, error.result.answer)
    const holder = holderOf(run, error.result.answer)
    if (!runsJarLike(holder.commandLine, artifactFileName)) {
      throw new StepError(
        'stop idle',
        `port ${port} is held by pid ${holder.pid} (${holder.shown}), which this action did not start and which does not run ${artifactFileName} or another version of it. It was not signalled; nothing was started and nginx was not touched. Stop that process on the host, or choose other ports (the ports input, now ${config.ports.join(',')}).`,
      )
    }
    await takeOver(run, port, holder)
    return { tookOver: true }
  }
  reportIdleInstance(run, port, answer)
  return { tookOver: false }
}

interface PortHolder {
  pid: string
  startTime: string
  commandLine: string
  /** The command line fit for the log: secrets shortened, cut. */
  shown: string
}

function holderOf(run: HostRun, answer: RemoteResult['answer']): PortHolder {
  const commandLine = answer.facts.holder_command ?? ''
  // A JVM of an older deploy carries its -D secrets (perhaps no longer this run's) on its command line.
  const redacted = redactCommandLine(commandLine, secretsOf(run.config))
  const shown = redacted.length > 200 ? `${redacted.slice(0, 200)}…` : redacted
  return { pid: answer.facts.holder_pid ?? '', startTime: answer.facts.holder_start ?? '', commandLine, shown }
}

function reportIdleInstance(run: HostRun, port: number, { facts, lists }: RemoteResult['answer']): void {
  warnStaleRecords(run.log, lists.stale_pid, run.state)
  if (facts.unit_stopped) run.log.info(`Stopped and disabled ${facts.unit_stopped} on idle port ${port}.`)
  if (facts.idle_pid)
    run.log.info(
      `Stopped the previous instance on idle port ${port} (pid ${facts.idle_pid}${facts.killed ? ', killed after stop-timeout' : ''}).`,
    )
}

function portBusyError(run: HostRun, port: number, holder?: PortHolder): StepError {
  const who = holder?.pid ? `pid ${holder.pid} (${holder.shown})` : `a process user "${run.remote.entry.username}" cannot see or stop`
  return new StepError(
    'stop idle',
    `port ${port} is still in use by ${who} after stop-timeout. nginx was not touched. Stop it on the host, or choose other ports.`,
  )
}

/** A JVM of a script-era deploy holds the port: it is stopped, by the pid and start time the host named. */
async function takeOver(run: HostRun, port: number, holder: PortHolder): Promise<void> {
  const { remote, log, config } = run
  const pid = Number(holder.pid)
  try {
    const { facts } = (
      await remote.run(takeOverScript({ port, pid, startTime: holder.startTime, stopTimeoutSeconds: config.stopTimeoutSeconds }), {
        step: 'stop idle',
      })
    ).answer
    const how = facts.taken_gone
      ? 'it had ended meanwhile'
      : `it was stopped${facts.taken_killed ? ' with SIGKILL after stop-timeout' : ''}`
    log.warning(
      `Port ${port} was held by pid ${holder.pid} (${holder.shown}), a JVM of this service that this action did not start (a deploy from before it?): taken over, ${how}. From now on the action starts and tracks the service itself.`,
    )
  } catch (error) {
    if (!(error instanceof RemoteCommandError) || error.result.code !== INSTANCE_EXIT.portBusy) throw error
    if (error.result.answer.facts.error === 'not_permitted') {
      throw new StepError(
        'stop idle',
        `port ${port} is held by pid ${holder.pid} (${holder.shown}), a JVM of this service that this action did not start, and user "${remote.entry.username}" may not stop it. Nothing was started and nginx was not touched. Stop it on the host, or choose other ports.`,
      )
    }
    throw portBusyError(run, port, error.result.answer.facts.holder_pid ? holderOf(run, error.result.answer) : undefined)
  }
}
