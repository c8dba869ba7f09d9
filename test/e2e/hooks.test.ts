// Hooks, history and logs as a user meets them: their own commands at the three points of a deploy,
// with the service's environment, streamed and masked in the job log; each failing or hanging hook
// leaves the old version serving (or puts it back); every run leaves a line in the history, which
// status shows; command: logs prints the instances' logs. Requests flow through nginx throughout.
import { appendFile, readFile } from 'node:fs/promises'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper
import { startTraffic } from '../../scripts/lib/traffic.mjs'
import { get, removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

const SECRET = 'hunter2-Zq9!x'

/** Pids whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)
}

/** The job log's lines that are not the mask commands themselves. */
function visible(stdout: string): string[] {
  return stdout.split('\n').filter((line) => !line.startsWith('::add-mask::'))
}

describe('hooks, history and logs', () => {
  let target: any
  let traffic: any
  let v1Served: string
  let idle: number
  const history = () =>
    readFile(path.join(target.deployDir, 'history'), 'utf8').then((text) =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    )

  beforeAll(async () => {
    target = await startTarget()
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    v1Served = await served(target)
    idle = target.appPorts[0]
    traffic = startTraffic({ url: target.url, concurrency: 3, maxDurationMs: 170_000 })
  })
  afterAll(async () => {
    await traffic?.stop()
    await target?.stop()
    await removeWorkspaces()
  })

  it('runs each hook at its point, in the release dir with the hook variables, streamed and masked', async () => {
    const result = await run(target, await workspaceWithJar('2'), {
      env: `DB_PASSWORD=${SECRET}`,
      'pre-start-command':
        'echo "pre-start in $PWD for $RELEASE on $PORT after $PREVIOUS_PORT, $COMMAND of $APP_NAME, jar $ARTIFACT"; echo "db password is $DB_PASSWORD"; test -f "$ARTIFACT" && test "$RELEASE_DIR" = "$PWD"',
      'pre-switch-command': 'echo "smoke: $(curl -fsS http://127.0.0.1:$PORT/)"',
      'post-switch-command': 'echo "post-switch sees nginx answer: $(curl -fsS ' + target.url + '/)"',
    })
    expect(result.code, why(result)).toBe(0)
    const port = idle
    const releaseDir = path.join(target.deployDir, 'releases', result.outputs.release)
    const log = visible(result.stdout).join('\n')
    expect(log).toContain(
      `pre-start in ${releaseDir} for ${result.outputs.release} on ${port} after ${target.appPorts[1]}, deploy of sample, jar ${releaseDir}/sample-2.jar`,
    )
    expect(log).toContain('db password is ***')
    expect(log).not.toContain(SECRET)
    // The new instance answered the pre-switch smoke test before nginx was pointed at it.
    expect(log).toContain(`smoke: version=2 port=${port}`)
    expect(log).toContain(`post-switch sees nginx answer: version=2 port=${port}`)
    expect(log.indexOf('pre-start in')).toBeLessThan(log.indexOf('smoke:'))
    expect(await served(target)).toBe(`200 version=2 port=${port}`)
    const phases = JSON.parse(result.outputs.report)[0].phases
    expect(Object.keys(phases)).toEqual(expect.arrayContaining(['pre_start', 'pre_switch', 'post_switch']))
  })

  it('a failing pre-start-command: nothing started, nothing switched; the error names the hook, status and last lines', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const before = await served(target)
    const idleNow = target.appPorts.find((p: number) => !include.includes(`:${p};`))
    const result = await run(target, await workspaceWithJar('3-prestart'), {
      'pre-start-command': 'echo migrating; echo "V7 failed: duplicate column"; exit 3',
    })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(
      '::error::pre-start-command: failed with exit status 3. Nothing was started or switched; the old version still serves.',
    )
    expect(result.stdout).toContain('V7 failed: duplicate column')
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toBe(before)
    await expect(get(`http://127.0.0.1:${idleNow}/`, { timeoutMs: 1000 })).rejects.toThrow()
  })

  it('a failing pre-switch-command: the new instance stopped, nothing switched', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const before = await served(target)
    const idleNow = target.appPorts.find((p: number) => !include.includes(`:${p};`))
    const result = await run(target, await workspaceWithJar('3-preswitch'), {
      'pre-switch-command': 'curl -fsS "http://127.0.0.1:$PORT/" && echo "smoke test: checkout page missing" && exit 1',
    })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(
      `::error::pre-switch-command: failed with exit status 1. The new instance on port ${idleNow} was stopped; nothing was switched and the old version still serves.`,
    )
    expect(result.stdout).toContain('version=3-preswitch')
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toBe(before)
    await expect(get(`http://127.0.0.1:${idleNow}/`, { timeoutMs: 1000 })).rejects.toThrow()
  })

  it('a failing post-switch-command: traffic back on the previous port, rolled-back true', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const before = await served(target)
    const result = await run(target, await workspaceWithJar('3-postswitch'), {
      'post-switch-command': 'echo "purging cache"; exit 4',
      'drain-seconds': '1',
    })
    expect(result.code, why(result)).toBe(1)
    expect(result.outputs['rolled-back']).toBe('true')
    expect(result.stdout).toMatch(
      /::error::post-switch-command: failed with exit status 4\. Traffic went back to port \d+ \(release \S+\), and the new instance on port \d+ was stopped\./,
    )
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(await served(target)).toBe(before)
  })

  it('a hook that hangs past hook-timeout is ended with its children; nothing switched', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const marker = `29${Math.floor(Math.random() * 1e6)}`
    const started = Date.now()
    const result = await run(target, await workspaceWithJar('3-hang'), {
      'pre-start-command': `echo waiting for the database; sleep ${marker} & sh -c "sleep ${marker}"`,
      'hook-timeout': '2',
    })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(
      '::error::pre-start-command: did not finish within hook-timeout (2 s) and was ended with every process it started.',
    )
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(processesWith(`sleep ${marker}`)).toEqual([])
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
  })

  it('the history holds every deploy, failed or not, with the failing step; status shows it', async () => {
    const entries = await history()
    expect(entries.map((e: any) => [e.command, e.outcome, e.step ?? ''])).toEqual([
      ['deploy', 'deployed', ''],
      ['deploy', 'deployed', ''],
      ['deploy', 'failed', 'pre-start-command'],
      ['deploy', 'failed', 'pre-switch-command'],
      ['deploy', 'failed', 'post-switch-command'],
      ['deploy', 'failed', 'pre-start-command'],
    ])
    const second = entries[1]
    expect(second.ports).toEqual({ before: target.appPorts[1], after: idle })
    expect(second.release).toMatch(/^\d{8}-\d{6}-[0-9a-f]{8}$/)
    expect(second.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(entries[4].ports).toEqual({ before: idle, after: idle })

    const status = await run(target, '.', { command: 'status' })
    expect(status.code, why(status)).toBe(0)
    expect(status.stdout).toContain('Deploy history (newest last):')
    // A failed deploy names the release it tried, with that release's sha256, and the one still serving.
    expect(entries[4].release).toMatch(/^\d{8}-\d{6}-[0-9a-f]{8}$/)
    expect(entries[4].sha256.slice(0, 8)).toBe(entries[4].release.slice(-8))
    expect(entries[4].serving).toBe(second.release)
    expect(status.stdout).toMatch(
      /deploy failed at post-switch-command {2}tried \S+ \(sha256 [0-9a-f]{12}\) {2}serving \S+ {2}ports \d+ -> \d+/,
    )
    expect(status.summary).toContain('Deploy history of')
    expect(status.summary).toContain('pre-switch-command')
    // status itself leaves no line
    expect(await history()).toHaveLength(entries.length)
  })

  it('command: logs prints the active instance first, then the idle one, masked, and changes nothing', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const active = target.appPorts.find((p: number) => include.includes(`:${p};`))
    await appendFile(path.join(target.deployDir, 'logs', `${active}.log`), `connecting with password ${SECRET}\n`)
    const result = await run(target, '.', { command: 'logs', 'log-lines': '5', env: `DB_PASSWORD=${SECRET}` })
    expect(result.code, why(result)).toBe(0)
    const log = visible(result.stdout).join('\n')
    const activeAt = log.indexOf(`Port ${active} (active): release`)
    expect(activeAt).toBeGreaterThanOrEqual(0)
    expect(log.indexOf('(idle)')).toBeGreaterThan(activeAt)
    expect(log).toContain('connecting with password ***')
    expect(log).not.toContain(SECRET)
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
    expect(v1Served).toMatch(/^200 version=1/)
  })

  it('dry-run lists the hooks it would run, and runs none', async () => {
    const entries = (await history()).length
    const result = await run(target, await workspaceWithJar('4-dry'), {
      'dry-run': 'true',
      'pre-start-command': 'touch "$RELEASE_DIR/ran"; ./migrate.sh',
      'post-switch-command': 'purge-cache',
      'hook-timeout': '60',
    })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toContain('run pre-start-command before the start, for up to 60 s: touch "$RELEASE_DIR/ran"; ./migrate.sh')
    expect(result.stdout).toContain(
      'run post-switch-command after the switch (if it fails, traffic goes back), for up to 60 s: purge-cache',
    )
    expect(result.stdout).not.toContain('pre-switch-command')
    expect(await history()).toHaveLength(entries)
  })

  it('not one request failed through all of it', async () => {
    const stats = await traffic.stop()
    traffic = undefined
    expect(stats.total).toBeGreaterThan(100)
    expect(stats.failed, JSON.stringify(stats.failures)).toBe(0)
  })
})
