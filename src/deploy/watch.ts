/**
 * Watching a canary step or the bake across the hosts: every ~0.5 s each host's traffic log is read
 * from where the last read ended, what nginx saw is added up over the hosts, and judged. The moment
 * the new version fails, the watch throws, and the caller sends every host back.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { TrafficSample } from '../remote/traffic.js'
import { type Figures, type Thresholds, TrafficTally, figuresText, judge } from './analysis.js'
import { StepError } from './step-error.js'

/** A host under watch: how to read what nginx logged since the last read, and its pair of ports. */
export interface WatchedHost {
  label: string
  newPort: number
  previousPort: number
  read(): Promise<TrafficSample[]>
}

/** What a step saw and how it ended: the report's, the summary's and the log's figures. */
export interface StepFigures {
  /** "canary 10%", "bake". */
  step: string
  seconds: number
  verdict: 'pass' | 'too-few' | 'fail'
  /** Why it failed. */
  reason?: string
  /** All hosts added up. */
  figures: Figures
  /** Each host's own, in host order, when there are several. */
  hosts?: Figures[]
}

/** A step the new version failed: its figures, for the report. */
export class AnalysisFailure extends StepError {
  constructor(readonly result: StepFigures) {
    super(
      result.step,
      `the new version failed its analysis after ${result.seconds.toFixed(1)} s: ${result.reason}. ${figuresText(result.figures)}.`,
    )
  }
}

export interface WatchOptions {
  step: string
  seconds: number
  thresholds: Thresholds
  log: { info(message: string): void; warning(message: string): void }
  /** Between reads; each round waits for the slowest host. */
  intervalMs?: number
  /** How often the log shows the figures so far. */
  progressMs?: number
}

/**
 * Watches `seconds` (at least one read), judging after every round; returns the step's figures, or
 * throws `AnalysisFailure` the moment the new version fails. A step that ends with fewer requests
 * than analysis-min-requests is a warning, not a failure.
 */
export async function watchTraffic(hosts: WatchedHost[], options: WatchOptions): Promise<StepFigures> {
  const { step, thresholds, log, intervalMs = 500, progressMs = 5000 } = options
  // The hosts' ports are added up as the first host names them: each may serve either port of the pair.
  const [first] = hosts
  const total = new TrafficTally(first.newPort, first.previousPort)
  const own = hosts.map((host) => new TrafficTally(host.newPort, host.previousPort))
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  let lastProgress = started
  const elapsed = () => Math.round(performance.now() - started) / 1000
  const result = (verdict: StepFigures['verdict'], reason?: string): StepFigures => ({
    step,
    seconds: elapsed(),
    verdict,
    ...(reason ? { reason } : {}),
    figures: total.figures(),
    ...(hosts.length > 1 ? { hosts: own.map((tally) => tally.figures()) } : {}),
  })

  log.info(
    `${capitalized(step)}: watching for ${options.seconds} s (max-error-rate ${thresholds.maxErrorRate}%${thresholds.maxP99Ms > 0 ? `, max-p99-ms ${thresholds.maxP99Ms}` : ''}, judged from ${thresholds.minRequests} requests on).`,
  )
  for (;;) {
    const round = performance.now()
    const reads = await Promise.all(hosts.map((host) => host.read()))
    for (const [index, samples] of reads.entries()) {
      const host = hosts[index]
      own[index].add(samples)
      total.add(samples.map((sample) => ({ ...sample, port: asFirst(sample.port, host, first) })))
    }
    const verdict = judge(total.figures(), thresholds)
    if (verdict.kind === 'fail') {
      const failed = result('fail', verdict.reason)
      log.warning(`${capitalized(step)} failed after ${failed.seconds.toFixed(1)} s: ${verdict.reason}. ${figuresText(failed.figures)}`)
      throw new AnalysisFailure(failed)
    }
    const now = performance.now()
    if (now >= deadline) break
    if (now - lastProgress >= progressMs) {
      lastProgress = now
      log.info(`${capitalized(step)} after ${elapsed().toFixed(0)} s: ${figuresText(total.figures())}`)
    }
    await sleep(Math.max(0, Math.min(intervalMs - (now - round), deadline - now)))
  }
  const figures = total.figures()
  if (figures.new.requests < thresholds.minRequests) {
    const done = result('too-few')
    log.warning(
      `${capitalized(step)}: only ${figures.new.requests} request${figures.new.requests === 1 ? '' : 's'} reached the new instance in ${done.seconds.toFixed(1)} s, fewer than analysis-min-requests (${thresholds.minRequests}), so it was not judged; going on. ${figuresText(figures)}`,
    )
    return done
  }
  const done = result('pass')
  log.info(`${capitalized(step)} passed after ${done.seconds.toFixed(1)} s: ${figuresText(figures)}`)
  return done
}

/** A host's port as the first host's pair names it: its new port is the first's new port. */
function asFirst(port: number, host: WatchedHost, first: WatchedHost): number {
  if (port === host.newPort) return first.newPort
  if (port === host.previousPort) return first.previousPort
  return 0
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)
