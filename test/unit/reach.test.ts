/**
 * Reaching hosts: proxy-command's % escapes (quoted for the shell, whatever the host name), the
 * retry decision of connect-retries, and proxy-host as a chain of jump hosts.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { InputError, firstDestination, parseInputs, registeredSecretsOf, type DeployConfig } from '../../src/config/inputs.js'
import { ConnectionError, describeConnectError } from '../../src/ssh/errors.js'
import { expandProxyCommand, proxyCommandProblem } from '../../src/ssh/expand-command.js'
import { mayPass, nextTry, retryDelaySeconds } from '../../src/ssh/retry.js'

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n'
const BASE: Record<string, string> = { host: 'example.com', username: 'deploy', 'private-key': KEY, artifact: 'build/libs/*.jar' }
const parse = (overrides: Record<string, string>): DeployConfig =>
  parseInputs((name) => ({ ...BASE, ...overrides })[name] ?? '', { repository: 'acme/shop-api' })
const problems = (overrides: Record<string, string>): string[] => {
  try {
    parse(overrides)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return (error as InputError).problems
  }
  throw new Error(`accepted ${JSON.stringify(overrides)}`)
}

/** The arguments a real sh gives the command after it: what the command would see. */
function argumentsOf(command: string): string[] {
  const out = execFileSync('sh', ['-c', command.replace(/^printargs/, "printf '%s\\0'")], { encoding: 'utf8' })
  return out.split('\0').slice(0, -1)
}

const HOSTILE = [
  "a'b",
  'a"b',
  '$(touch /tmp/zdd-pwned)',
  '`id`',
  'a b\tc',
  'x;rm -rf ~',
  '\\',
  '\'$HOME\'"$HOME"',
  '*',
  'line\nbreak',
  '%h',
  '',
]

describe('proxy-command: % escapes', () => {
  const values = { host: '10.0.0.5', port: 2222, user: 'ec2-user' }

  it('replaces %h, %p, %r and %% as OpenSSH does', () => {
    expect(argumentsOf(expandProxyCommand('printargs %h %p %r 100%%', values))).toEqual(['10.0.0.5', '2222', 'ec2-user', '100%'])
    expect(argumentsOf(expandProxyCommand('printargs %h:%p %r@%h', values))).toEqual(['10.0.0.5:2222', 'ec2-user@10.0.0.5'])
  })

  it('gives the value, and only the value, bare, inside single quotes and inside double quotes', () => {
    const command = `printargs %h '%h' "%h" x%hy 'portNumber=%p' "[%h]:%p" "it's %r" 'say "%r"'`
    expect(argumentsOf(expandProxyCommand(command, values))).toEqual([
      '10.0.0.5',
      '10.0.0.5',
      '10.0.0.5',
      'x10.0.0.5y',
      'portNumber=2222',
      '[10.0.0.5]:2222',
      "it's ec2-user",
      'say "ec2-user"',
    ])
  })

  it('an IPv6 host is the bare address, for [%h]:%p', () => {
    expect(argumentsOf(expandProxyCommand('printargs %h "[%h]:%p"', { ...values, host: 'fd00::11' }))).toEqual([
      'fd00::11',
      '[fd00::11]:2222',
    ])
  })

  it.each(HOSTILE)('a hostile host name %j stays one literal argument, never shell text', (host) => {
    const command = `printargs %h '%h' "%h" pre%hpost "a \\" b %h" 'a \\ %h'`
    expect(argumentsOf(expandProxyCommand(command, { ...values, host, user: host }))).toEqual([
      host,
      host,
      host,
      `pre${host}post`,
      `a " b ${host}`,
      `a \\ ${host}`,
    ])
  })

  it('refuses escapes it does not replace, naming them, and a lone %', () => {
    expect(proxyCommandProblem('ssh -W %h:%p %n')).toMatch(
      /has "%n", which is not replaced here; expected %h \(host\), %p \(port\), %r \(user\) or %%/,
    )
    expect(proxyCommandProblem('nc %h 22 %')).toMatch(/ends with a lone "%"/)
    expect(proxyCommandProblem('printf 100%% %h %p %r')).toBeUndefined()
  })
})

describe('proxy-command and proxy-host: inputs', () => {
  it('proxy-command is read as written, and is not the first connection the action opens', () => {
    const command = 'aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p'
    expect(parse({ 'proxy-command': command }).proxyCommand).toBe(command)
    expect(firstDestination((name) => ({ host: 'i-0123456789abcdef0', 'proxy-command': command })[name] ?? '')).toBeUndefined()
  })

  it('proxy-command and proxy-host together: a clear input error', () => {
    expect(problems({ 'proxy-command': 'ssh -W %h:%p b', 'proxy-host': 'bastion' }).join('\n')).toMatch(
      /^proxy-command: is set, and so is proxy-host; expected one of them/m,
    )
    expect(problems({ 'proxy-command': 'nc %h %x' }).join('\n')).toMatch(/^proxy-command: "nc %h %x" has "%x"/m)
  })

  it('proxy-host a,b is a chain, in order; each entry may name its own user and port', () => {
    const config = parse({ 'proxy-host': 'jump1.example.com, ops@[fd00::20]:2200', 'proxy-port': '2022', 'proxy-username': 'hop' })
    expect(config.jumpHosts.map((jump) => jump.entry)).toEqual([
      { host: 'jump1.example.com', port: 2022, username: 'hop', label: 'hop@jump1.example.com:2022' },
      { host: 'fd00::20', port: 2200, username: 'ops', label: 'ops@[fd00::20]:2200' },
    ])
    // One key and one set of pins for every hop.
    expect(new Set(config.jumpHosts.map((jump) => jump.auth.privateKey))).toEqual(new Set([KEY.trim()]))
    expect(registeredSecretsOf(config)).toContain(KEY.trim())
    expect(firstDestination((name) => ({ host: '10.0.0.5', 'proxy-host': 'jump1.example.com:2022,jump2' })[name] ?? '')).toEqual({
      host: 'jump1.example.com',
      port: 2022,
    })
  })

  it('a bad hop is named', () => {
    expect(problems({ 'proxy-host': 'jump1,bad host' }).join('\n')).toMatch(/^proxy-host: "bad host" is not a host name/m)
  })

  it('connect-retries: 3 by default, 0 to 10', () => {
    expect(parse({ 'connect-retries': '0' }).connectRetries).toBe(0)
    expect(problems({ 'connect-retries': '-1' }).join('\n')).toMatch(
      /^connect-retries: "-1" is not valid; expected a whole number from 0 to 10/m,
    )
    expect(problems({ 'connect-retries': '11' }).join('\n')).toMatch(/^connect-retries: "11"/m)
  })
})

const withCode = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.5:22`), { code })
const withLevel = (level: string, message = 'x') => Object.assign(new Error(message), { level })

describe('connect-retries: which failures are tried again, and when', () => {
  it.each([
    ['connection refused (sshd restarting)', withCode('ECONNREFUSED')],
    ['connection reset', withCode('ECONNRESET')],
    ['a timeout', withLevel('client-timeout', 'Timed out while waiting for handshake')],
    ['closed before the SSH banner (MaxStartups)', withLevel('protocol', 'Connection lost before handshake')],
    ['closed during the key exchange', Object.assign(new Error('No response from server'), { code: 'ETIMEDOUT' })],
    [
      'a jump host whose target refused the forward',
      Object.assign(new Error('(SSH) Channel open failure: Connection refused'), { reason: 2 }),
    ],
    ['a proxy command that exited before the handshake', Object.assign(withLevel('proxy-command'), { exitCode: 255 })],
  ])('%s: may pass', (_, error) => {
    expect(mayPass(error)).toBe(true)
    expect(nextTry(error, 1, 3)).toBe(1)
  })

  it.each([
    ['credentials refused', withLevel('client-authentication', 'All configured authentication methods failed')],
    ['a host key refused in the handshake', withLevel('handshake', 'Host denied (verification failed)')],
    ['a key that cannot be decrypted', new Error('Encrypted private OpenSSH key detected, but no passphrase given')],
    ['a name that does not resolve', withCode('ENOTFOUND')],
    [
      'a bastion that forbids forwarding',
      Object.assign(new Error('(SSH) Channel open failure: administratively prohibited'), { reason: 1 }),
    ],
    ['a proxy command that is not found', Object.assign(withLevel('proxy-command'), { exitCode: 127 })],
  ])('%s: fails at once', (_, error) => {
    expect(mayPass(error)).toBe(false)
    expect(nextTry(error, 1, 3)).toBeUndefined()
  })

  it('waits 1, 2, 4 s, then gives up after connect-retries tries more than the first', () => {
    const refused = withCode('ECONNREFUSED')
    expect([1, 2, 3, 4].map((tried) => nextTry(refused, tried, 3))).toEqual([1, 2, 4, undefined])
    expect(nextTry(refused, 1, 0)).toBeUndefined()
    expect(retryDelaySeconds(10)).toBe(30)
  })

  it('a refusal of our own (no cause: a host key mismatch) is never tried again', () => {
    expect(nextTry(undefined, 1, 3)).toBeUndefined()
    expect(nextTry(new ConnectionError('host key mismatch').cause, 1, 3)).toBeUndefined()
  })
})

describe('connection errors for IPv6 hosts', () => {
  it('write the address in brackets before the port', () => {
    const entry = { host: 'fd00::11', port: 2222, username: 'deploy', label: 'deploy@[fd00::11]:2222' }
    expect(describeConnectError(withCode('ECONNREFUSED'), entry, 30)).toBe(
      'deploy@[fd00::11]:2222: connection refused at [fd00::11]:2222: nothing listens there. Check host and port, and that sshd is running.',
    )
  })
})
