/**
 * The switch with the http-level file (SwitchParams.httpFile) against a private nginx: written
 * before the include, tested with it, and both put back byte for byte when nginx refuses either,
 * the reload fails or the verify URL does; by a user who writes the files, and through
 * `sudo -n tee <file>` alone.
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nginxMasterHint } from '../../../src/deploy/plan.js'
import { SWITCH_EXIT, type SwitchParams, switchScript } from '../../../src/remote/nginx.js'
import { parseAnswer } from '../../../src/remote/protocol.js'
import { httpLevelConfig, includeText } from '../../../src/remote/traffic.js'
import { cleanUpAfterAll, runScript, settledLeftovers, tempDir } from './local-host.js'
import { NGINX, startBackends, switchAndHandOver, viaNginx } from './private-nginx.js'
import { APP, type Site, TEMPLATE, startSite } from './traffic-site.js'

cleanUpAfterAll()

/** Bytes no text tool would keep as they are. */
const ODD = Buffer.concat([Buffer.from('# kept as it was\r\n# odd bytes: '), Buffer.from([0xff, 0xfe, 0x80, 0x09]), Buffer.from('\n\n  ')])

describe.skipIf(!NGINX)('the switch with the http-level file, against a private nginx', { timeout: 60_000 }, () => {
  let site: Site
  let backends: number[]
  let processes: ChildProcess[] = []

  const canary = (percent: number) => {
    const split = { percent, newPort: backends[1], previousPort: backends[0] }
    return {
      content: includeText({
        template: TEMPLATE,
        appName: APP,
        mode: { mode: 'canary', split },
        trafficLog: site.trafficLog,
        userAccessLogs: [],
      }),
      httpFile: { path: site.httpFile, content: httpLevelConfig({ appName: APP, canaryKey: '$http_x_client', port: backends[0], split }) },
    }
  }
  const params = (overrides: Partial<SwitchParams>): SwitchParams => ({
    include: site.include,
    content: '',
    testCommand: site.testCommand,
    reloadCommand: site.reloadCommand,
    masterHint: nginxMasterHint(site.reloadCommand),
    verifyUrl: '',
    verifyTimeoutSeconds: 1,
    intervalSeconds: 0.1,
    reloadTimeoutSeconds: 5,
    releaseStateFile: '',
    ...overrides,
  })
  const plainInclude = () => Buffer.from(`${TEMPLATE.replace('{port}', String(backends[0]))}\n`)
  /** The include as the site started, and the http-level file absent or `http`. */
  const reset = (http?: Buffer) => {
    writeFileSync(site.include, plainInclude())
    rmSync(site.httpFile, { force: true })
    if (http) writeFileSync(site.httpFile, http)
  }

  beforeAll(async () => {
    ;({ ports: backends, processes } = await startBackends(2))
    site = await startSite(backends[0])
  })

  afterAll(() => {
    site?.stop()
    for (const child of processes) child.kill()
  })

  it('a good pair: both written (the http-level file new), tested and served', async () => {
    reset()
    // After the hand-over, no old worker answers for the include that was.
    const run = await switchAndHandOver(undefined, params(canary(99)))
    expect(run.code, run.stdout).toBe(0)
    expect(readFileSync(site.httpFile, 'utf8')).toBe(`${canary(99).httpFile.content}\n`)
    expect(readFileSync(site.include, 'utf8')).toBe(`${canary(99).content}\n`)
    // nginx serves the split: without a client key, the empty key's hash decides, on one side every time.
    const bodies = new Set(await Promise.all([1, 2, 3].map(() => viaNginx(site.port))))
    expect(bodies.size).toBe(1)
    expect(await settledLeftovers(dirname(site.httpFile))).toEqual([])
    expect(await settledLeftovers(dirname(site.include))).toEqual([])
  })

  it('a pair that fails the test (the include is broken): both put back byte for byte', async () => {
    reset(ODD)
    writeFileSync(site.include, ODD)
    const run = await runScript(switchScript(params({ ...canary(20), content: 'proxy_pass_nonsense on;' })))
    expect(run.code).toBe(SWITCH_EXIT.testFailed)
    expect(run.answer.sections.test_output).toMatch(/unknown directive "proxy_pass_nonsense"/)
    expect(readFileSync(site.httpFile)).toEqual(ODD)
    expect(readFileSync(site.include)).toEqual(ODD)
    expect(await settledLeftovers(dirname(site.httpFile))).toEqual([])
    expect(await settledLeftovers(dirname(site.include))).toEqual([])
  })

  it('the http-level file alone broken: the test fails, the include is put back, the http-level file that was not there is gone again', async () => {
    reset()
    const run = await runScript(
      switchScript(params({ ...canary(20), httpFile: { path: site.httpFile, content: 'split_clients "$x" $y {' } })),
    )
    expect(run.code).toBe(SWITCH_EXIT.testFailed)
    expect(run.answer.sections.test_output).toMatch(/zdd-shop\.conf/)
    expect(existsSync(site.httpFile)).toBe(false)
    expect(readFileSync(site.include)).toEqual(plainInclude())
  })

  it('a reload that fails and a verify URL that fails: both files put back', async () => {
    reset(ODD)
    let run = await runScript(switchScript(params({ ...canary(20), reloadCommand: 'echo reload broke; exit 3' })))
    expect(run.code).toBe(SWITCH_EXIT.reloadFailed)
    expect(readFileSync(site.httpFile)).toEqual(ODD)
    expect(readFileSync(site.include)).toEqual(plainInclude())

    reset(ODD)
    // Nothing listens on port 9: the check fails after a switch that nginx took.
    run = await runScript(switchScript(params({ ...canary(20), verifyUrl: 'http://127.0.0.1:9/', verifyTimeoutSeconds: 0.3 })))
    expect(run.code).toBe(SWITCH_EXIT.verifyFailed)
    expect(run.answer.facts.rolled_back).toBe('yes')
    expect(readFileSync(site.httpFile)).toEqual(ODD)
    expect(readFileSync(site.include)).toEqual(plainInclude())
    expect(await viaNginx(site.port)).toBe(`200 backend ${backends[0]}`)
  })

  it('an include that cannot be written: the http-level file written before it is put back, and the answer names the include', async () => {
    reset(ODD)
    const include = join(site.dir, 'no-such-dir', 'service.inc')
    const run = await runScript(switchScript(params({ ...canary(20), include })))
    expect(run.code).toBe(SWITCH_EXIT.writeFailed)
    expect(run.answer.facts).toMatchObject({ error: 'include_write', write_file: include, write_as: 'sudo' })
    expect(readFileSync(site.httpFile)).toEqual(ODD)
  })
})

/**
 * The files' directories read-only for the script (a bind mount in a mount namespace of its own),
 * so that it takes the sudo way; a `sudo` first on PATH logs each command it is asked for, refuses
 * anything but `-n tee <file>` and `-n rm -f -- <file>`, and writes through a writable view of the
 * same directory. The log is the exact list of sudoers rules the switch needs.
 */
describe.skipIf(!NGINX || process.getuid?.() !== 0 || !existsSync('/usr/bin/unshare'))(
  'the switch through sudo -n tee alone',
  { timeout: 60_000 },
  () => {
    let site: Site
    let backends: number[]
    let processes: ChildProcess[] = []
    let writable: string
    let bin: string

    beforeAll(async () => {
      ;({ ports: backends, processes } = await startBackends(2))
      site = await startSite(backends[0])
      writable = tempDir('zdd-rw-')
      bin = tempDir('zdd-sudo-')
      const sudo = `#!/bin/sh
echo "$*" >> ${bin}/sudo.log
[ "$1" = -n ] || exit 1
shift
map() { case "$1" in ${site.dir}/*) echo "${writable}/\${1#${site.dir}/}" ;; *) echo "$1" ;; esac; }
case "$1 $#" in
  "tee 2") exec tee "$(map "$2")" ;;
  "rm 4") [ "$2 $3" = "-f --" ] && exec rm -f -- "$(map "$4")" ;;
esac
echo "sudo: a password is required" >&2
exit 1
`
      writeFileSync(join(bin, 'sudo'), sudo)
      chmodSync(join(bin, 'sudo'), 0o755)
    })

    afterAll(() => {
      site?.stop()
      for (const child of processes) child.kill()
    })

    /** Runs the switch with conf.d and snippets read-only, as for a user who may only use sudo tee. */
    function runReadOnly(p: SwitchParams) {
      const dirs = ['conf.d', 'snippets'].map((sub) => join(site.dir, sub))
      const mounts = [
        `mount --bind ${site.dir} ${writable}`,
        ...dirs.flatMap((dir) => [`mount --bind ${dir} ${dir}`, `mount -o remount,bind,ro ${dir}`]),
      ].join(' && ')
      const result = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `${mounts} && PATH=${bin}:$PATH exec sh -s`], {
        input: switchScript(p),
        encoding: 'utf8',
      })
      return { code: result.status, stdout: result.stdout, answer: parseAnswer(result.stdout) }
    }
    const sudoLog = () => (existsSync(join(bin, 'sudo.log')) ? readFileSync(join(bin, 'sudo.log'), 'utf8').trim().split('\n') : [])

    it('a good pair, then a pair nginx refuses: written with tee, put back with tee; a new http-level file is left empty', async () => {
      const split = { percent: 20, newPort: backends[1], previousPort: backends[0] }
      const httpFile = {
        path: site.httpFile,
        content: httpLevelConfig({ appName: APP, canaryKey: '$remote_addr', port: backends[0], split }),
      }
      const content = includeText({
        template: TEMPLATE,
        appName: APP,
        mode: { mode: 'canary', split },
        trafficLog: site.trafficLog,
        userAccessLogs: [],
      })
      const p: SwitchParams = {
        include: site.include,
        content,
        httpFile,
        testCommand: site.testCommand,
        reloadCommand: site.reloadCommand,
        masterHint: nginxMasterHint(site.reloadCommand),
        verifyUrl: '',
        verifyTimeoutSeconds: 1,
        intervalSeconds: 0.1,
        reloadTimeoutSeconds: 5,
        releaseStateFile: '',
      }
      const plain = readFileSync(site.include)
      let run = runReadOnly({ ...p, content: 'proxy_pass_nonsense on;' })
      expect(run.code, run.stdout).toBe(SWITCH_EXIT.testFailed)
      expect(run.answer.facts.restore).toBeUndefined()
      expect(readFileSync(site.include)).toEqual(plain)
      expect(readFileSync(site.httpFile, 'utf8')).toBe('')
      expect(sudoLog()).toEqual([`-n tee ${site.httpFile}`, `-n tee ${site.include}`, `-n tee ${site.include}`, `-n tee ${site.httpFile}`])

      rmSync(join(bin, 'sudo.log'))
      run = runReadOnly(p)
      expect(run.code, run.stdout).toBe(0)
      expect(readFileSync(site.httpFile, 'utf8')).toBe(`${httpFile.content}\n`)
      expect(readFileSync(site.include, 'utf8')).toBe(`${content}\n`)
      expect(sudoLog()).toEqual([`-n tee ${site.httpFile}`, `-n tee ${site.include}`])
      expect(readdirSync(dirname(site.httpFile)).filter((name) => name.includes('.zdd-'))).toEqual([])
    })
  },
)
