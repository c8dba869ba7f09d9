/**
 * The analysis of a canary step or a bake: what nginx saw of the requests it sent to the new and
 * the previous port, added up over hosts, and whether the new side passes the thresholds.
 */
import type { TrafficSample } from '../remote/traffic.js'

export interface SideFigures {
  port: number
  requests: number
  /** Answered 5xx: by the instance, or by nginx itself (502, 504) when the instance failed it. */
  errors: number
  statuses: Record<string, number>
  p99Ms?: number
}

export interface Figures {
  new: SideFigures
  previous: SideFigures
}

class Side {
  requests = 0
  errors = 0
  readonly statuses = new Map<number, number>()
  /** Requests by whole milliseconds: hosts add up exactly, and a percentile is read from it. */
  readonly latency = new Map<number, number>()

  constructor(readonly port: number) {}

  add(sample: TrafficSample): void {
    this.requests += sample.count
    if (sample.status >= 500 && sample.status <= 599) this.errors += sample.count
    this.statuses.set(sample.status, (this.statuses.get(sample.status) ?? 0) + sample.count)
    this.latency.set(sample.ms, (this.latency.get(sample.ms) ?? 0) + sample.count)
  }

  figures(): SideFigures {
    const statuses: Record<string, number> = {}
    for (const status of [...this.statuses.keys()].sort((a, b) => a - b)) statuses[String(status)] = this.statuses.get(status)!
    return { port: this.port, requests: this.requests, errors: this.errors, statuses, p99Ms: this.percentile(99) }
  }

  /** The nearest-rank percentile: the smallest time that at least `percent`% of the requests took no longer than. */
  private percentile(percent: number): number | undefined {
    if (this.requests === 0) return undefined
    const rank = Math.ceil((percent / 100) * this.requests)
    let seen = 0
    for (const ms of [...this.latency.keys()].sort((a, b) => a - b)) {
      seen += this.latency.get(ms)!
      if (seen >= rank) return ms
    }
    return undefined
  }
}

/** Adds up samples from any number of hosts (a latency histogram per side, so p99 adds up exactly). */
export class TrafficTally {
  private readonly sides: { new: Side; previous: Side }

  constructor(newPort: number, previousPort: number) {
    this.sides = { new: new Side(newPort), previous: new Side(previousPort) }
  }

  /** Requests to any other port (none reached: port 0) belong to neither side and are left out. */
  add(samples: TrafficSample[]): void {
    for (const sample of samples) {
      if (sample.count <= 0) continue
      if (sample.port === this.sides.new.port) this.sides.new.add(sample)
      else if (sample.port === this.sides.previous.port) this.sides.previous.add(sample)
    }
  }

  figures(): Figures {
    return { new: this.sides.new.figures(), previous: this.sides.previous.figures() }
  }
}

export interface Thresholds {
  /** Percent of the new side's requests answered 5xx; more fails. */
  maxErrorRate: number
  /** Milliseconds; 0 = not judged. */
  maxP99Ms: number
  minRequests: number
}

export type Verdict = { kind: 'pass' } | { kind: 'too-few' } | { kind: 'fail'; reason: string }

/** Judges the new side alone: the previous side's figures are there to compare with. */
export function judge(figures: Figures, thresholds: Thresholds): Verdict {
  const side = figures.new
  if (side.requests === 0 || side.requests < thresholds.minRequests) return { kind: 'too-few' }
  const rate = errorRate(side)
  if (rate > thresholds.maxErrorRate) {
    return {
      kind: 'fail',
      reason: `${formatRate(rate)} of the requests to the new instance answered 5xx, over max-error-rate ${thresholds.maxErrorRate}%`,
    }
  }
  if (thresholds.maxP99Ms > 0 && side.p99Ms !== undefined && side.p99Ms > thresholds.maxP99Ms) {
    return { kind: 'fail', reason: `the new instance's p99 is ${side.p99Ms} ms, over max-p99-ms ${thresholds.maxP99Ms}` }
  }
  return { kind: 'pass' }
}

function errorRate(side: SideFigures): number {
  return side.requests === 0 ? 0 : (side.errors / side.requests) * 100
}

function formatRate(rate: number): string {
  return `${rate.toFixed(1)}%`
}

/** "new (port 8082): 250 requests, 20.0% 5xx (500: 50), p99 12 ms; previous (port 8081): ..." */
export function figuresText(figures: Figures): string {
  return `${sideText('new', figures.new)}; ${sideText('previous', figures.previous)}`
}

function sideText(name: string, side: SideFigures): string {
  const head = `${name} (port ${side.port}): `
  if (side.requests === 0) return `${head}no requests`
  const failed = Object.entries(side.statuses)
    .filter(([status]) => status.startsWith('5'))
    .map(([status, count]) => `${status}: ${count}`)
  const other = Object.entries(side.statuses)
    .filter(([status]) => !status.startsWith('5') && !status.startsWith('2'))
    .map(([status, count]) => `${status}: ${count}`)
  return [
    `${head}${side.requests} request${side.requests === 1 ? '' : 's'}`,
    `${formatRate(errorRate(side))} 5xx${failed.length ? ` (${failed.join(', ')})` : ''}`,
    ...(side.p99Ms === undefined ? [] : [`p99 ${side.p99Ms} ms`]),
    ...(other.length ? [`other statuses ${other.join(', ')}`] : []),
  ].join(', ')
}
