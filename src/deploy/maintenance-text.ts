/**
 * The maintenance include's text: the 503 nginx answers with (Retry-After and the page) after the
 * include for the port that serves once live (see includeText), and what nginx allows of a page.
 */
import type { DeployConfig } from '../config/inputs.js'
import { includeText, trafficLogPath } from '../remote/traffic.js'

/** The Retry-After of the 503: a client or crawler that honours it comes back after a minute. */
export const RETRY_AFTER_SECONDS = 60

/** Served when maintenance-page is empty. */
export const DEFAULT_MAINTENANCE_PAGE =
  '<!doctype html><html><head><meta charset="utf-8"><title>Down for maintenance</title></head>' +
  '<body><h1>Down for maintenance</h1><p>We will be back in a few minutes.</p></body></html>'

/**
 * nginx reads its configuration in words of at most 4096 bytes (a longer one is "too long
 * parameter"), and the page is one word of the include, in quotes, escaped.
 */
export const MAX_PAGE_WORD_BYTES = 4096
export const MAX_PAGE_BYTES = MAX_PAGE_WORD_BYTES - 2

/**
 * The maintenance include for `port`, with `page` as the 503's body. `userHeaders`: the add_header
 * directives in force where nginx includes it, which its Retry-After would otherwise replace.
 */
export function maintenanceInclude(
  config: DeployConfig,
  deployDir: string,
  port: number,
  page: string,
  userHeaders: string[] = [],
): string {
  return includeText({
    template: config.nginx.template,
    appName: config.appName,
    mode: { mode: 'maintenance', port, page, retryAfterSeconds: RETRY_AFTER_SECONDS },
    trafficLog: trafficLogPath(deployDir),
    userAccessLogs: [],
    userHeaders,
  })
}

/** The page's word in a maintenance include: what follows `return 503 `, quotes included, without the `;`. */
export function pageWordBytes(include: string): number {
  const at = include.lastIndexOf('\nreturn 503 "')
  return Buffer.byteLength(include.slice(at + '\nreturn 503 '.length).replace(/;$/, ''))
}

/** The lines of a maintenance include that make nginx answer 503 (see includeText), verbatim; undefined when there are none. */
export function maintenanceTail(include: string | undefined): string | undefined {
  const lines = (include ?? '').split('\n')
  // The user's own add_header directives, repeated (see includeText's userHeaders), may stand before the return.
  const at = lines.findIndex(
    (line, i) =>
      line === 'default_type text/html;' &&
      lines[i + 1]?.startsWith('add_header Retry-After ') &&
      lines.slice(i + 2).some((later) => later.startsWith('return 503 "')),
  )
  return at < 0 ? undefined : lines.slice(at).join('\n')
}

/**
 * A maintenance include for another port that keeps the page and Retry-After of the one on the
 * host: `fresh` is the maintenance include for the new port (any page), `kept` the host's
 * maintenanceTail.
 */
export function keepingMaintenancePage(fresh: string, kept: string): string {
  const tail = maintenanceTail(fresh)
  if (tail === undefined) throw new Error('not a maintenance include')
  return `${fresh.slice(0, fresh.length - tail.length)}${kept}`
}
