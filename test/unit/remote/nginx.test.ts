/**
 * The switch (src/remote/nginx.ts), run by a local `sh`: with test and reload commands that touch
 * no nginx, then against a private nginx.
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nginxMasterHint, renderInclude } from '../../../src/deploy/plan.js'
import { SWITCH_EXIT, type SwitchParams, handoverScript, nginxSignaller, switchScript } from '../../../src/remote/nginx.js'
import { parseAnswer } from '../../../src/remote/protocol.js'
import { shellQuote } from '../../../src/remote/quote.js'
import { runScript, tempDir, freePort, leftovers, settledLeftovers, cleanUpAfterAll } from './local-host.js'
import {
  NGINX,
  type PrivateNginx,
  TEMPLATE,
  startBackends,
  startPrivateNginx,
  switchAndHandOver,
  viaNginx as viaPrivateNginx,
} from './private-nginx.js'

cleanUpAfterAll()

describe('nginxSignaller: reload commands whose signalled master the pid file names', () => {
  it('the default command, with sudo -n or without, and with its -p/-c/-e/-g/-q', () => {
    expect(nginxSignaller('sudo -n nginx -s reload')).toEqual({ binary: 'nginx', conf: '', prefix: '', sudo: true })
    expect(nginxSignaller('nginx -s reload')).toEqual({ binary: 'nginx', conf: '', prefix: '', sudo: false })
    expect(
      nginxSignaller("/usr/sbin/nginx -q -p /srv/ng/ -c '/srv/ng/nginx main.conf' -e /srv/ng/e.log -g 'daemon on;' -s reload"),
    ).toEqual({
      binary: '/usr/sbin/nginx',
      conf: '/srv/ng/nginx main.conf',
      prefix: '/srv/ng/',
      sudo: false,
    })
  })

  it('anything else is not: another signal, another program, a list of commands, expansions, an -g that may move the pid file', () => {
    for (const command of [
      'sudo -n nginx -s reopen',
      'sudo -n systemctl reload nginx',
      'sudo -u www nginx -s reload',
      'nginx -s reload && curl -s localhost',
      'nginx -c $CONF -s reload',
      'docker exec web nginx -s reload',
      "nginx -g 'pid /tmp/x.pid;' -s reload",
      'nginx -s',
      'nginx -T -s reload',
    ])
      expect(nginxSignaller(command), command).toBeUndefined()
  })
})

describe.concurrent('nginx scripts, run by a local sh', { timeout: 30_000 }, () => {
  describe('switchScript with test/reload commands that touch no nginx', () => {
    const base = (include: string, overrides: Partial<SwitchParams> = {}): SwitchParams => ({
      include,
      content: 'set $service_url http://127.0.0.1:8082;',
      testCommand: 'true',
      reloadCommand: 'true',
      masterHint: '',
      verifyUrl: '',
      verifyTimeoutSeconds: 1,
      intervalSeconds: 0.1,
      reloadTimeoutSeconds: 1,
      releaseStateFile: '',
      ...overrides,
    })
    const ODD = Buffer.concat([
      Buffer.from("set $service_url http://127.0.0.1:8081;\r\n# 'odd' bytes:"),
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x09]),
      Buffer.from('\n\n  '),
    ])

    /** Read here rather than by grep, whose own command line would name what it looks for. */
    function nginxMastersVisible(): boolean {
      return readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('nginx: master process')
          } catch {
            return false // the process has gone
          }
        })
    }

    it('success: writes the include (template text and a newline), leaves no temporary files, marks the release served', async (context) => {
      if (nginxMastersVisible()) context.skip() // an nginx on this machine would be watched for the reload
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      const stateFile = join(tempDir(), '.state')
      writeFileSync(stateFile, 'new\n')
      const run = await runScript(switchScript(base(include, { releaseStateFile: stateFile })))
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ reload: 'unobserved', switched: 'yes' })
      expect(readFileSync(include, 'utf8')).toBe('set $service_url http://127.0.0.1:8082;\n')
      expect(await settledLeftovers(dir)).toEqual([])
      expect(readFileSync(stateFile, 'utf8')).toBe('served\n')
    })

    it('a failing test command: the old include is restored byte for byte (mode too), exit 61, its output shown, the release still never served', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      chmodSync(include, 0o640)
      const stateFile = join(tempDir(), '.state')
      writeFileSync(stateFile, 'new\n')
      const run = await runScript(
        switchScript(base(include, { testCommand: 'echo "nginx: [emerg] unknown directive" >&2; false', releaseStateFile: stateFile })),
      )
      expect(readFileSync(stateFile, 'utf8')).toBe('new\n')
      expect(run.code).toBe(SWITCH_EXIT.testFailed)
      expect(run.answer.facts.error).toBe('nginx_test')
      expect(run.answer.sections.test_output).toContain('nginx: [emerg] unknown directive')
      expect(readFileSync(include)).toEqual(ODD)
      expect(statSync(include).mode & 0o777).toBe(0o640)
      expect(await settledLeftovers(dir)).toEqual([])
    })

    it('a failing test command with no include before: the include is removed again', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      const run = await runScript(switchScript(base(include, { testCommand: 'false' })))
      expect(run.code).toBe(SWITCH_EXIT.testFailed)
      expect(existsSync(include)).toBe(false)
      expect(await settledLeftovers(dir)).toEqual([])
    })

    it('the test command sees the new include in place', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      const run = await runScript(
        switchScript(base(include, { testCommand: `grep -q 8082 ${shellQuote(include)}`, reloadCommand: 'exit 3' })),
      )
      // the test passed (it saw 8082), so the reload ran and failed
      expect(run.code).toBe(SWITCH_EXIT.reloadFailed)
    })

    it('a failing reload command: the old include is restored byte for byte, exit 62, its output shown', async () => {
      const dir = tempDir()
      const include = join(dir, 'service-url.inc')
      writeFileSync(include, ODD)
      const run = await runScript(switchScript(base(include, { reloadCommand: 'echo "reload broke"; exit 1' })))
      expect(run.code).toBe(SWITCH_EXIT.reloadFailed)
      expect(run.answer.facts.error).toBe('reload_failed')
      expect(run.answer.sections.reload_output).toContain('reload broke')
      expect(readFileSync(include)).toEqual(ODD)
      expect(await settledLeftovers(dir)).toEqual([])
    })

    it('hostile content and commands are data until the commands run', async () => {
      const dir = tempDir()
      const include = join(dir, "it's $(touch PWNED).inc")
      const content = "set $service_url http://127.0.0.1:8082; # '$(touch PWNED)' `touch PWNED`"
      const run = await runScript(switchScript(base(include, { content, testCommand: 'false' })), { cwd: dir })
      expect(run.code).toBe(SWITCH_EXIT.testFailed)
      expect(existsSync(join(dir, 'PWNED'))).toBe(false)
    })
  })
})

/** Runs a script as user nobody, as a deploy user without root runs it. */
function runAsNobody(script: string): { code: number; answer: ReturnType<typeof parseAnswer> } {
  const result = spawnSync('runuser', ['-u', 'nobody', '--', 'sh', '-s'], { input: script, encoding: 'utf8', cwd: '/' })
  return { code: result.status ?? -1, answer: parseAnswer(result.stdout) }
}

describe.skipIf(process.getuid?.() !== 0)("switchScript as a user who cannot write the include's directory", { timeout: 30_000 }, () => {
  const setUp = (includeMode: number) => {
    const dir = tempDir()
    chmodSync(dir, 0o755)
    const include = join(dir, 'service-url.inc')
    writeFileSync(include, 'set $service_url http://127.0.0.1:8081;\n')
    chmodSync(include, includeMode)
    return { dir, include, inode: statSync(include).ino }
  }
  const params = (include: string): SwitchParams => ({
    include,
    content: 'set $service_url http://127.0.0.1:8082;',
    testCommand: `grep -q 8082 ${shellQuote(include)}`,
    reloadCommand: 'true',
    masterHint: '',
    verifyUrl: '',
    verifyTimeoutSeconds: 1,
    intervalSeconds: 0.1,
    reloadTimeoutSeconds: 1,
    releaseStateFile: '',
  })

  it('an include the user may write (in a directory it may not): written and put back in place, no sudo needed', () => {
    const { dir, include, inode } = setUp(0o666)
    // The test command passes only on the new text; the reload then fails, and the old text goes back.
    const run = runAsNobody(switchScript({ ...params(include), reloadCommand: 'exit 3' }))
    expect(run.code, JSON.stringify(run.answer)).toBe(SWITCH_EXIT.reloadFailed)
    expect(run.answer.facts.restore).toBeUndefined()
    expect(readFileSync(include, 'utf8')).toBe('set $service_url http://127.0.0.1:8081;\n')
    expect(statSync(include).ino).toBe(inode)
    expect(leftovers(dir)).toEqual([])
  })

  it('no sudo rule for tee: exit 60, the refusal and the tee path reported, the include untouched', () => {
    const { dir, include } = setUp(0o644)
    const run = runAsNobody(switchScript(params(include)))
    expect(run.code).toBe(SWITCH_EXIT.writeFailed)
    expect(run.answer.facts).toMatchObject({ error: 'include_write', write_as: 'sudo', write_step: 'write', tee_path: '/usr/bin/tee' })
    expect(run.answer.sections.write_output).toMatch(/sudo/)
    expect(readFileSync(include, 'utf8')).toBe('set $service_url http://127.0.0.1:8081;\n')
    expect(leftovers(dir)).toEqual([])
  })
})

// A private nginx (if installed): the switch against the real thing, watched through /proc. In the
// run's session the script finds a private directory (ZDD_TMP), and looks for the workers before
// the reload while nginx tests the configuration; run alone, it looks for them when it reloads.
describe.skipIf(!NGINX).each([
  { mode: 'run alone', session: false },
  { mode: "in a session's shell", session: true },
])('switchScript against a private nginx, $mode', { timeout: 30_000 }, ({ session }) => {
  let nginx: PrivateNginx
  let env: NodeJS.ProcessEnv | undefined
  let include: string
  let backends: number[]
  let backendProcesses: ChildProcess[] = []
  const template = TEMPLATE
  const viaNginx = () => viaPrivateNginx(nginx.port)
  /** A list of pids, as the switch names them, in order. */
  const sortedPids = (pids: string | undefined) =>
    pids
      ?.trim()
      .split(' ')
      .map(Number)
      .sort((a, b) => a - b)

  const params = (port: number, overrides: Partial<SwitchParams> = {}): SwitchParams => ({
    include,
    content: renderInclude(template, port),
    testCommand: nginx.testCommand,
    reloadCommand: nginx.reloadCommand,
    masterHint: nginxMasterHint(nginx.reloadCommand),
    verifyUrl: '',
    verifyTimeoutSeconds: 2,
    intervalSeconds: 0.1,
    reloadTimeoutSeconds: 5,
    releaseStateFile: '',
    ...overrides,
  })

  beforeAll(async () => {
    ;({ ports: backends, processes: backendProcesses } = await startBackends(2))
    nginx = await startPrivateNginx(tempDir('zdd-nginx-'), backends[0])
    include = nginx.include
    env = session ? { ...process.env, ZDD_TMP: tempDir('zdd-session-') } : undefined
  })

  afterAll(() => {
    nginx?.stop()
    for (const child of backendProcesses) child.kill('SIGKILL')
  })

  it('switches traffic to the other port, and sees the reload taken', async () => {
    expect(await viaNginx()).toBe(`200 backend ${backends[0]}`)
    const run = await switchAndHandOver(env, params(backends[1]))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ reload: 'observed', switched: 'yes' })
    expect(await viaNginx()).toBe(`200 backend ${backends[1]}`)
    expect(readFileSync(include, 'utf8')).toBe(`${renderInclude(template, backends[1])}\n`)
    expect(await settledLeftovers(dirname(include))).toEqual([])
  })

  it('answers once the new workers run, naming the old ones; after the hand-over those take no new connection', async () => {
    const target = readFileSync(include, 'utf8').includes(`:${backends[0]};`) ? backends[1] : backends[0]
    const before = nginx.workers()
    const run = await runScript(switchScript(params(target)), { env })
    expect(run.code, run.stdout).toBe(0)
    expect(sortedPids(run.answer.facts.old_workers)).toEqual([...before].sort((a, b) => a - b))
    const handover = await runScript(handoverScript(run.answer.facts.old_workers ?? '', 5), { env })
    expect(handover.code, handover.stdout).toBe(0)
    expect(handover.answer.facts.handover).toBeUndefined()
    for (const pid of before) {
      const title = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'latin1') : ''
      expect(title === '' || title.includes('shutting down'), title).toBe(true)
    }
    for (let i = 0; i < 20; i++) expect(await viaNginx()).toBe(`200 backend ${target}`)
  })

  it("where the kernel keeps no list of a process's children, the scan of every process sees the reload and names the old workers", async () => {
    const target = readFileSync(include, 'utf8').includes(`:${backends[0]};`) ? backends[1] : backends[0]
    const before = nginx.workers()
    const script = switchScript(params(target))
    const withoutChildrenList = script.replace('children_file=/proc/$1/task/$1/children', 'children_file=/proc/$1/task/$1/no-such-list')
    expect(withoutChildrenList).not.toBe(script)
    const run = await runScript(withoutChildrenList, { env })
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ reload: 'observed', switched: 'yes' })
    expect(sortedPids(run.answer.facts.old_workers)).toEqual([...before].sort((a, b) => a - b))
    const handover = await runScript(handoverScript(run.answer.facts.old_workers ?? '', 5), { env })
    expect(handover.code, handover.stdout).toBe(0)
    for (let i = 0; i < 20; i++) expect(await viaNginx()).toBe(`200 backend ${target}`)
  })

  it('nginx -t rejecting the new include: the old one is back byte for byte and traffic never moved', async () => {
    const before = readFileSync(include)
    const served = await viaNginx()
    const run = await runScript(switchScript(params(backends[0], { content: 'this is not nginx configuration;' })), { env })
    expect(run.code).toBe(SWITCH_EXIT.testFailed)
    expect(run.answer.sections.test_output).toMatch(/unknown directive|emerg/)
    expect(readFileSync(include)).toEqual(before)
    expect(await viaNginx()).toBe(served)
    expect(await settledLeftovers(dirname(include))).toEqual([])
  })

  it('a reload command that does not reload: not taken within the timeout, exit 63, the old include back', async () => {
    const before = readFileSync(include)
    const served = await viaNginx()
    const target = served.endsWith(` ${backends[0]}`) ? backends[1] : backends[0]
    const run = await runScript(switchScript(params(target, { reloadCommand: 'true', reloadTimeoutSeconds: 1 })), { env })
    expect(run.code, run.stdout).toBe(SWITCH_EXIT.notTaken)
    expect(run.answer.facts).toMatchObject({ reload: 'not_taken', error: 'reload_not_taken' })
    expect(readFileSync(include)).toEqual(before)
    expect(await viaNginx()).toBe(served)
    expect(await settledLeftovers(dirname(include))).toEqual([])
  })

  it('verify-url answering 2xx: verify=ok', async () => {
    const target = readFileSync(include, 'utf8').includes(`:${backends[0]};`) ? backends[1] : backends[0]
    const run = await switchAndHandOver(env, params(target, { verifyUrl: `http://127.0.0.1:${nginx.port}/` }))
    expect(run.code, run.stdout).toBe(0)
    expect(run.answer.facts).toMatchObject({ verify: 'ok', switched: 'yes' })
    expect(await viaNginx()).toBe(`200 backend ${target}`)
  })

  it('verify-url failing after the switch: the old include is put back, nginx reloaded, exit 64', async () => {
    const before = readFileSync(include)
    const served = await viaNginx()
    const deadPort = await freePort()
    const run = await runScript(switchScript(params(deadPort, { verifyUrl: `http://127.0.0.1:${nginx.port}/`, verifyTimeoutSeconds: 1 })), {
      env,
    })
    expect(run.code, run.stdout).toBe(SWITCH_EXIT.verifyFailed)
    expect(run.answer.facts).toMatchObject({ verify: 'failed', verify_status: '502', rolled_back: 'yes' })
    expect(readFileSync(include)).toEqual(before)
    expect(await viaNginx()).toBe(served)
    expect(await settledLeftovers(dirname(include))).toEqual([])
  })
})
