// The soak: many deploys under traffic, each cut off at a random moment (SIGKILL of the action, or
// a network that goes silent), some racing a second deploy, each followed by a deploy that must
// succeed. After every round: nginx serves the follow-up's release, at most two instances of the
// service run, no partial upload is left, no lock outlives its lease. At the end `rollback` works,
// and not one request through nginx has failed. Shared by `npm run soak` and the e2e suite.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createLab, namespaceSupport } from './netns.mjs'
import { runAction } from './run-action.mjs'
import { buildSampleJar } from './sample.mjs'
import { appInstances, cutConnection, describeInstance, lockState, partialUploads, seededRandom, watchLock } from './soak-host.mjs'
import { get, startTarget } from './target.mjs'
import { startTraffic } from './traffic.mjs'

/** LEASE_SECONDS of src/remote/lock.ts: no lock may stay unrenewed for longer. */
export const LEASE_SECONDS = 60
const MAX_INSTANCES = 2
/**
 * How long past its lease a silent lock may be seen while a run waits for it: the waiter looks five
 * times a second, then ends the silent run's shell (SIGTERM, SIGKILL 5 s later) before taking over.
 */
const TAKEOVER_GRACE_SECONDS = 15

/**
 * @typedef {'time' | 'upload' | 'start' | 'switch'} Anchor
 * @typedef {{ index: number, kind: 'kill' | 'cut', anchor: Anchor, cutAtMs: number, raceAtMs?: number,
 *   startDelayMs: number, delayBeforeJvm: boolean, padBytes: number }} RoundPlan
 * @typedef {{ plan: RoundPlan, cut: string, cutRun: string, racer?: string, followUp: string,
 *   seconds: number, instances: number, lockSilentMax: number, violations: string[], notes: string[] }} RoundResult
 * @typedef {{ seed: number, rounds: RoundResult[], violations: string[], network: string,
 *   traffic: { total: number, failed: number, failures: unknown[] }, rollback: string, seconds: number }} SoakResult
 */

/**
 * The rounds a seed gives: a share of them cut the network (none without namespaces), about a
 * third race a second deploy. The moment of the cut: in 40 % of the rounds a fraction of a plain
 * deploy's duration (`baseMs`, plus up to 8 s of the release's start delay) after the run starts;
 * in the others, a few milliseconds to 0.4 s after a step has begun (the upload, the start of the
 * release, the switch: the racer's, when it holds the lock first), where the windows are narrow.
 * @param {{ seed: number, rounds: number, cutShare: number, canCut: boolean, baseMs: number }} options
 * @returns {RoundPlan[]}
 */
export function planRounds({ seed, rounds, cutShare, canCut, baseMs }) {
  const random = seededRandom(seed)
  const cuts = canCut ? Math.max(1, Math.round(rounds * cutShare)) : 0
  // Which rounds cut the network: the first `cuts` of a seeded shuffle.
  const order = Array.from({ length: rounds }, (_, i) => i)
  for (let i = rounds - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  const cutRounds = new Set(order.slice(0, cuts))
  return Array.from({ length: rounds }, (_, i) => {
    const race = random() < 0.35
    const raceAt = random()
    // Some releases start slowly, as a real service does: the cut then often lands in the health wait.
    const kind = cutRounds.has(i) ? 'cut' : 'kill'
    const slow = random() < 0.5
    // A release that takes longer to start than the lease: a silent run's shell is then ended in its
    // health wait while the JVM is still starting, and the follow-up must stop that JVM. Only where
    // the follow-up waits out the lease anyway: a killed run's shell goes on with its health wait.
    const startDelayMs =
      kind === 'cut' && slow ? 90_000 + Math.floor(random() * 30_000) : random() < 0.5 ? 0 : 1000 + Math.floor(random() * 7000)
    // The wait is in the JVM (a slow context start) or in the start command before the JVM exists
    // (`sleep; exec java`, a wrapper script): a cut run then leaves a shell, not yet a JVM.
    const delayBeforeJvm = random() < 0.5
    const pick = random()
    /** @type {Anchor} */
    // The start, where instances are made, gets the largest share of the aimed cuts.
    const anchor = pick < 0.4 ? 'time' : pick < 0.55 ? 'upload' : pick < 0.85 ? 'start' : 'switch'
    // An upload to watch must take more than an instant, even on loopback.
    const padBytes = anchor === 'upload' || random() < 0.2 ? (8 + Math.floor(random() * 24)) * 1024 * 1024 : 0
    const cutAt = random()
    return {
      index: i + 1,
      kind,
      anchor,
      // After a step begins, most cuts come within tens of milliseconds (cutAt squared).
      cutAtMs:
        anchor === 'time'
          ? Math.round(cutAt * 1.1 * (baseMs + Math.min(startDelayMs, 8000)))
          : Math.round(cutAt * cutAt * (anchor === 'switch' ? 150 : 400)),
      ...(race ? { raceAtMs: Math.round(raceAt * baseMs) } : {}),
      startDelayMs,
      delayBeforeJvm,
      padBytes,
    }
  })
}

/** The first line nginx answers with, on a fresh connection. */
async function served(/** @type {any} */ target) {
  const response = await get(`${target.url}/`).catch((/** @type {Error} */ err) => ({ status: 0, body: err.message }))
  return `${response.status} ${String(response.body).split('\n')[0]}`
}

/**
 * What nginx serves once the host has settled: a run killed during its switch leaves the switch
 * script running on the host for a few more milliseconds, and it may still reload nginx after a
 * first look. Asked until two answers 250 ms apart agree (at most 3 s).
 */
async function settledServed(/** @type {any} */ target) {
  let last = await served(target)
  for (let tries = 0; tries < 12; tries++) {
    await sleep(250)
    const now = await served(target)
    if (now === last) return now
    last = now
  }
  return last
}

/** @param {{ code: number | null, stdout: string }} run */
const lastError = (run) =>
  run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .pop()
    ?.slice(0, 300) ?? ''

/** @param {{ code: number | null, stdout: string, stderr: string }} run */
const tail = (run) => `exit ${run.code}\n${run.stdout.split('\n').slice(-25).join('\n')}\n${run.stderr.split('\n').slice(-10).join('\n')}`

/**
 * Runs the soak. Never throws for a finding: every broken promise of a round is a violation in
 * the result, which names the round, the seed and what was seen.
 * @param {{ seed: number, rounds: number, cutShare?: number, stopOnViolation?: boolean,
 *   log?: (line: string) => void }} options
 * @returns {Promise<SoakResult>}
 */
export async function runSoak({ seed, rounds, cutShare = 0.2, stopOnViolation = false, log = console.log }) {
  const began = Date.now()
  const support = await namespaceSupport()
  /** @type {any} */
  let lab
  /** @type {any} */
  let target
  /** @type {any} */
  let traffic
  /** @type {string[]} */
  const workspaces = []
  const replay = `ZDD_SOAK_SEED=${seed} ZDD_SOAK_ROUNDS=${rounds}`
  log(`soak: seed ${seed}, ${rounds} rounds (replay with ${replay})`)
  try {
    let hostNs = ''
    if (support.ok) {
      lab = await createLab()
      const segment = await lab.segment('soak')
      await lab.attachRunner(segment)
      hostNs = await lab.namespace('host')
      const address = await lab.attach(hostNs, segment, 10)
      target = await startTarget({ netns: hostNs, listenAddress: address })
    } else {
      log(`soak: no network cuts (${support.reason}); every round kills the action instead`)
      target = await startTarget()
    }
    const network = support.ok ? 'network namespace' : `loopback (no network cuts: ${support.reason})`

    const workspaceFor = async (/** @type {string} */ version, padBytes = 0) => {
      const workspace = await mkdtemp(path.join(os.tmpdir(), 'zdd-soak-ws-'))
      workspaces.push(workspace)
      await mkdir(path.join(workspace, 'build', 'libs'), { recursive: true })
      await buildSampleJar({ outDir: path.join(workspace, 'build', 'libs'), version, fileName: `sample-${version}.jar`, padBytes })
      return workspace
    }
    const inputs = (/** @type {Record<string, string>} */ extra = {}) => ({
      host: target.host,
      port: target.sshPort,
      username: target.user,
      'private-key': target.privateKey,
      'known-hosts': target.knownHosts,
      artifact: 'build/libs/*.jar',
      'app-name': 'sample',
      'deploy-dir': target.deployDir,
      ports: target.appPorts.join(','),
      'nginx-include': target.includePath,
      'nginx-test-command': target.nginxTestCommand,
      'nginx-reload-command': target.nginxReloadCommand,
      'health-interval': '0.1',
      'health-timeout': '30',
      'stop-timeout': '5',
      ...extra,
    })
    const deploy = async (/** @type {string} */ version, /** @type {Record<string, string>} */ extra = {}) =>
      runAction({ inputs: inputs(extra), workspace: await workspaceFor(version), timeoutMs: 600_000 })

    const first = await deploy('0')
    if (first.code !== 0) throw new Error(`soak: the first deploy failed\n${tail(first)}`)
    const baseMs = first.durationMs
    const plan = planRounds({ seed, rounds, cutShare, canCut: support.ok, baseMs })
    log(`soak: a plain deploy takes ${(baseMs / 1000).toFixed(1)} s; ${plan.filter((p) => p.kind === 'cut').length} network cuts, ${plan.filter((p) => p.raceAtMs !== undefined).length} races`)

    traffic = startTraffic({ url: target.url, concurrency: 2, pauseMs: 10, maxDurationMs: 3_600_000 })
    /** @type {RoundResult[]} */
    const results = []
    /** @type {string[]} */
    const violations = []
    let servedBeforeLast = ''
    for (const round of plan) {
      const result = await playRound({ round, target, hostNs, deploy, workspaceFor, inputs, seed, replay })
      servedBeforeLast = result.servedBefore
      const { servedBefore: _, ...kept } = result
      results.push(kept)
      violations.push(...kept.violations)
      log(summaryLine(kept))
      for (const v of kept.violations) log(`  VIOLATION ${v}`)
      for (const n of kept.notes) log(`  note: ${n}`)
      if (stopOnViolation && kept.violations.length > 0) break
    }

    // Rollback goes back to what served before the last follow-up, warm on the other port.
    const back = await deploy('unused', { command: 'rollback' })
    const afterRollback = await served(target)
    let rollback = `exit ${back.code}, serves ${afterRollback}`
    if (back.code !== 0) violations.push(`rollback (seed ${seed}, ${replay}): failed\n${tail(back)}`)
    else if (results.length === plan.length && afterRollback !== servedBeforeLast) {
      violations.push(`rollback (seed ${seed}, ${replay}): nginx serves "${afterRollback}", expected "${servedBeforeLast}" (what served before the last follow-up)`)
    }
    const instancesAfter = await appInstances(target.deployDir)
    if (instancesAfter.length > MAX_INSTANCES) {
      violations.push(`rollback (seed ${seed}, ${replay}): ${instancesAfter.length} instances run:\n${instancesAfter.map(describeInstance).join('\n')}`)
    }
    rollback += `, ${instancesAfter.length} instances`

    const stats = await traffic.stop()
    traffic = undefined
    if (stats.failed > 0) violations.push(`traffic (seed ${seed}, ${replay}): ${stats.failed} of ${stats.total} requests through nginx failed: ${JSON.stringify(stats.failures.slice(0, 10))}`)
    return {
      seed,
      rounds: results,
      violations,
      network,
      traffic: { total: stats.total, failed: stats.failed, failures: stats.failures },
      rollback,
      seconds: Math.round((Date.now() - began) / 1000),
    }
  } finally {
    await traffic?.stop()
    await target?.stop()
    await lab?.destroy()
    await Promise.all(workspaces.map((w) => rm(w, { recursive: true, force: true })))
  }
}

/**
 * One round: the cut run (and maybe a racer), then the follow-up, then the checks.
 * @param {{ round: RoundPlan, target: any, hostNs: string, seed: number, replay: string,
 *   deploy: (version: string, extra?: Record<string, string>) => Promise<any>,
 *   workspaceFor: (version: string, padBytes?: number) => Promise<string>,
 *   inputs: (extra?: Record<string, string>) => Record<string, string | number> }} context
 * @returns {Promise<RoundResult & { servedBefore: string }>}
 */
async function playRound({ round, target, hostNs, deploy, workspaceFor, inputs, seed, replay }) {
  const began = Date.now()
  const { index } = round
  /** @type {string[]} */
  const violations = []
  /** @type {string[]} */
  const notes = []
  const where = `round ${index} (seed ${seed}, replay: ${replay})`
  const cutVersion = `${index}a`
  const workspace = await workspaceFor(cutVersion, round.padBytes)
  const include = await readFile(target.includePath, 'utf8')
  const idle = include.includes(`:${target.appPorts[0]};`) ? target.appPorts[1] : target.appPorts[0]
  const idleLog = path.join(target.deployDir, 'logs', `${idle}.log`)
  const startsBefore = await startsIn(idleLog)

  const lockWatch = watchLock(target.deployDir)
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child
  let exited = false
  const cutRun = runAction({
    inputs: inputs(slowStart(round)),
    workspace,
    timeoutMs: 600_000,
    onSpawn: (/** @type {import('node:child_process').ChildProcess} */ c) => {
      child = c
      c.once('exit', () => (exited = true))
    },
  })
  const racer = round.raceAtMs === undefined ? undefined : sleep(round.raceAtMs).then(() => deploy(`${index}b`))

  const anchored = round.anchor === 'time' || (await stepBegun(round.anchor, { target, idleLog, startsBefore, include, ended: () => exited }))
  await sleep(round.cutAtMs)
  /** @type {(() => Promise<void>) | undefined} */
  let restore
  let cut = `${round.kind} ${round.cutAtMs} ms after ${round.anchor === 'time' ? 'the run started' : `the ${round.anchor} began`}`
  if (!anchored) {
    cut += ': missed, the run ended before that step'
  } else if (exited || !child?.pid) {
    cut += ': missed, the run had ended'
  } else if (round.kind === 'kill') {
    child.kill('SIGKILL')
  } else {
    restore = await cutConnection({ pid: child.pid, hostNs, host: target.host, sshPort: target.sshPort, gaveUp: () => exited })
    if (!restore) cut += ': missed, the run ended before it connected'
  }
  try {
    const cutResult = await cutRun
    const cutOutcome = cutResult.code === null ? 'killed' : `exit ${cutResult.code}${cutResult.code === 0 ? '' : `: ${lastError(cutResult)}`}`
    let racerOutcome
    if (racer) {
      const r = await racer
      racerOutcome = `exit ${r.code}`
      if (r.code !== 0) notes.push(`the racing deploy failed: ${lastError(r) || tail(r)}`)
    }
    const servedBefore = await settledServed(target)

    const followVersion = `${index}f`
    const follow = await deploy(followVersion)
    if (follow.code !== 0) violations.push(`${where}: the follow-up deploy failed\n${tail(follow)}`)
    const now = await served(target)
    if (!now.startsWith(`200 version=${followVersion} `)) violations.push(`${where}: nginx serves "${now}", not the follow-up's version ${followVersion}`)

    const instances = await appInstances(target.deployDir)
    if (instances.length > MAX_INSTANCES) {
      violations.push(`${where}: ${instances.length} instances of the service run after the follow-up (at most ${MAX_INSTANCES}):\n${instances.map(describeInstance).join('\n')}`)
      await reapStrays(target.deployDir, instances, notes)
    }
    const partials = await partialUploads(target.deployDir)
    if (partials.length > 0) violations.push(`${where}: partial uploads left in releases/: ${partials.join(', ')}`)
    const silent = await lockWatch.stop()
    if (silent.silentSeconds > LEASE_SECONDS + TAKEOVER_GRACE_SECONDS) {
      violations.push(`${where}: while runs waited, the lock (holder ${silent.holder}) went ${silent.silentSeconds} s without a renewal: its lease is ${LEASE_SECONDS} s`)
    }
    const lock = await lockState(target.deployDir)
    if (lock.held && lock.silentSeconds > LEASE_SECONDS) {
      violations.push(`${where}: the lock (holder ${lock.holder}) has not been renewed for ${lock.silentSeconds} s, longer than its ${LEASE_SECONDS} s lease`)
    } else if (lock.held) {
      notes.push(`the lock is still held after every run ended (holder ${lock.holder}, renewed ${lock.silentSeconds} s ago)`)
    }
    return {
      plan: round,
      cut,
      cutRun: cutOutcome,
      ...(racerOutcome ? { racer: racerOutcome } : {}),
      followUp: `exit ${follow.code} in ${(follow.durationMs / 1000).toFixed(1)} s${/Took over a stale deploy lock/.test(follow.stdout) ? ' (took over the lock)' : ''}`,
      seconds: Math.round((Date.now() - began) / 1000),
      instances: instances.length,
      lockSilentMax: silent.silentSeconds,
      violations,
      notes,
      servedBefore,
    }
  } finally {
    await restore?.()
    await lockWatch.stop()
  }
}

/**
 * The inputs that make a round's release slow to start, as its plan says.
 * @param {RoundPlan} round
 * @returns {Record<string, string>}
 */
function slowStart(round) {
  if (round.startDelayMs === 0) return {}
  const healthTimeout = String(Math.ceil(round.startDelayMs / 1000) + 60)
  if (!round.delayBeforeJvm) return { env: `SAMPLE_START_DELAY_MS=${round.startDelayMs}`, 'health-timeout': healthTimeout }
  const seconds = (round.startDelayMs / 1000).toFixed(3)
  return { 'start-command': `sleep ${seconds}; exec java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"`, 'health-timeout': healthTimeout }
}

/** How many times the log says a release started. */
const startsIn = async (/** @type {string} */ log) => ((await readFile(log, 'utf8').catch(() => '')).match(/starting release/g) ?? []).length

/**
 * Waits until the cut run has begun `step`: a partial upload appears, the idle port's log says a
 * release starts, or the include changes. Polls often: the windows it aims at are short.
 * @param {Exclude<Anchor, 'time'>} step
 * @param {{ target: any, idleLog: string, startsBefore: number, include: string, ended: () => boolean }} run
 * @returns {Promise<boolean>} false when the run ended first
 */
async function stepBegun(step, { target, idleLog, startsBefore, include, ended }) {
  const releases = path.join(target.deployDir, 'releases')
  const begun = async () => {
    if (step === 'upload') return (await readdir(releases).catch(() => /** @type {string[]} */ ([]))).some((n) => n.startsWith('.partial-'))
    if (step === 'start') return (await startsIn(idleLog)) > startsBefore
    return (await readFile(target.includePath, 'utf8').catch(() => include)) !== include
  }
  while (!ended()) {
    if (await begun()) return true
    await sleep(2)
  }
  return false
}

/**
 * After a round with too many instances, ends those the deploy dir's pid files do not name, so
 * that the next round starts from a host as a correct deploy leaves it.
 * @param {string} deployDir
 * @param {import('./soak-host.mjs').AppInstance[]} instances
 * @param {string[]} notes
 */
async function reapStrays(deployDir, instances, notes) {
  const named = new Set()
  const runDir = path.join(deployDir, 'run')
  for (const file of (await readdir(runDir).catch(() => /** @type {string[]} */ ([]))).filter((f) => f.endsWith('.pid'))) {
    named.add(Number.parseInt(await readFile(path.join(runDir, file), 'utf8').catch(() => ''), 10))
  }
  for (const p of instances.filter((i) => !named.has(i.pid))) {
    try {
      process.kill(p.pid, 'SIGKILL')
      notes.push(`ended stray instance pid ${p.pid} so the next round starts clean`)
    } catch {
      // already gone
    }
  }
}

/** @param {RoundResult} r */
export function summaryLine(r) {
  const p = r.plan
  const extras = [
    p.startDelayMs > 0 ? `start delay ${p.startDelayMs} ms ${p.delayBeforeJvm ? 'before' : 'in'} the JVM` : '',
    p.padBytes > 0 ? `${p.padBytes >> 20} MiB pad` : '',
    p.raceAtMs !== undefined ? `race at ${p.raceAtMs} ms: ${r.racer}` : '',
  ].filter(Boolean)
  return `round ${p.index}: ${r.cut}${extras.length ? ` (${extras.join(', ')})` : ''}; cut run ${r.cutRun}; follow-up ${r.followUp}; ${r.instances} instances; lock unrenewed at most ${r.lockSilentMax} s; ${r.seconds} s${r.violations.length ? ` -- ${r.violations.length} VIOLATION(S)` : ''}`
}

/**
 * The closing summary.
 * @param {SoakResult} s
 */
export function formatSummary(s) {
  const kills = s.rounds.filter((r) => r.plan.kind === 'kill').length
  const cuts = s.rounds.length - kills
  const missed = s.rounds.filter((r) => r.cut.includes('missed')).length
  const races = s.rounds.filter((r) => r.racer).length
  return [
    `soak summary: seed ${s.seed}, ${s.rounds.length} rounds (${kills} SIGKILL, ${cuts} network cut, ${races} racing, ${missed} cut after the run ended) on ${s.network}, ${s.seconds} s`,
    `  requests through nginx: ${s.traffic.total}, failed: ${s.traffic.failed}`,
    `  rollback at the end: ${s.rollback}`,
    `  max instances after a round: ${Math.max(0, ...s.rounds.map((r) => r.instances))}; longest a lock went unrenewed: ${Math.max(0, ...s.rounds.map((r) => r.lockSilentMax))} s (lease ${LEASE_SECONDS} s)`,
    s.violations.length === 0 ? '  no violations' : `  ${s.violations.length} violation(s):\n${s.violations.map((v) => `  - ${v.replace(/\n/g, '\n    ')}`).join('\n')}`,
  ].join('\n')
}
