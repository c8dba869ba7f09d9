/**
 * The local host's own clean-up: what a test started and no record leads to any more must not
 * outlive its file, and nothing else may be touched.
 */
import { spawn } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { startScript } from '../../../src/remote/instance.js'
import { shellQuote } from '../../../src/remote/quote.js'
import {
  cleanUpAfterAll,
  freePort,
  isRunning,
  killProcessesIn,
  listener,
  makeRelease,
  processesIn,
  runScript,
  tempDir,
  waitUntil,
} from './local-host.js'

cleanUpAfterAll()

describe.concurrent('local host clean-up', { timeout: 30_000 }, () => {
  it('an instance a healthy start left running, the app it runs as a child, and a child that went elsewhere, are found and killed', async () => {
    const deployDir = tempDir()
    const port = await freePort()
    makeRelease(deployDir, 'r1')
    // Not recorded on purpose: a start command without exec, its app a child of `sh -c`.
    const run = await runScript(
      startScript({
        deployDir,
        port,
        release: 'r1',
        fileName: 'app.jar',
        appName: 'shop',
        javaOpts: '',
        startCommand: `${shellQuote(process.execPath)} server.js`,
        healthUrl: `http://127.0.0.1:${port}/actuator/health`,
        healthExpect: '',
        healthTimeoutSeconds: 10,
        healthIntervalSeconds: 0.1,
        stopTimeoutSeconds: 5,
        startedAt: new Date('2026-01-01T12:34:56.789Z'),
      }),
    )
    expect(run.answer.facts.health, run.stdout).toBe('ok')
    const leader = Number(run.answer.facts.pid)

    // A child that went elsewhere is still its parent's.
    const parent = spawn('/bin/sh', ['-c', '(cd / && exec sleep 300) & echo "$!"; wait'], {
      cwd: deployDir,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    const child = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (text) => resolve(String(text).trim()))))
    expect(await waitUntil(() => readlinkSync(`/proc/${child}/cwd`) === '/')).toBe(true)
    const found = processesIn([deployDir])
    expect(found).toContain(leader)
    expect(found).toEqual(expect.arrayContaining([parent.pid, child]))
    expect(found.length).toBeGreaterThanOrEqual(4) // the sh and the app, that sh and its sleep

    // Another directory's process is none of these directories' business.
    const elsewhere = await listener(await freePort(), { cwd: tempDir() })
    expect(processesIn([deployDir])).not.toContain(elsewhere.pid)

    expect(killProcessesIn([deployDir]).sort()).toEqual(found.sort())
    expect(await waitUntil(() => found.every((pid) => !isRunning(pid)))).toBe(true)
    expect(processesIn([deployDir])).toEqual([])
    expect(isRunning(elsewhere.pid!)).toBe(true)
  })
})
