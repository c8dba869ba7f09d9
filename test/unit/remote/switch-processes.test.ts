/**
 * What a switch costs the host: on a loaded host every process is a wait for a core, and a fleet
 * pays each switch once per wave. Against a private nginx, with the commands the switch may run
 * wrapped so that each one logs itself and its parent.
 */
import type { ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, linkSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nginxMasterHint, renderInclude } from '../../../src/deploy/plan.js'
import { SWITCH_EXIT, type SwitchParams, handoverScript, plainCommand, switchScript } from '../../../src/remote/nginx.js'
import { cleanUpAfterAll, runScript, settledLeftovers, tempDir } from './local-host.js'
import { NGINX, type PrivateNginx, TEMPLATE, startBackends, startPrivateNginx, switchAndHandOver, viaNginx } from './private-nginx.js'

cleanUpAfterAll()

describe('plainCommand: a command line that exec can run in place of a subshell', () => {
  it('words, quoted or not, with a program first', () => {
    expect(plainCommand('sudo -n nginx -t')).toBe(true)
    expect(plainCommand("/usr/sbin/nginx -p '/srv/my site/' -c '/srv/my site/nginx.conf' -s reload")).toBe(true)
    expect(plainCommand('docker exec web nginx -s reload')).toBe(true)
    expect(plainCommand('sudo systemctl reload nginx')).toBe(true)
  })

  it('not with shell syntax, an expansion, an assignment or a shell builtin first', () => {
    for (const command of [
      'nginx -t && echo ok',
      'nginx -t; true',
      'nginx -t | cat',
      'nginx -t > /dev/null',
      'nginx -t 2>&1',
      'nginx -c $CONF -t',
      'nginx -c "$CONF" -t',
      'nginx -c `cat f` -t',
      'NGINX=1 nginx -t',
      '! nginx -t',
      '{ nginx -t; }',
      '(nginx -t)',
      'nginx -c ~/nginx.conf -t',
      'nginx -c /etc/nginx/*.conf -t',
      'nginx -t # the test',
      'nginx -t\nnginx -s reload',
      'cd /etc/nginx && nginx -t',
      'if true then nginx fi',
      'command nginx -t',
      'exec nginx -t',
      'eval nginx -t',
      'true',
      ': nginx',
      "'exit' 1",
      '',
      '   ',
    ])
      expect(plainCommand(command), command).toBe(false)
  })
})

const PROGRAMS = ['ln', 'mv', 'cp', 'rm', 'cat', 'grep', 'awk', 'sleep', 'mktemp', 'tee', 'sed', 'tr', 'cut']

describe.skipIf(!NGINX || !existsSync(`/proc/${process.pid}/task/${process.pid}/children`))(
  'the switch, with "nginx -s reload" whose pid file builtins can find',
  { timeout: 30_000 },
  () => {
    let nginx: PrivateNginx
    let backends: number[]
    let backendProcesses: ChildProcess[] = []
    let bin: string
    let log: string
    let env: NodeJS.ProcessEnv
    let conf: string

    /** A wrapper in bin for program `name` that logs its name, its parent and its arguments, then becomes it. */
    const wrap = (name: string, real: string) => {
      writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $PPID $*" >> '${log}'\nexec '${real}' "$@"\n`)
      chmodSync(join(bin, name), 0o755)
    }
    const where = (program: string) =>
      ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((dir) => join(dir, program)).find((path) => existsSync(path))

    /** The processes a switch started: program and parent pid, in order. */
    const started = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((line) => {
              const [program, parent, ...args] = line.split(' ')
              return { program, parent: Number(parent), args: args.join(' ') }
            })
        : []

    const params = (port: number, overrides: Partial<SwitchParams> = {}): SwitchParams => {
      const reloadCommand = `${join(bin, 'nginx')} ${nginx.args} -s reload`
      return {
        include: nginx.include,
        content: renderInclude(TEMPLATE, port),
        testCommand: `${join(bin, 'nginx')} ${nginx.args} -t`,
        reloadCommand,
        masterHint: nginxMasterHint(reloadCommand),
        verifyUrl: '',
        verifyTimeoutSeconds: 2,
        intervalSeconds: 0.1,
        reloadTimeoutSeconds: 5,
        releaseStateFile: '',
        ...overrides,
      }
    }
    const servedPort = async () => Number((await viaNginx(nginx.port)).split(' ').pop())
    const otherPort = (port: number) => (port === backends[0] ? backends[1] : backends[0])

    beforeAll(async () => {
      ;({ ports: backends, processes: backendProcesses } = await startBackends(2))
      nginx = await startPrivateNginx(tempDir('zdd-nginx-'), backends[0])
      bin = tempDir('zdd-bin-')
      log = join(bin, 'started.log')
      for (const program of PROGRAMS) {
        const real = where(program)
        if (real) wrap(program, real)
      }
      wrap('nginx', NGINX!)
      env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, ZDD_TMP: tempDir('zdd-session-') }
      conf = dirname(nginx.include)
    })

    afterAll(() => {
      nginx?.stop()
      for (const child of backendProcesses) child.kill('SIGKILL')
    })

    it('runs no scan of every process, no awk and no copy; the test is a child of its own shell, and the reload a signal', async () => {
      writeFileSync(log, '')
      const target = otherPort(await servedPort())
      const run = await runScript(switchScript(params(target)), { env })
      expect(run.code, run.stdout).toBe(0)
      expect(run.answer.facts).toMatchObject({ reload: 'observed', nginx_master: String(nginx.masterPid()), switched: 'yes' })

      const programs = started().map((p) => p.program)
      for (const program of ['grep', 'awk', 'cp', 'cat', 'sed', 'mktemp']) expect(programs, programs.join(' ')).not.toContain(program)
      // The old include keeps a second name (ln), the new one moves into place (mv), nginx tests
      // it; the rest is the polls of the watch and the old include's removal. The master is the
      // user's own, so the reload is the SIGHUP \`nginx -s reload\` would send it, without reading
      // the configuration a second time to find its pid file.
      expect(programs.filter((p) => !['sleep', 'rm'].includes(p))).toEqual(['ln', 'mv', 'nginx'])
      const shell = started().find((p) => p.program === 'ln')!.parent
      const [test] = started().filter((p) => p.program === 'nginx')
      expect(test.args).toMatch(/ -t$/)
      expect(test.parent).toBe(shell)
      const handover = await runScript(handoverScript(run.answer.facts.old_workers ?? '', 5), { env })
      expect(handover.code, handover.stdout).toBe(0)
      expect(await viaNginx(nginx.port)).toBe(`200 backend ${target}`)
    })

    it('an old include kept under the name a switch cut short left behind (a second name for it): switched all the same', async () => {
      const served = await servedPort()
      const before = readFileSync(nginx.include)
      const mode = statSync(nginx.include).mode
      // A switch that was stopped between keeping the old include and moving the new one in.
      linkSync(nginx.include, `${nginx.include}.zdd-old`)
      const run = await runScript(switchScript(params(otherPort(served), { content: 'this is not nginx configuration;' })), { env })
      expect(run.code, run.stdout).toBe(SWITCH_EXIT.testFailed)
      expect(readFileSync(nginx.include)).toEqual(before)
      expect(statSync(nginx.include).mode).toBe(mode)
      expect(await settledLeftovers(conf)).toEqual([])

      linkSync(nginx.include, `${nginx.include}.zdd-old`)
      const good = await switchAndHandOver(env, params(otherPort(served)))
      expect(good.code, good.stdout).toBe(0)
      expect(await viaNginx(nginx.port)).toBe(`200 backend ${otherPort(served)}`)
      expect(await settledLeftovers(conf)).toEqual([])
    })

    it('an include on a file system without hard links is copied instead, and put back byte for byte', async () => {
      const served = await servedPort()
      const before = readFileSync(nginx.include)
      // ln refusing, as it does where the file system has no hard links.
      writeFileSync(join(bin, 'ln'), `#!/bin/sh\necho "ln: failed to create hard link: Operation not permitted" >&2\nexit 1\n`)
      try {
        const run = await runScript(switchScript(params(otherPort(served), { content: 'this is not nginx configuration;' })), { env })
        expect(run.code, run.stdout).toBe(SWITCH_EXIT.testFailed)
        expect(readFileSync(nginx.include)).toEqual(before)
        expect(await settledLeftovers(conf)).toEqual([])
      } finally {
        wrap('ln', where('ln')!)
      }
    })
  },
)
