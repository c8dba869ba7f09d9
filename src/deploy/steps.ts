/**
 * Each step of a run on one host, as a named function. The sequences in deploy.ts, rollback.ts and
 * status.ts read as the SPEC's list of steps; the shell lives in src/remote.
 */
import { readFile } from 'node:fs/promises'
import type { Artifact } from '../artifact.js'
import type { DeployConfig } from '../config/inputs.js'
import type { Log } from '../log.js'
import { inspectScript } from '../remote/host.js'
import { INSTANCE_EXIT, probeScript, startScript, stopScript } from '../remote/instance.js'
import { handoverScript } from '../remote/nginx.js'
import { shellQuote } from '../remote/quote.js'
import { unitName } from '../remote/systemd.js'
import { INLINE_UPLOAD_MAX_BYTES, envFileText, finalizeReleaseScript, partialDir, pruneScript } from '../remote/release.js'
import { RemoteCommandError, type RemoteHost, type RemoteResult } from '../ssh/transport.js'
import { refuseDeploy } from './control.js'
import { describeSent, uploadByDelta } from './delta-upload.js'
import { type HostState, readHostState, warnStaleRecords } from './host-state.js'
import { releaseName, releasesToPrune } from './plan.js'
import { type HeldLock, takeLock } from './lock.js'
import { type HostReport, timed } from './report.js'
import { StepError } from './step-error.js'
import { supervisionOf } from './supervision.js'
import { NGINX_RELOAD_TIMEOUT_SECONDS } from './include-switch.js'
import { STAGE_MARK } from './stage-mark.js'

// The steps' callers take it from here; lock.ts takes it from step-error.js, so that lock and steps
// do not import each other.
export { StepError }

export interface HostRun {
  config: DeployConfig
  remote: RemoteHost
  log: Log
  report: HostReport
  state: HostState
  /** nginx workers the last switch replaced, until they take no new connection (see awaitNginxHandover). */
  nginxOldWorkers?: string
}

/** Step 4 (and the first look of every command): the host's tools, releases, instances and include. */
export async function inspectHost(
  remote: RemoteHost,
  config: DeployConfig,
  log: Log,
  prepare: boolean,
  { onlyIfPreviousSucceeded = false } = {},
): Promise<HostState> {
  const script = inspectScript({
    deployDir: config.deployDir,
    include: config.nginx.include,
    ports: config.ports,
    prepare,
    // A deploy (the one that prepares) frees the idle port itself; a plan or a status says what listens.
    checkListeners: !prepare,
    needJava: /^\s*(exec\s+)?java\s/.test(config.startCommand),
    appName: config.appName,
  })
  const result = await remote.run(script, { step: 'inspect', onlyIfPreviousSucceeded })
  warnStaleRecords(log, result.answer.lists.stale_pid)
  return readHostState(result.answer)
}

/**
 * Steps 3 and 4 for the commands that change the host: the lock, then a look at the host under it.
 * Inspect is sent right behind the lock script and runs only once the lock is held, so the second
 * costs no round trip of its own. On failure nothing is held.
 */
export async function lockAndInspect(
  remote: RemoteHost,
  config: DeployConfig,
  report: HostReport,
  log: Log,
): Promise<{ lock: HeldLock; state: HostState }> {
  const locking = timed(report, 'lock', () => takeLock(remote, config, log))
  const inspecting = inspectHost(remote, config, log, true, { onlyIfPreviousSucceeded: true })
  inspecting.catch(() => undefined)
  const lock = await locking
  try {
    const state = await timed(report, 'inspect', () => inspecting)
    if (config.command === 'deploy') refuseDeploy(state, config, remote.entry.label)
    return { lock, state }
  } catch (error) {
    await lock.release()
    throw error
  }
}

/**
 * A command that changes the host (rollback, promote, maintenance, live), run under the host's
 * lock from the inspection on; the lock is let go whatever happens.
 */
export async function underLock(
  remote: RemoteHost,
  config: DeployConfig,
  report: HostReport,
  log: Log,
  command: (run: HostRun) => Promise<void>,
): Promise<void> {
  const { lock, state } = await lockAndInspect(remote, config, report, log)
  try {
    await command({ config, remote, log, report, state })
  } finally {
    await lock.release()
  }
}

/** Refuses, before anything is stopped or switched, a host that lacks what the deploy needs. */
export function checkHostReady(state: HostState, remote: RemoteHost, artifact?: Artifact): void {
  const user = remote.entry.username
  if (state.http === 'none') {
    throw new StepError(
      'inspect',
      'the host has neither curl nor wget, and the health check needs one. Install curl on the host (e.g. "apt-get install curl" or "dnf install curl").',
    )
  }
  if (state.javaFound === false) {
    throw new StepError(
      'inspect',
      `"java" is not on the PATH of user "${user}" on the host, and start-command runs java. Install a JRE, or set start-command to the full path of java.`,
    )
  }
  if (state.writable === false) {
    throw new StepError(
      'inspect',
      `deploy-dir "${state.deployDir}" is not writable by user "${user}". Give that user write access, or choose another deploy-dir.`,
    )
  }
  const reused = artifact && state.releases.some((r) => r.sha256 === artifact.sha256)
  if (artifact && !reused && state.freeBytes !== undefined && state.freeBytes < artifact.size + 16 * 1024 * 1024) {
    const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`
    throw new StepError(
      'inspect',
      `not enough disk space in deploy-dir "${state.deployDir}": ${mb(state.freeBytes)} free, the artifact needs ${mb(artifact.size)} plus 16 MB of room. Free some space or lower keep-releases.`,
    )
  }
}

/**
 * Refuses, before anything is stopped, a host where `supervisor: systemd` cannot work; warns when
 * `auto` has to start the service detached.
 */
export function checkSupervision(run: HostRun): void {
  const supervision = supervisionOf(run.config.supervisor, run.config.appName, run.state)
  if (supervision.refusal) throw new StepError('inspect', supervision.refusal)
  if (supervision.warning) run.log.warning(supervision.warning)
}

function supervision(run: HostRun) {
  return supervisionOf(run.config.supervisor, run.config.appName, run.state)
}

/** A small jar's base64 text, read once a run however many hosts it goes to. */
const inlineTexts = new WeakMap<Artifact, Promise<string>>()
function inlineText(artifact: Artifact): Promise<string> {
  let text = inlineTexts.get(artifact)
  if (!text) {
    text = readFile(artifact.path).then((bytes) => bytes.toString('base64'))
    inlineTexts.set(artifact, text)
  }
  return text
}

/**
 * Step 5: puts the artifact in a release directory, or reuses a release with the same sha256.
 * `onChecking` is called with the release's name as soon as the script that checks it is sent.
 */
export async function uploadRelease(
  run: HostRun,
  artifact: Artifact,
  onChecking?: (release: string) => void,
): Promise<{ release: string; uploadedBytes: number }> {
  const { remote, state, log, config } = run
  const existing = state.releases.find((r) => r.sha256 === artifact.sha256 && r.fileName === artifact.fileName)
  const release = existing?.name ?? releaseName(artifact.sha256, new Date())
  // Only the chunks the kept releases lack, when that pays; the whole jar otherwise, or if the delta fails.
  const delta = existing
    ? {}
    : await uploadByDelta({ remote, log, deployDir: state.deployDir, release, artifact, releases: state.releases, inline: state.base64 })
  const manifestText = delta.manifestText
  // A small jar sent whole travels inside the finalize script, as a small delta does inside its own.
  const inlineBase64 =
    !existing && delta.sentBytes === undefined && state.base64 && artifact.size <= INLINE_UPLOAD_MAX_BYTES
      ? await inlineText(artifact)
      : undefined
  if (existing) {
    log.info(`Release ${release} already holds this artifact (sha256 ${artifact.sha256.slice(0, 12)}); nothing to upload.`)
  } else if (inlineBase64 !== undefined) {
    log.info(describeSent(artifact.size, artifact.size, 'the whole jar, inside the script that checks it'))
  } else if (delta.sentBytes === undefined) {
    const target = `${partialDir(state.deployDir, release)}/${artifact.fileName}`
    await remote.makeDirectory(partialDir(state.deployDir, release))
    let reported = 0
    await remote.upload(artifact.path, target, (sent, total) => {
      if (sent - reported >= 8 * 1024 * 1024 || sent === total) {
        reported = sent
        log.info(`uploaded ${Math.round(sent / 1024)} of ${Math.round(total / 1024)} KiB`)
      }
    })
    log.info(describeSent(artifact.size, artifact.size, 'the whole jar'))
  }
  const checking = remote.run(
    finalizeReleaseScript({
      deployDir: state.deployDir,
      release,
      fileName: artifact.fileName,
      sha256: artifact.sha256,
      uploaded: !existing,
      envText: envFileText(config.env, shellQuote),
      manifestText,
      inlineBase64,
    }),
    { step: 'upload', failureMark: STAGE_MARK },
  )
  onChecking?.(release)
  try {
    await checking
  } catch (error) {
    if (error instanceof RemoteCommandError && error.result.answer.facts.error === 'sha256_mismatch') {
      throw new StepError(
        'upload',
        `the uploaded file's sha256 on the host (${error.result.answer.facts.remote_sha256}) differs from the artifact's (${artifact.sha256}); the partial upload was removed. Run the deploy again.`,
      )
    }
    throw error
  }
  // Counted as it crossed the wire, the chunk list (sent with the finalize script) included.
  const fullBytes = (inlineBase64?.length ?? artifact.size) + Buffer.byteLength(manifestText ?? '')
  return { release, uploadedBytes: existing ? 0 : (delta.sentBytes ?? fullBytes) }
}

/**
 * Sends steps 7 and 8 (start the release on the port, wait until it is healthy) to the host. Sent
 * `pipelined`, before the answers of freeing the port and of the upload's check came back, the host
 * skips it if either failed there; sent after both answers, it always runs, as after a takeover
 * (whose first script did fail on the host). Its answer is read by `startAndCheckHealth`.
 */
export function sendStart(
  run: HostRun,
  port: number,
  release: string,
  fileName: string,
  { pipelined = false } = {},
): Promise<RemoteResult> {
  const { remote, config, state } = run
  return remote.run(
    startScript({
      deployDir: state.deployDir,
      port,
      release,
      fileName,
      appName: config.appName,
      javaOpts: config.javaOpts,
      startCommand: config.startCommand,
      healthUrl: `http://127.0.0.1:${port}${config.health.path}`,
      healthExpect: config.health.expect,
      healthTimeoutSeconds: config.health.timeoutSeconds,
      healthIntervalSeconds: config.health.intervalSeconds,
      stopTimeoutSeconds: config.stopTimeoutSeconds,
      startedAt: new Date(),
      unit: supervision(run).start,
    }),
    { step: 'start', skipIfFailed: pipelined ? STAGE_MARK : undefined },
  )
}

/** Steps 7 and 8: starts the release on the port, detached (unless `sent` already did), and waits until it is healthy. */
export async function startAndCheckHealth(
  run: HostRun,
  port: number,
  release: string,
  fileName: string,
  sent?: Promise<RemoteResult>,
): Promise<void> {
  const { config, state } = run
  const healthUrl = `http://127.0.0.1:${port}${config.health.path}`
  const unit = supervision(run).start
  try {
    const result = await (sent ?? sendStart(run, port, release, fileName))
    const { facts } = result.answer
    run.log.info(
      `Release ${release} is healthy on port ${port} (pid ${facts.pid}${facts.unit ? `, systemd unit ${facts.unit}, enabled` : ''}).`,
    )
  } catch (error) {
    if (!(error instanceof RemoteCommandError)) throw error
    const { facts, sections } = error.result.answer
    const tail = sections.log ? `\nLast lines of ${state.deployDir}/logs/${port}.log:\n${sections.log}` : ''
    if (unit && (facts.health === 'unit_start' || facts.health === 'unit_setup')) {
      const output = (error.result.answer.lists.unit_error ?? []).join('\n')
      const what = facts.health === 'unit_setup' ? 'write the launcher, settings or unit file for' : 'enable and start'
      throw new StepError(
        'start',
        `could not ${what} systemd unit ${unitName(config.appName, port)} (release ${release}); nothing was switched and nginx still serves the old version. Set supervisor: none to start it detached instead.${output ? `\n${output}` : ''}`,
      )
    }
    if (error.result.code === INSTANCE_EXIT.exited) {
      throw new StepError(
        'start',
        `release ${release} exited on port ${port} before it answered its health check; it never received traffic and nginx still serves the old version.${tail}`,
      )
    }
    if (error.result.code === INSTANCE_EXIT.notOurs) {
      const holder = facts.holder_pid ? ` (pid ${facts.holder_pid}${facts.holder_program ? `, ${facts.holder_program}` : ''})` : ''
      throw new StepError(
        'health check',
        `${healthUrl} answered 2xx, but a process not started by this run holds port ${port}${holder}; release ${release} (pid ${facts.pid}) does not listen there. nginx was not pointed at it: the new instance was stopped and nginx still serves the old version. Find what starts that process on the host (an old service with Restart=always?), stop it, and deploy again.${tail}`,
      )
    }
    if (error.result.code === INSTANCE_EXIT.unhealthy) {
      const expect = config.health.expect ? ` containing "${config.health.expect}"` : ''
      throw new StepError(
        'health check',
        `${healthUrl} did not answer 2xx${expect} within health-timeout (${config.health.timeoutSeconds} s); last answer: ${facts.last_status === '000' ? 'no connection' : `HTTP ${facts.last_status}`}. The new instance was stopped; nginx still serves the old version.${tail}`,
      )
    }
    throw error
  }
}

// Step 9, with what maintenance changes about it.
export { switchTraffic } from './port-switch.js'
export { freeIdlePort } from './idle-port.js'

/**
 * A switch returns once nginx runs its new workers; the old ones may take new connections for
 * nginx's 100 ms hand-over more. Anything that stops the port they served, runs the user's
 * post-switch check, or lets go of the host first waits for them here.
 */
export async function awaitNginxHandover(run: HostRun): Promise<void> {
  const oldWorkers = run.nginxOldWorkers
  if (!oldWorkers) return
  run.nginxOldWorkers = undefined
  const result = await run.remote.run(handoverScript(oldWorkers, NGINX_RELOAD_TIMEOUT_SECONDS), { step: 'switch' })
  if (result.answer.facts.handover === 'late')
    run.log.warning(
      `nginx's old workers (pids ${oldWorkers}) still took new connections ${NGINX_RELOAD_TIMEOUT_SECONDS} s after the reload.`,
    )
}

/** Stops the instance on `port` (after draining when asked); used for stop-previous and for cleanup after a failure. */
export async function stopInstance(run: HostRun, port: number, drainSeconds: number): Promise<void> {
  const { remote, config, state, log } = run
  await awaitNginxHandover(run)
  const result = await remote.run(
    stopScript({
      deployDir: state.deployDir,
      port,
      drainSeconds,
      stopTimeoutSeconds: config.stopTimeoutSeconds,
      unit: supervision(run).existing,
    }),
    { step: 'stop' },
  )
  warnStaleRecords(log, result.answer.lists.stale_pid, state)
}

/** Step 11: removes releases beyond keep-releases, never one that runs, nor the rollback target. */
export async function pruneReleases(run: HostRun, current: string, running: string[]): Promise<string[]> {
  const { remote, config, state } = run
  const known = state.releases.some((r) => r.name === current)
    ? state.releases
    : [...state.releases, { name: current, sha256: '', fileName: '' }]
  const doomed = releasesToPrune(known, config.keepReleases, running, current)
  if (doomed.length === 0) return []
  const result = await remote.run(pruneScript({ deployDir: state.deployDir, releases: doomed }), { step: 'cleanup' })
  return result.answer.lists.pruned ?? []
}

/** Whether the instance on `port` answers its health check right now. */
export async function answersHealth(run: HostRun, port: number): Promise<boolean> {
  return (await timed(run.report, 'probe', () => probeHealth(run, [port]))).get(port) === true
}

/** One health probe of each port, for status and rollback. */
export async function probeHealth(run: HostRun, ports: number[]): Promise<Map<number, boolean>> {
  const { remote, config } = run
  const result = await remote.run(probeScript({ ports, healthPath: config.health.path, healthExpect: config.health.expect }), {
    step: 'probe',
  })
  const health = new Map<number, boolean>()
  for (const line of result.answer.lists.probe ?? []) {
    const [port, , verdict] = line.split(' ')
    health.set(Number(port), verdict === 'ok')
  }
  return health
}
