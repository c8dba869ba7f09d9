/** Pure decisions of a run: which port is which, what the include says, names, what to prune. */
import { readInclude } from '../remote/traffic.js'

/** The port the include points at, if it is one of the pair. */
export function activePortFromInclude(include: string | undefined, ports: [number, number]): number | undefined {
  if (include === undefined) return undefined
  const numbers = (pattern: RegExp) => [...include.matchAll(pattern)].map((m) => Number(m[1]))
  // A port after ":" (a URL) first; a custom template may name the port bare.
  return (
    numbers(/:(\d{1,5})(?!\d)/g).find((port) => ports.includes(port)) ??
    numbers(/(?<!\d)(\d{1,5})(?!\d)/g).find((port) => ports.includes(port))
  )
}

/**
 * Active and idle ports: with no include, or one naming neither port, the first port is idle. The
 * include's marker decides first (see readInclude): a canary's marker names both ports, and the
 * active one is then the previous instance's, which serves once the canary is gone.
 */
export function choosePorts(include: string | undefined, ports: [number, number]): { active?: number; idle: number } {
  const traffic = readInclude(include, ports)
  const active = traffic.mode === 'canary' ? traffic.split.previousPort : traffic.port
  if (active === undefined) return { idle: ports[0] }
  return { active, idle: active === ports[0] ? ports[1] : ports[0] }
}

export function renderInclude(template: string, port: number): string {
  return template.replaceAll('{port}', String(port))
}

/** `20261127-001502-3fa2c1d0`: sorts by time, and names the content. */
export function releaseName(sha256: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '-')
  return `${stamp}-${sha256.slice(0, 8)}`
}

export interface ReleaseOnHost {
  name: string
  sha256: string
  /** No switch to it has succeeded yet; absent counts as served. */
  neverServed?: boolean
}

/**
 * Releases to remove: all but the newest `keep`, never one in `running` (a warm instance may be
 * the rollback target), and, when nothing else that is kept has served, never the newest release
 * other than `current` that has served. After failed deploys in a row the newest releases have all
 * never served, and counting them alone would prune the one version that rollback can go back to.
 */
export function releasesToPrune(releases: ReleaseOnHost[], keep: number, running: string[], current?: string): string[] {
  const newestFirst = [...releases].sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0))
  const kept = new Set([...newestFirst.slice(0, keep).map((r) => r.name), ...running])
  const servedKept = newestFirst.some((r) => kept.has(r.name) && r.name !== current && !r.neverServed)
  const rollbackTarget = servedKept ? undefined : newestFirst.find((r) => !r.neverServed && r.name !== current)?.name
  return newestFirst
    .slice(keep)
    .map((r) => r.name)
    .filter((name) => !running.includes(name) && name !== current && name !== rollbackTarget)
}

/** `sudo -n` is dropped when the remote user is root: root needs no sudo, and may not have it. */
export function withoutSudoForRoot(command: string, isRoot: boolean): string {
  return isRoot ? command.replace(/(^|[;&|]\s*)sudo\s+-n\s+/g, '$1') : command
}

/**
 * What identifies our nginx master among several: the `-c` (or `-p`) path of the reload command,
 * which nginx keeps in the master's command line. Empty for the system nginx.
 */
export function nginxMasterHint(reloadCommand: string): string {
  const match = /\s-c\s+(?:'([^']+)'|"([^"]+)"|(\S+))/.exec(reloadCommand) ?? /\s-p\s+(?:'([^']+)'|"([^"]+)"|(\S+))/.exec(reloadCommand)
  return match ? (match[1] ?? match[2] ?? match[3]) : ''
}
