/**
 * The local host's own clean-up: what a test started and no record leads to any more must not
 * outlive its file, and nothing else may be touched.
 */
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
  it('an instance a healthy start left running, and the app it runs as a child, are found by their directory and killed', async () => {
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
    const found = processesIn([deployDir])
    expect(found).toContain(leader)
    expect(found.length).toBeGreaterThanOrEqual(2) // the sh and the app

    // Another directory's process is none of these directories' business.
    const elsewhere = await listener(await freePort(), { cwd: tempDir() })
    expect(processesIn([deployDir])).not.toContain(elsewhere.pid)

    expect(killProcessesIn([deployDir]).sort()).toEqual(found.sort())
    expect(await waitUntil(() => found.every((pid) => !isRunning(pid)))).toBe(true)
    expect(processesIn([deployDir])).toEqual([])
    expect(isRunning(elsewhere.pid!)).toBe(true)
  })
})
