import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { InputError, firstDestination, parseInputs, secretsOf, type DeployConfig } from '../../src/config/inputs.js'

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'

/** The least a deploy needs. */
const BASE: Record<string, string> = {
  host: 'example.com',
  username: 'deploy',
  'private-key': KEY,
  artifact: 'build/libs/*.jar',
}

function getter(values: Record<string, string>): (name: string) => string {
  return (name) => values[name] ?? ''
}

function parse(overrides: Record<string, string> = {}, repository = 'acme/shop-api'): DeployConfig {
  return parseInputs(getter({ ...BASE, ...overrides }), { repository })
}

/** The InputError that parsing throws (fails the test when nothing is thrown). */
function problemsOf(overrides: Record<string, string>, base: Record<string, string> = BASE): InputError {
  try {
    parseInputs(getter({ ...base, ...overrides }), { repository: 'acme/shop-api' })
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return error as InputError
  }
  throw new Error(`parseInputs accepted ${JSON.stringify(overrides)}`)
}

/** action.yml's inputs and their defaults (the file is simple enough to read without a YAML parser). */
function actionYmlInputs(): Map<string, string | undefined> {
  const text = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')
  const inputs = new Map<string, string | undefined>()
  const section = text.slice(text.indexOf('\ninputs:'), text.indexOf('\noutputs:'))
  let current: string | undefined
  for (const line of section.split('\n')) {
    const name = /^ {2}([a-z0-9-]+):\s*$/.exec(line)
    if (name) {
      current = name[1]
      inputs.set(current, undefined)
      continue
    }
    const def = /^ {4}default:\s*(.*)$/.exec(line)
    if (def && current) {
      const raw = def[1].trim()
      const value = raw.startsWith("'") ? raw.slice(1, -1).replace(/''/g, "'") : raw.startsWith('"') ? JSON.parse(raw) : raw
      inputs.set(current, value)
    }
  }
  return inputs
}

describe('parseInputs: defaults', () => {
  const config = parse()

  it('connection defaults: port 22, timeout 30 s, no pins, no proxy', () => {
    expect(config.hosts).toEqual([{ host: 'example.com', port: 22, username: 'deploy', label: 'deploy@example.com' }])
    expect(config.connectTimeoutSeconds).toBe(30)
    expect(config.hostKeys).toEqual({ fingerprints: [], knownHosts: '', insecureSkip: false })
    expect(config.jumpHosts).toEqual([])
    expect(config.proxyCommand).toBe('')
    expect(config.connectRetries).toBe(3)
    expect(config.auth).toEqual({ privateKey: KEY.trim(), passphrase: undefined, password: undefined })
  })

  it('release defaults: app name from the repository, deploy-dir apps/<app name>, keep 5', () => {
    expect(config.appName).toBe('shop-api')
    expect(config.deployDir).toBe('apps/shop-api')
    expect(config.keepReleases).toBe(5)
    expect(config.artifact).toBe('build/libs/*.jar')
  })

  it('deploy-dir follows app-name when only app-name is set', () => {
    expect(parse({ 'app-name': 'billing' }).deployDir).toBe('apps/billing')
  })

  it('run defaults: ports 8081,8082, the java start command, health /actuator/health, 120 s, 0.5 s', () => {
    expect(config.ports).toEqual([8081, 8082])
    expect(config.startCommand).toBe('java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"')
    expect(config.javaOpts).toBe('')
    expect(config.env).toEqual([])
    expect(config.health).toEqual({ path: '/actuator/health', timeoutSeconds: 120, intervalSeconds: 0.5, expect: '' })
    expect(config.stopPrevious).toBe(false)
    expect(config.drainSeconds).toBe(10)
    expect(config.stopTimeoutSeconds).toBe(30)
    expect(config.supervisor).toBe('auto')
  })

  it('switch defaults: the include, its template, sudo -n nginx -t and -s reload, no verify-url', () => {
    expect(config.nginx).toEqual({
      include: '/etc/nginx/conf.d/service-url.inc',
      template: 'set $service_url http://127.0.0.1:{port};',
      testCommand: 'sudo -n nginx -t',
      reloadCommand: 'sudo -n nginx -s reload',
    })
    expect(config.verifyUrl).toBe('')
  })

  it('control defaults: deploy, no dry run, lock-timeout 300 s, max-parallel 1, stage-parallel 32', () => {
    expect(config.command).toBe('deploy')
    expect(config.dryRun).toBe(false)
    expect(config.lockTimeoutSeconds).toBe(300)
    expect(config.maxParallel).toBe(1)
    expect(config.stageParallel).toBe(32)
  })

  it('hook defaults: no hooks, hook-timeout 300 s; log-lines 200', () => {
    expect(config.hooks).toEqual({ 'pre-start': '', 'pre-switch': '', 'post-switch': '' })
    expect(config.hookTimeoutSeconds).toBe(300)
    expect(config.logLines).toBe(200)
  })

  it("action.yml's defaults, as GitHub passes them, give the same config as unset inputs", () => {
    const declared = actionYmlInputs()
    const withYmlDefaults: Record<string, string> = {}
    for (const [name, value] of declared) if (value !== undefined) withYmlDefaults[name] = value
    expect(parseInputs(getter({ ...withYmlDefaults, ...BASE }), { repository: 'acme/shop-api' })).toEqual(config)
  })

  it('reads exactly the inputs that action.yml declares', () => {
    const read = new Set<string>()
    parseInputs(
      (name) => {
        read.add(name)
        return { ...BASE, 'proxy-host': 'bastion.example.com' }[name] ?? ''
      },
      { repository: 'acme/shop-api' },
    )
    expect([...read].sort()).toEqual([...actionYmlInputs().keys()].sort())
  })
})

describe('parseInputs: values', () => {
  it('reads numbers, durations with units, booleans in their usual spellings', () => {
    const config = parse({
      'health-timeout': '2m',
      'health-interval': '250ms',
      'drain-seconds': '0',
      'stop-timeout': '1.5',
      supervisor: ' SystemD ',
      'lock-timeout': '0',
      'keep-releases': '1',
      'max-parallel': '3',
      'stage-parallel': '4',
      'stop-previous': 'TRUE',
      'dry-run': 'yes',
      'insecure-skip-host-key-check': 'off',
      ports: ' 9001, 9002 ',
      command: 'rollback',
    })
    expect(config.health.timeoutSeconds).toBe(120)
    expect(config.health.intervalSeconds).toBeCloseTo(0.25)
    expect(config.drainSeconds).toBe(0)
    expect(config.stopTimeoutSeconds).toBe(1.5)
    expect(config.supervisor).toBe('systemd')
    expect(config.lockTimeoutSeconds).toBe(0)
    expect(config.keepReleases).toBe(1)
    expect(config.maxParallel).toBe(3)
    expect(config.stageParallel).toBe(4)
    expect(config.stopPrevious).toBe(true)
    expect(config.dryRun).toBe(true)
    expect(config.hostKeys.insecureSkip).toBe(false)
    expect(config.ports).toEqual([9001, 9002])
    expect(config.command).toBe('rollback')
  })

  it('keeps several fingerprints, separated by spaces, commas or newlines', () => {
    const a = `SHA256:${'A'.repeat(43)}`
    const b = `SHA256:${'b/+9'.repeat(10)}xyz`
    expect(parse({ 'host-fingerprint': `${a},\n ${b}` }).hostKeys.fingerprints).toEqual([a, b])
  })

  it('an absolute deploy-dir is kept as written', () => {
    expect(parse({ 'deploy-dir': '/srv/apps/shop' }).deployDir).toBe('/srv/apps/shop')
  })

  it('keeps each hook as one command line, multi-line scripts included; hook-timeout takes units', () => {
    const migrate = 'java -cp "$ARTIFACT" -Dloader.main=db.Migrate org.springframework.boot.loader.launch.PropertiesLauncher'
    const config = parse({
      'pre-start-command': `  ${migrate}  `,
      'pre-switch-command': 'for i in 1 2 3; do\n  curl -fsS "http://127.0.0.1:$PORT/warmup"\ndone',
      'post-switch-command': "curl -X PURGE 'http://cdn.internal/'",
      'hook-timeout': '10m',
      'log-lines': '50',
      command: 'logs',
    })
    expect(config.hooks['pre-start']).toBe(migrate)
    expect(config.hooks['pre-switch']).toBe('for i in 1 2 3; do\n  curl -fsS "http://127.0.0.1:$PORT/warmup"\ndone')
    expect(config.hooks['post-switch']).toBe("curl -X PURGE 'http://cdn.internal/'")
    expect(config.hookTimeoutSeconds).toBe(600)
    expect(config.logLines).toBe(50)
    expect(config.command).toBe('logs')
  })

  it('a password alone is enough to authenticate', () => {
    const config = parse({ 'private-key': '', password: ' pass word ' })
    expect(config.auth.password).toBe(' pass word ')
    expect(config.auth.privateKey).toBeUndefined()
  })

  it('a jump host inherits the user and key unless given its own', () => {
    const config = parse({ 'proxy-host': 'jump@bastion.example.com:2200', passphrase: 'pp-secret' })
    expect(config.jumpHosts[0]?.entry).toEqual({
      host: 'bastion.example.com',
      port: 2200,
      username: 'jump',
      label: 'jump@bastion.example.com:2200',
    })
    expect(config.jumpHosts[0]?.auth).toEqual({ privateKey: KEY.trim(), passphrase: 'pp-secret' })
    const own = parse({ 'proxy-host': 'bastion', 'proxy-port': '2022', 'proxy-private-key': KEY.replace('b3Bl', 'Zm9v') })
    expect(own.jumpHosts[0]?.entry).toMatchObject({ host: 'bastion', port: 2022, username: 'deploy' })
    expect(own.jumpHosts[0]?.auth.privateKey).toContain('Zm9v')
    expect(parse({ 'proxy-host': 'bastion' }).jumpHosts[0]?.entry).toMatchObject({ host: 'bastion', port: 22, username: 'deploy' })
    expect(parse({ 'proxy-host': 'bastion', 'proxy-username': 'jumper' }).jumpHosts[0]?.entry.username).toBe('jumper')
  })
})

describe('parseInputs: host entries', () => {
  const hostsOf = (host: string, extra: Record<string, string> = {}) => parse({ host, ...extra }).hosts

  it.each([
    ['web1.example.com', { host: 'web1.example.com', port: 22, username: 'deploy', label: 'deploy@web1.example.com' }],
    ['10.0.0.5:2222', { host: '10.0.0.5', port: 2222, username: 'deploy', label: 'deploy@10.0.0.5:2222' }],
    ['ubuntu@web1', { host: 'web1', port: 22, username: 'ubuntu', label: 'ubuntu@web1' }],
    ['ec2-user@web1:2200', { host: 'web1', port: 2200, username: 'ec2-user', label: 'ec2-user@web1:2200' }],
    ['[2001:db8::1]:2222', { host: '2001:db8::1', port: 2222, username: 'deploy', label: 'deploy@[2001:db8::1]:2222' }],
    ['user@[::1]', { host: '::1', port: 22, username: 'user', label: 'user@[::1]' }],
    ['[::ffff:10.0.0.1]', { host: '::ffff:10.0.0.1', port: 22, username: 'deploy', label: 'deploy@[::ffff:10.0.0.1]' }],
  ])('%s', (entry, expected) => {
    expect(hostsOf(entry)).toEqual([expected])
  })

  it('the port input applies to entries that name no port', () => {
    expect(hostsOf('a, b:2200', { port: '2022' }).map((h) => h.port)).toEqual([2022, 2200])
  })

  it('a user@ entry needs no username input', () => {
    const config = parse({ username: '', host: 'alice@a\nbob@b:2022' })
    expect(config.hosts.map((h) => h.label)).toEqual(['alice@a', 'bob@b:2022'])
  })

  it('splits lists on newlines and commas, in order, dropping blank entries', () => {
    const hosts = hostsOf('web1.example.com\n\nweb2.example.com:2222,  ops@web3 ,\r\n[::1]:22\n')
    expect(hosts.map((h) => [h.username, h.host, h.port])).toEqual([
      ['deploy', 'web1.example.com', 22],
      ['deploy', 'web2.example.com', 2222],
      ['ops', 'web3', 22],
      ['deploy', '::1', 22],
    ])
  })

  it('rejects a host listed twice', () => {
    const error = problemsOf({ host: 'web1, deploy@web1:22' })
    expect(error.message).toMatch(/host: .*web1.*twice/)
  })
})

describe('parseInputs: env', () => {
  it('keeps values byte for byte: "=", spaces, quotes, $, backslashes, unicode', () => {
    const env = [
      'DB_URL=jdbc:postgresql://db:5432/app?user=a&password=b=c',
      'QUOTED=\'single\' "double" `tick` $(not run) \\n',
      'SPACES=  leading and trailing  ',
      'EMPTY=',
      '  # a comment',
      '',
      '   ',
      'UNICODE=héllo wörld ✓ 😀',
      '_UNDER_1=x\r',
      ' KEY_WITH_SPACES_AROUND =v',
    ].join('\n')
    expect(parse({ env }).env).toEqual([
      ['DB_URL', 'jdbc:postgresql://db:5432/app?user=a&password=b=c'],
      ['QUOTED', '\'single\' "double" `tick` $(not run) \\n'],
      ['SPACES', '  leading and trailing  '],
      ['EMPTY', ''],
      ['UNICODE', 'héllo wörld ✓ 😀'],
      ['_UNDER_1', 'x'],
      ['KEY_WITH_SPACES_AROUND', 'v'],
    ])
  })

  it('a line starting with # is a comment, even with = in it', () => {
    expect(parse({ env: '#KEY=value\nA=1' }).env).toEqual([['A', '1']])
  })
})

/**
 * Bad values: each must fail naming the input, showing the value (unless it is a secret) and
 * saying what is expected. `hint` is how the message says what is expected.
 */
const BAD: Array<{ input: string; value: string; hint?: RegExp; shows?: string; base?: Record<string, string> }> = [
  { input: 'ports', value: '8081' },
  { input: 'ports', value: '8081,8081', hint: /expected two different ports/ },
  { input: 'ports', value: '0,8082' },
  { input: 'ports', value: '8081,70000' },
  { input: 'ports', value: 'a,b' },
  { input: 'ports', value: '8081,8082,8083' },
  { input: 'health-timeout', value: '-1' },
  { input: 'health-timeout', value: 'abc' },
  { input: 'health-timeout', value: '0' },
  { input: 'health-interval', value: '0' },
  { input: 'stop-timeout', value: '10 minutes' },
  { input: 'supervisor', value: 'docker', hint: /expected auto, systemd or none/ },
  { input: 'connect-timeout', value: '0' },
  { input: 'lock-timeout', value: '5h' },
  { input: 'drain-seconds', value: '-5' },
  { input: 'dry-run', value: 'maybe' },
  { input: 'stop-previous', value: '2' },
  { input: 'insecure-skip-host-key-check', value: 'sure' },
  { input: 'command', value: 'deploy-now', hint: /expected deploy, rollback, status, logs, promote, maintenance or live/ },
  { input: 'app-name', value: '../x' },
  { input: 'app-name', value: 'my app' },
  { input: 'app-name', value: 'a/b' },
  { input: 'app-name', value: '..' },
  { input: 'keep-releases', value: '0' },
  { input: 'keep-releases', value: '1.5' },
  { input: 'max-parallel', value: '0' },
  { input: 'stage-parallel', value: '0' },
  { input: 'hook-timeout', value: '0' },
  { input: 'hook-timeout', value: 'forever' },
  { input: 'log-lines', value: '0' },
  { input: 'log-lines', value: 'all' },
  { input: 'port', value: '65536' },
  { input: 'proxy-port', value: 'ssh', base: { ...BASE, 'proxy-host': 'bastion' } },
  { input: 'host', value: 'bad_host', hint: /letters, digits/ },
  { input: 'host', value: 'h:0', hint: /expected a number from 1 to 65535/ },
  { input: 'host', value: 'h:99999', hint: /expected a number from 1 to 65535/ },
  { input: 'host', value: 'h:', hint: /expected a number from 1 to 65535/ },
  { input: 'host', value: '2001:db8::1', hint: /in brackets, e\.g\. \[2001:db8::1\]:22/ },
  { input: 'host', value: '[::1', hint: /never closes/ },
  { input: 'host', value: '[::1]x', hint: /":port"/ },
  { input: 'host', value: '[web1]:22', hint: /not an IPv6 address/ },
  { input: 'host', value: '@host', hint: /letters, digits/ },
  { input: 'host', value: 'bad user@host', hint: /letters, digits/ },
  { input: 'host', value: 'plain-host', hint: /username input or write user@host/, base: { ...BASE, username: '' } },
  { input: 'host', value: '', hint: /expected a host name/, shows: '' },
  { input: 'proxy-host', value: 'bastion:0', hint: /expected a number from 1 to 65535/ },
  { input: 'host-fingerprint', value: 'MD5:aa:bb' },
  { input: 'host-fingerprint', value: 'SHA256:tooShort' },
  { input: 'proxy-host-fingerprint', value: 'aa:bb:cc', base: { ...BASE, 'proxy-host': 'bastion' } },
  { input: 'env', value: '1BAD=x', shows: 'line 1 has a name that is not valid' },
  // A line without "=" may be a wrapped secret: it is named by number, never echoed.
  { input: 'env', value: 'NOEQUALS', shows: 'line 1 has no "="' },
  { input: 'env', value: 'A=1\nBAD-KEY=x', shows: 'line 2 has a name that is not valid' },
  { input: 'health-path', value: 'health' },
  { input: 'health-path', value: '/a b' },
  { input: 'nginx-include-template', value: 'set $x 1;' },
  { input: 'nginx-include', value: '/etc/nginx/conf.d/' },
  { input: 'verify-url', value: 'ftp://x' },
  { input: 'verify-url', value: 'http://x/a b' },
  { input: 'deploy-dir', value: '/' },
  { input: 'deploy-dir', value: '../x' },
  { input: 'deploy-dir', value: 'apps/../../etc' },
  { input: 'artifact', value: '', hint: /expected the path or glob/, shows: '' },
]

describe('parseInputs: bad values', () => {
  it.each(BAD.map((row) => [`${row.input}: ${JSON.stringify(row.value)}`, row] as const))('%s', (_, row) => {
    const error = problemsOf({ [row.input]: row.value }, row.base)
    const mine = error.problems.filter((p) => p.startsWith(`${row.input}: `))
    expect(mine, error.message).toHaveLength(1)
    const [problem] = mine
    expect(problem.startsWith(`${row.input}: `), problem).toBe(true)
    expect(problem).toContain(row.shows ?? row.value)
    expect(problem).toMatch(row.hint ?? /expected/)
    // Only the bad input is reported (a deploy-dir derived from a bad app-name may be too).
    const others = error.problems.filter((p) => p !== problem && !(row.input === 'app-name' && p.startsWith('deploy-dir: ')))
    expect(others).toEqual([])
  })

  it('private-key: not a key is refused without echoing the secret', () => {
    const error = problemsOf({ 'private-key': 'not a key, but it is secret' })
    expect(error.problems).toHaveLength(1)
    expect(error.message).toMatch(/^private-key: .*expected .*-----BEGIN/)
    expect(error.message).not.toContain('secret')
  })

  it('no private-key and no password: names both', () => {
    const error = problemsOf({ 'private-key': '' })
    expect(error.message).toMatch(/private-key/)
    expect(error.message).toMatch(/password/)
    expect(error.message).toMatch(/expected at least one way to authenticate/)
  })

  it('a bad env line echoes nothing of itself, before "=" or after it: only its number and the reason', () => {
    for (const line of ['9TOKEN=hunter2-secret-value', 'hunter2-secret-value DB_PASSWORD=x', 'DB-PASS=hunter2-secret-value']) {
      const error = problemsOf({ env: `OK=1\n${line}` })
      expect(error.problems).toEqual([
        'env: line 2 has a name that is not valid; expected KEY=VALUE lines with KEY made of letters, digits and "_", not starting with a digit',
      ])
      for (const part of line.split(/[= ]/).filter((word) => word.length > 3)) expect(error.message).not.toContain(part)
    }
  })

  it('reports every bad input at once, one per line', () => {
    const error = problemsOf({
      ports: '8081',
      'health-timeout': 'abc',
      'dry-run': 'maybe',
      host: 'bad_host',
      'app-name': 'my app',
      env: '1BAD=x',
    })
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(['app-name', 'dry-run', 'env', 'health-timeout', 'host', 'ports'])
    for (const problem of error.problems) expect(error.message).toContain(`- ${problem}`)
    expect(error.message).toMatch(/^6 inputs are not valid/)
  })

  it('every bad host entry of a list is reported', () => {
    const error = problemsOf({ host: 'good, bad_host, h:0, also_bad' })
    expect(error.problems).toHaveLength(3)
  })

  it('rollback, status and logs need no artifact', () => {
    for (const command of ['rollback', 'status', 'logs']) {
      const config = parse({ command, artifact: '' })
      expect(config.command).toBe(command)
      expect(config.artifact).toBe('')
    }
    expect(problemsOf({ artifact: '' }).message).toMatch(/^artifact: /)
  })

  it('a missing repository and app-name fails on app-name rather than deploying to apps/', () => {
    expect(() => parseInputs(getter(BASE), {})).toThrow(/app-name/)
  })
})

describe('secretsOf', () => {
  it('returns the key, passphrase, password and env values', () => {
    const config = parse({ passphrase: 'my passphrase', password: 'pw-secret', env: 'DB_PASSWORD=s3cr3t=x\nTOKEN=abc.def' })
    const secrets = secretsOf(config)
    expect(secrets).toEqual(expect.arrayContaining([KEY.trim(), 'my passphrase', 'pw-secret', 's3cr3t=x', 'abc.def']))
  })

  it("includes the jump host's own key and passphrase", () => {
    const proxyKey = KEY.replace('b3Bl', 'cHJveHk')
    const config = parse({ 'proxy-host': 'bastion', 'proxy-private-key': proxyKey, 'proxy-passphrase': 'proxy-pass' })
    expect(secretsOf(config)).toEqual(expect.arrayContaining([proxyKey.trim(), 'proxy-pass']))
  })

  it('returns java-opts whole and the value of each -D option in it', () => {
    const javaOpts = '-Xmx256m -Ddb.password=S3cret-in-opts -Dapp.mode=blue'
    const secrets = secretsOf(parse({ 'java-opts': javaOpts }))
    expect(secrets).toEqual(expect.arrayContaining([javaOpts, 'S3cret-in-opts', 'blue']))
  })

  it('returns no empty strings (they would mask nothing useful)', () => {
    expect(secretsOf(parse({ env: 'EMPTY=' }))).not.toContain('')
  })
})

describe('firstDestination', () => {
  const first = (values: Record<string, string>) => firstDestination(getter(values))

  it('is the first listed host, with the port input or its own', () => {
    expect(first({ host: 'a.example.com, b.example.com' })).toEqual({ host: 'a.example.com', port: 22 })
    expect(first({ host: '\n  deploy@a.example.com:2222\nb.example.com', port: '2200' })).toEqual({ host: 'a.example.com', port: 2222 })
    expect(first({ host: 'a.example.com', port: '2200' })).toEqual({ host: 'a.example.com', port: 2200 })
    expect(first({ host: '[2001:db8::1]:2022' })).toEqual({ host: '2001:db8::1', port: 2022 })
  })

  it('is the bastion when there is one: the first connection goes there', () => {
    expect(first({ host: '10.0.1.5', port: '2200', 'proxy-host': 'ec2-user@bastion.example.com', 'proxy-port': '2022' })).toEqual({
      host: 'bastion.example.com',
      port: 2022,
    })
    expect(first({ host: '10.0.1.5', 'proxy-host': 'bastion.example.com' })).toEqual({ host: 'bastion.example.com', port: 22 })
  })

  it('names nothing when the inputs do not name a host cleanly (parseInputs reports those)', () => {
    expect(first({})).toBeUndefined()
    expect(first({ host: 'bad host!' })).toBeUndefined()
    expect(first({ host: 'a.example.com', port: '70000' })).toBeUndefined()
    expect(first({ host: 'a.example.com', port: 'ssh' })).toBeUndefined()
    expect(first({ host: 'a.example.com', 'proxy-host': 'bastion.example.com:x' })).toBeUndefined()
  })
})
