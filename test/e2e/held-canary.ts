// A held canary as a deploy with `canary-interval: 0` leaves it: the http-level file with the split
// and the include in canary mode, both from the action's own builders, then an nginx reload.
import { execFile as execFileCb } from 'node:child_process'
import http from 'node:http'
import { readFile, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { DEFAULT_INCLUDE_TEMPLATE } from '../../src/config/inputs.js'
import { httpLevelConfig, includeText, trafficLogPath } from '../../src/remote/traffic.js'

const execFile = promisify(execFileCb)

/** nginx of `target` takes its files again; the new workers start within a few ms, the old ones retire. */
export async function reloadNginx(target: any): Promise<void> {
  await execFile('sh', ['-c', target.nginxReloadCommand])
  await sleep(500)
}

/** `percent`% of clients to `newPort`, the rest to `previousPort`, with the logs the action's canary include keeps. */
export async function holdCanary(
  target: any,
  p: { percent: number; newPort: number; previousPort: number; deployDir: string },
): Promise<void> {
  const split = { percent: p.percent, newPort: p.newPort, previousPort: p.previousPort }
  await writeFile(target.httpIncludePath, httpLevelConfig({ appName: 'sample', canaryKey: '$remote_addr', port: p.previousPort, split }))
  const text = includeText({
    template: DEFAULT_INCLUDE_TEMPLATE,
    appName: 'sample',
    mode: { mode: 'canary', split },
    trafficLog: trafficLogPath(p.deployDir),
    // The target's own access log, at http level: repeated so that it keeps recording.
    userAccessLogs: [`access_log ${target.nginxAccessLogPath} zdd;`],
  })
  await writeFile(target.includePath, `${text}\n`)
  await reloadNginx(target)
}

export interface Answer {
  status: number
  retryAfter?: string
  body: string
}

/** One GET through nginx, with the header maintenance adds. */
export function fetchPage(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'] as string | undefined,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      )
      res.on('error', reject)
    })
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
  })
}

/** A header of one answer through nginx. */
export function headerOf(url: string, name: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.headers[name.toLowerCase()] as string | undefined))
      res.on('error', reject)
    })
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url} timed out`)))
    req.on('error', reject)
  })
}

/** `count` answers through nginx, one after the other. */
export async function answers(url: string, count: number): Promise<Answer[]> {
  const all: Answer[] = []
  for (let i = 0; i < count; i++) all.push(await fetchPage(url))
  return all
}

export async function includeOf(target: any): Promise<string> {
  return readFile(target.includePath, 'utf8')
}
