/**
 * Hooks, history and logs (src/remote/hooks.ts), run by a local `sh` in temporary directories: what
 * they do on a host, without SSH.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HISTORY_LIMIT, HOOK_EXIT, appendHistoryScript, hookScript, readHistoryScript, readLogsScript } from '../../../src/remote/hooks.js'
import { LocalShell, cleanUpAfterAll, makeRelease, runScript, tempDir, waitUntil } from './local-host.js'

cleanUpAfterAll()

const RELEASE = '20260101-000000-3fa2c1d0'

function hook(deployDir: string, command: string, overrides: Partial<Parameters<typeof hookScript>[0]> = {}): string {
  return hookScript({
    deployDir,
    release: RELEASE,
    fileName: 'app.jar',
    appName: 'shop-api',
    javaOpts: '-Xmx256m -Dspring.profiles.active=prod',
    name: 'pre-start',
    command,
    port: 8082,
    previousPort: 8081,
    runCommand: 'deploy',
    timeoutSeconds: 30,
    ...overrides,
  })
}

/** Processes whose command line holds `marker`: a hook's children that outlived it. */
function processesWith(marker: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

describe.concurrent('hook script, run by a local sh', { timeout: 30_000 }, () => {
  it("runs in the release directory with the service's environment and the hook variables", async () => {
    const deployDir = tempDir()
    const dir = makeRelease(deployDir, RELEASE, [['DB_URL', "jdbc:postgresql://db/shop?x='1'"]])
    const show =
      'for v in PORT SERVER_PORT PREVIOUS_PORT RELEASE RELEASE_DIR ARTIFACT APP_NAME COMMAND JAVA_OPTS DB_URL; do eval "echo $v=\\$$v"; done; echo "PWD=$PWD"'
    const run = await runScript(hook(deployDir, show))
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.answer.facts.hook).toBe('ok')
    const lines = readFileSync(join(deployDir, 'logs', 'hook-pre-start.log'), 'utf8')
      .trim()
      .split('\n')
    expect(lines).toEqual([
      'PORT=8082',
      'SERVER_PORT=8082',
      'PREVIOUS_PORT=8081',
      `RELEASE=${RELEASE}`,
      `RELEASE_DIR=${dir}`,
      `ARTIFACT=${dir}/app.jar`,
      'APP_NAME=shop-api',
      'COMMAND=deploy',
      'JAVA_OPTS=-Xmx256m -Dspring.profiles.active=prod',
      "DB_URL=jdbc:postgresql://db/shop?x='1'",
      `PWD=${dir}`,
    ])
  })

  it('a hook that fails: exit 80 with its status and only its last 20 lines', async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    const run = await runScript(hook(deployDir, 'i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; echo oops >&2; exit 7'))
    expect(run.code).toBe(HOOK_EXIT.failed)
    expect(run.answer.facts.hook).toBe('failed')
    expect(run.answer.facts.hook_status).toBe('7')
    const tail = run.answer.sections.hook_tail.split('\n')
    expect(tail).toHaveLength(20)
    expect(tail[0]).toBe('line 12')
    expect(tail.at(-1)).toBe('oops')
  })

  it('a hook past its timeout is ended with every process it started, in seconds', async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    const marker = `31${Math.floor(Math.random() * 1e6)}`
    const started = Date.now()
    const run = await runScript(hook(deployDir, `echo begun; sleep ${marker} & sh -c 'sleep ${marker}1'; wait`, { timeoutSeconds: 1 }))
    expect(run.code).toBe(HOOK_EXIT.timedOut)
    expect(run.answer.facts.hook).toBe('timeout')
    expect(run.answer.sections.hook_tail).toBe('begun')
    expect(Date.now() - started).toBeLessThan(8000)
    expect(await waitUntil(() => processesWith(`sleep ${marker}`).length === 0, 3000)).toBe(true)
  })

  it('a hook that ignores SIGTERM is killed 5 s later', async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    const marker = `32${Math.floor(Math.random() * 1e6)}`
    const run = await runScript(hook(deployDir, `trap '' TERM; sleep ${marker}; sleep ${marker}`, { timeoutSeconds: 1 }))
    expect(run.code).toBe(HOOK_EXIT.timedOut)
    expect(await waitUntil(() => processesWith(`sleep ${marker}`).length === 0, 3000)).toBe(true)
  })

  it('a hook whose script was killed (its run ended with it) still ends at hook-timeout, with its children', async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    const marker = `34${Math.floor(Math.random() * 1e6)}`
    const watcher = new LocalShell({ detached: true })
    watcher.run(hook(deployDir, `sleep ${marker} & sh -c 'sleep ${marker}1'; wait`, { timeoutSeconds: 1 })).catch(() => undefined)
    expect(await waitUntil(() => processesWith(`sleep ${marker}`).length === 2, 5000)).toBe(true)
    // The run's shell and the script that watches the hook are gone, as a lock takeover leaves them.
    process.kill(-watcher.pid, 'SIGKILL')
    expect(await waitUntil(() => processesWith(`sleep ${marker}`).length === 0, 8000)).toBe(true)
  })

  it('a host that cannot detach the hook (no setsid, no Perl): the hook still ends at its timeout, and the run goes on', async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    const bin = join(tempDir('zdd-bin-'), 'bin')
    mkdirSync(bin)
    for (const name of readdirSync('/usr/bin')) {
      if (!['setsid', 'busybox', 'perl'].includes(name)) symlinkSync(join('/usr/bin', name), join(bin, name))
    }
    const marker = `35${Math.floor(Math.random() * 1e6)}`
    const shell = new LocalShell({ detached: true, env: { ...process.env, PATH: bin } })
    try {
      const run = await shell.run(hook(deployDir, `sleep ${marker}`, { timeoutSeconds: 1 }))
      expect(run.answer.facts.hook, run.stdout).toBe('timeout')
      expect(processesWith(`sleep ${marker}`)).toEqual([])
      // Past the hook's own bound, nothing of it has signalled the run's session, which it shares here.
      await new Promise((resolve) => setTimeout(resolve, 3500))
      expect((await shell.run('echo still here')).stdout).toBe('still here\n')
    } finally {
      await shell.close()
    }
  })

  it("streams the hook's lines on fd 3 while it runs, before it ends", async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    const child = spawn('/bin/sh', ['-c', hook(deployDir, 'echo first; sleep 2; echo second')], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    })
    const seen: Array<{ text: string; at: number }> = []
    const started = Date.now()
    child.stdio[3]!.on('data', (data: Buffer) => seen.push({ text: data.toString(), at: Date.now() - started }))
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(0)
    const text = seen.map((s) => s.text).join('')
    expect(text).toBe('hook| first\nhook| second\n')
    const first = seen.find((s) => s.text.includes('first'))!
    expect(first.at).toBeLessThan(1500)
  })

  /** What the hook script writes to fd 3 (the job log's lines), run by the shell `shell`. */
  async function liveLines(shell: string[], deployDir: string, command: string): Promise<string> {
    const child = spawn(shell[0], [...shell.slice(1), '-c', hook(deployDir, command)], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    let text = ''
    child.stdio[3]!.on('data', (data: Buffer) => (text += data.toString()))
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(code).toBe(0)
    return text
  }

  const SHELLS = [['/bin/sh'], ['bash', '--posix'], ...(existsSync('/usr/bin/busybox') ? [['/usr/bin/busybox', 'ash']] : [])]

  it.each(SHELLS)('a line the hook writes in pieces reaches fd 3 whole, once its end is written (%s)', async (...shell) => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    // The relay looks every 0.2 s: it finds the first piece alone, before the rest is written.
    const text = await liveLines(
      shell,
      deployDir,
      "printf 'pw=Xq7-tok-'; sleep 1; printf '9f31c2aa58e0 done\\nnext'; sleep 1; printf ' line'",
    )
    expect(text).toBe('hook| pw=Xq7-tok-9f31c2aa58e0 done\nhook| next line\n')
  })

  it('a release that is not on the host: exit 82, nothing run', async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, 'other')
    const run = await runScript(hook(deployDir, 'touch ran'))
    expect(run.code).toBe(HOOK_EXIT.noRelease)
    expect(run.answer.facts.error).toBe('release_missing')
  })
})

describe.concurrent('history and logs scripts', { timeout: 30_000 }, () => {
  it('appends one line per entry and reads the newest back', async () => {
    const deployDir = tempDir()
    for (const n of [1, 2, 3]) {
      const run = await runScript(appendHistoryScript({ deployDir, entry: JSON.stringify({ n, note: "it's $(x)" }) }))
      expect(run.answer.facts.history).toBe('appended')
    }
    expect(readFileSync(join(deployDir, 'history'), 'utf8')).toBe(
      [1, 2, 3].map((n) => JSON.stringify({ n, note: "it's $(x)" })).join('\n') + '\n',
    )
    const read = await runScript(readHistoryScript({ deployDir, lines: 2 }))
    expect(read.answer.sections.history).toBe([2, 3].map((n) => JSON.stringify({ n, note: "it's $(x)" })).join('\n'))
  })

  it(`keeps the newest ${HISTORY_LIMIT} lines once the file outgrows them`, async () => {
    const deployDir = tempDir()
    const old = Array.from({ length: HISTORY_LIMIT + 100 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(200) }))
    writeFileSync(join(deployDir, 'history'), old.join('\n') + '\n')
    await runScript(appendHistoryScript({ deployDir, entry: '{"newest":true}' }))
    const lines = readFileSync(join(deployDir, 'history'), 'utf8').trim().split('\n')
    expect(lines).toHaveLength(HISTORY_LIMIT)
    expect(lines.at(-1)).toBe('{"newest":true}')
    expect(lines[0]).toBe(old[101])
  })

  it("trims through a file of its own: another run's file in the middle of its trim is left alone", async () => {
    const deployDir = tempDir()
    const old = Array.from({ length: HISTORY_LIMIT + 100 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(200) }))
    writeFileSync(join(deployDir, 'history'), old.join('\n') + '\n')
    writeFileSync(join(deployDir, 'history.new'), 'the other run, halfway through its trim\n')
    await runScript(appendHistoryScript({ deployDir, entry: '{"newest":true}' }))
    const lines = readFileSync(join(deployDir, 'history'), 'utf8').trim().split('\n')
    expect(lines).toHaveLength(HISTORY_LIMIT)
    expect(lines.at(-1)).toBe('{"newest":true}')
    expect(readFileSync(join(deployDir, 'history.new'), 'utf8')).toBe('the other run, halfway through its trim\n')
    expect(readdirSync(deployDir).sort()).toEqual(['history', 'history.new'])
  })

  it('no deploy-dir yet: nothing written, no failure', async () => {
    const run = await runScript(appendHistoryScript({ deployDir: join(tempDir(), 'absent'), entry: '{}' }))
    expect(run.code).toBe(0)
    expect(run.answer.facts.history).toBe('no_deploy_dir')
  })

  it("reads the last lines of each port's log, a section each, empty for a missing log", async () => {
    const deployDir = tempDir()
    makeRelease(deployDir, RELEASE)
    writeFileSync(join(deployDir, 'logs', '8082.log'), 'a\nb\nc\nd\n')
    const run = await runScript(readLogsScript({ deployDir, ports: [8082, 8081], lines: 2 }))
    expect(run.code).toBe(0)
    expect(run.answer.sections).toEqual({ log_8082: 'c\nd', log_8081: '' })
  })

  it("a relative deploy-dir is under the remote user's home, wherever the shell starts", async () => {
    const home = tempDir()
    const deployDir = join(home, 'apps/shop')
    makeRelease(deployDir, RELEASE)
    writeFileSync(join(deployDir, 'logs', '8081.log'), 'started\n')
    const options = { cwd: tempDir(), env: { ...process.env, HOME: home } }
    const append = await runScript(appendHistoryScript({ deployDir: 'apps/shop', entry: '{"n":1}' }), options)
    expect(append.answer.facts.history).toBe('appended')
    expect(readFileSync(join(deployDir, 'history'), 'utf8')).toBe('{"n":1}\n')
    const read = await runScript(readHistoryScript({ deployDir: 'apps/shop', lines: 5 }), options)
    expect(read.answer.sections.history).toBe('{"n":1}')
    const logs = await runScript(readLogsScript({ deployDir: 'apps/shop', ports: [8081], lines: 5 }), options)
    expect(logs.answer.sections).toEqual({ log_8081: 'started' })
  })
})
