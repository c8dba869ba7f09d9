import { execFileSync, spawnSync } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  algorithmsForKeyType,
  fingerprintOf,
  judgeHostKey,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
  patternsMatch,
  pinnedKeyTypes,
} from '../../src/ssh/host-keys.js'

interface Key {
  type: string
  base64: string
  blob: Buffer
  /** What `ssh-keygen -lf` prints as the fingerprint. */
  fingerprint: string
}

let dir: string
const keys: Record<string, Key> = {}

function generate(name: string, args: string[]): Key {
  const path = join(dir, name)
  execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', `${name}@test`, '-f', path])
  const [type, base64] = readFileSync(`${path}.pub`, 'utf8').trim().split(/\s+/)
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`])
    .toString()
    .trim()
    .split(/\s+/)[1]
  return { type, base64, blob: Buffer.from(base64, 'base64'), fingerprint }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zdd-hostkeys-'))
  keys.ed25519 = generate('ed25519', ['-t', 'ed25519'])
  keys.other = generate('other', ['-t', 'ed25519'])
  keys.ecdsa = generate('ecdsa', ['-t', 'ecdsa', '-b', '256'])
  keys.rsa = generate('rsa', ['-t', 'rsa', '-b', '1024'])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('fingerprintOf and keyTypeOf', () => {
  it.each(['ed25519', 'ecdsa', 'rsa'])('%s: the fingerprint is the one ssh-keygen -lf prints', (name) => {
    const key = keys[name]
    expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    expect(fingerprintOf(key.blob)).toBe(key.fingerprint)
  })

  it('different keys have different fingerprints', () => {
    expect(fingerprintOf(keys.ed25519.blob)).not.toBe(fingerprintOf(keys.other.blob))
  })

  it.each([
    ['ed25519', 'ssh-ed25519'],
    ['ecdsa', 'ecdsa-sha2-nistp256'],
    ['rsa', 'ssh-rsa'],
  ])('%s: keyTypeOf reads %s from the blob', (name, type) => {
    expect(keyTypeOf(keys[name].blob)).toBe(type)
    expect(keys[name].type).toBe(type)
  })

  it('keyTypeOf of a blob too short to hold a type is "unknown"', () => {
    expect(keyTypeOf(Buffer.alloc(0))).toBe('unknown')
    expect(keyTypeOf(Buffer.from([0, 0]))).toBe('unknown')
  })

  it('algorithmsForKeyType offers the SHA-2 signatures for RSA first', () => {
    expect(algorithmsForKeyType('ssh-rsa')).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'])
    expect(algorithmsForKeyType('ssh-ed25519')).toEqual(['ssh-ed25519'])
  })
})

describe('parseKnownHosts', () => {
  it('reads plain, hashed and marked lines; skips comments, blanks and short lines; keeps CRLF files working', () => {
    const text = [
      '# a comment',
      '',
      'example.com,10.0.0.1 ssh-ed25519 AAAAkey1 comment words',
      '   ',
      '|1|c2FsdA==|aGFzaA== ecdsa-sha2-nistp256 AAAAkey2',
      '@revoked * ssh-rsa AAAAkey3',
      '@cert-authority *.corp ssh-ed25519 AAAAca',
      'incomplete-line ssh-ed25519',
      '\t[h]:2222\tssh-ed25519   AAAAkey4  ',
    ].join('\r\n')
    expect(parseKnownHosts(text)).toEqual([
      { marker: undefined, patterns: 'example.com,10.0.0.1', keyType: 'ssh-ed25519', key: 'AAAAkey1' },
      { marker: undefined, patterns: '|1|c2FsdA==|aGFzaA==', keyType: 'ecdsa-sha2-nistp256', key: 'AAAAkey2' },
      { marker: '@revoked', patterns: '*', keyType: 'ssh-rsa', key: 'AAAAkey3' },
      { marker: '@cert-authority', patterns: '*.corp', keyType: 'ssh-ed25519', key: 'AAAAca' },
      { marker: undefined, patterns: '[h]:2222', keyType: 'ssh-ed25519', key: 'AAAAkey4' },
    ])
  })

  it('knownHostsName: plain on port 22, [host]:port otherwise', () => {
    expect(knownHostsName('example.com', 22)).toBe('example.com')
    expect(knownHostsName('example.com', 2222)).toBe('[example.com]:2222')
    expect(knownHostsName('::1', 2222)).toBe('[::1]:2222')
  })
})

describe('patternsMatch', () => {
  const cases: Array<[patterns: string, host: string, port: number, matches: boolean]> = [
    ['example.com', 'example.com', 22, true],
    ['example.com', 'EXAMPLE.com', 22, true],
    ['example.com', 'example.org', 22, false],
    ['example.com', 'example.com', 2222, false],
    ['[example.com]:2222', 'example.com', 2222, true],
    ['[example.com]:2222', 'example.com', 22, false],
    ['[example.com]:2222', 'example.com', 2223, false],
    ['[example.com]:2222', 'e', 2222, false],
    ['[127.0.0.1]:2222', '127.0.0.1', 2222, true],
    ['[127.0.0.1]:2222', '127.0.0.10', 2222, false],
    ['[::1]:2222', '::1', 2222, true],
    ['10.0.0.1,example.com', 'example.com', 22, true],
    ['10.0.0.1,example.com', '10.0.0.1', 22, true],
    ['10.0.0.1,example.com', '10.0.0.2', 22, false],
    ['*.example.com', 'web1.example.com', 22, true],
    ['*.example.com', 'example.com', 22, false],
    ['*.example.com', 'web1.example.com', 2222, false],
    ['[*.example.com]:2222', 'web1.example.com', 2222, true],
    ['web?.corp', 'web1.corp', 22, true],
    ['web?.corp', 'web12.corp', 22, false],
    ['10.0.0.*', '10.0.0.7', 22, true],
    ['10.0.0.*', '10.0.1.7', 22, false],
    ['example.com', 'exampleXcom', 22, false],
    ['a+b.example.com', 'a+b.example.com', 22, true],
    ['*.example.org,!bad.example.org', 'good.example.org', 22, true],
    ['*.example.org,!bad.example.org', 'bad.example.org', 22, false],
    ['!bad.example.org,*.example.org', 'bad.example.org', 22, false],
    ['!bad.example.org', 'good.example.org', 22, false],
    ['*', 'anything', 2222, true],
  ]

  it.each(cases)('%s names %s port %i: %s', (patterns, host, port, matches) => {
    expect(patternsMatch(patterns, host, port)).toBe(matches)
  })

  it('agrees with OpenSSH (ssh-keygen -F) on every case above', () => {
    const blob = keys.ed25519.base64
    for (const [patterns, host, port] of cases) {
      const file = join(dir, 'oracle_known_hosts')
      writeFileSync(file, `${patterns} ssh-ed25519 ${blob}\n`)
      const found = spawnSync('ssh-keygen', ['-F', knownHostsName(host.toLowerCase(), port), '-f', file]).status === 0
      expect(patternsMatch(patterns, host, port), `${patterns} vs ${host}:${port}`).toBe(found)
    }
  })

  it('matches hashed entries made by ssh-keygen -H', () => {
    const file = join(dir, 'hashed_known_hosts')
    writeFileSync(
      file,
      [`example.com ssh-ed25519 ${keys.ed25519.base64}`, `[web2.example.com]:2222 ssh-ed25519 ${keys.other.base64}`, ''].join('\n'),
    )
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' })
    const lines = parseKnownHosts(readFileSync(file, 'utf8'))
    expect(lines).toHaveLength(2)
    const [first, second] = lines
    expect(first.patterns).toMatch(/^\|1\|/)
    expect(second.patterns).toMatch(/^\|1\|/)
    expect(patternsMatch(first.patterns, 'example.com', 22)).toBe(true)
    expect(patternsMatch(first.patterns, 'example.com', 2222)).toBe(false)
    expect(patternsMatch(first.patterns, 'example.org', 22)).toBe(false)
    expect(patternsMatch(second.patterns, 'web2.example.com', 2222)).toBe(true)
    expect(patternsMatch(second.patterns, 'web2.example.com', 22)).toBe(false)
  })

  it('host names are case-insensitive for hashed entries too (OpenSSH hashes the lower-case name)', () => {
    const salt = randomBytes(20)
    const entry = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('web1.example.com').digest('base64')}`
    expect(patternsMatch(entry, 'web1.example.com', 22)).toBe(true)
    expect(patternsMatch(entry, 'Web1.Example.COM', 22)).toBe(true)
  })

  it('matches a hashed entry computed here (HMAC-SHA1 of the name, keyed by the salt)', () => {
    const salt = randomBytes(20)
    const hash = (name: string) => createHmac('sha1', salt).update(name).digest('base64')
    const entry = `|1|${salt.toString('base64')}|${hash('[10.1.2.3]:2200')}`
    expect(patternsMatch(entry, '10.1.2.3', 2200)).toBe(true)
    expect(patternsMatch(entry, '10.1.2.3', 22)).toBe(false)
    expect(patternsMatch(`|1|${salt.toString('base64')}|`, '10.1.2.3', 2200)).toBe(false)
    expect(patternsMatch('|1|', '10.1.2.3', 2200)).toBe(false)
  })
})

describe('judgeHostKey', () => {
  const none = { fingerprints: [], knownHosts: '', insecureSkip: false }

  it('trusts a key whose fingerprint is pinned (with or without trailing "=")', () => {
    const key = keys.ed25519
    expect(judgeHostKey({ ...none, fingerprints: [key.fingerprint] }, 'h', 22, key.blob)).toEqual({ trusted: true })
    expect(judgeHostKey({ ...none, fingerprints: [`${key.fingerprint}=`] }, 'h', 22, key.blob)).toEqual({ trusted: true })
    expect(judgeHostKey({ ...none, fingerprints: [keys.other.fingerprint, key.fingerprint] }, 'h', 22, key.blob)).toEqual({ trusted: true })
  })

  it('trusts a key named by a known_hosts line for this host', () => {
    const key = keys.ecdsa
    expect(judgeHostKey({ ...none, knownHosts: `h.example.com ${key.type} ${key.base64}` }, 'h.example.com', 22, key.blob)).toEqual({
      trusted: true,
    })
  })

  it('trusts a key named by a [host]:port known_hosts line, as ssh-keyscan -p writes it', () => {
    const key = keys.ed25519
    const knownHosts = `[127.0.0.1]:2222 ${key.type} ${key.base64} comment\n`
    expect(judgeHostKey({ ...none, knownHosts }, '127.0.0.1', 2222, key.blob)).toEqual({ trusted: true })
    expect(pinnedKeyTypes(knownHosts, '127.0.0.1', 2222)).toEqual(['ssh-ed25519'])
  })

  it('no pin at all: not trusted, reason no-pin', () => {
    expect(judgeHostKey(none, 'h', 22, keys.ed25519.blob)).toEqual({ trusted: false, reason: 'no-pin' })
  })

  it('known_hosts lines for other hosts only: no-pin', () => {
    const knownHosts = `other.example.com ${keys.ed25519.type} ${keys.ed25519.base64}`
    expect(judgeHostKey({ ...none, knownHosts }, 'h', 22, keys.ed25519.blob)).toEqual({ trusted: false, reason: 'no-pin' })
  })

  it('a pinned fingerprint of another key: mismatch', () => {
    expect(judgeHostKey({ ...none, fingerprints: [keys.other.fingerprint] }, 'h', 22, keys.ed25519.blob)).toEqual({
      trusted: false,
      reason: 'mismatch',
    })
  })

  it('a known_hosts line for this host with another key: mismatch', () => {
    const knownHosts = `h ${keys.other.type} ${keys.other.base64}`
    expect(judgeHostKey({ ...none, knownHosts }, 'h', 22, keys.ed25519.blob)).toEqual({ trusted: false, reason: 'mismatch' })
  })

  it('a @revoked key is refused, even when pinned and even with insecure-skip', () => {
    const key = keys.ed25519
    const knownHosts = `@revoked * ${key.type} ${key.base64}\nh ${key.type} ${key.base64}`
    const verdict = { trusted: false, reason: 'revoked' }
    expect(judgeHostKey({ ...none, knownHosts }, 'h', 22, key.blob)).toEqual(verdict)
    expect(judgeHostKey({ fingerprints: [key.fingerprint], knownHosts, insecureSkip: true }, 'h', 22, key.blob)).toEqual(verdict)
  })

  it('a @cert-authority line does not trust a plain host key', () => {
    const key = keys.ed25519
    expect(judgeHostKey({ ...none, knownHosts: `@cert-authority * ${key.type} ${key.base64}` }, 'h', 22, key.blob)).toMatchObject({
      trusted: false,
    })
  })

  it('insecure-skip-host-key-check trusts any key, including a mismatched one', () => {
    expect(judgeHostKey({ ...none, insecureSkip: true }, 'h', 22, keys.ed25519.blob)).toEqual({ trusted: true })
    expect(
      judgeHostKey({ fingerprints: [keys.other.fingerprint], knownHosts: '', insecureSkip: true }, 'h', 22, keys.ed25519.blob),
    ).toEqual({ trusted: true })
  })

  it('pinnedKeyTypes lists the key types known for this host, once each', () => {
    const knownHosts = [
      `h ${keys.ed25519.type} ${keys.ed25519.base64}`,
      `h,alias ${keys.ecdsa.type} ${keys.ecdsa.base64}`,
      `*.h ${keys.rsa.type} ${keys.rsa.base64}`,
      `h ${keys.other.type} ${keys.other.base64}`,
      `@revoked h ${keys.rsa.type} ${keys.rsa.base64}`,
    ].join('\n')
    expect(pinnedKeyTypes(knownHosts, 'h', 22)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256'])
  })
})
