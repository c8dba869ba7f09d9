import { describe, expect, it } from 'vitest'
import { type ErrorWithLevel, describeConnectError } from '../../src/ssh/errors.js'

const entry = { host: 'web1.example.com', port: 2222, username: 'deploy', label: 'deploy@web1.example.com:2222' }

function error(message: string, extra: Partial<ErrorWithLevel> = {}): ErrorWithLevel {
  return Object.assign(new Error(message), extra)
}

describe('describeConnectError', () => {
  it('refused credentials: names the user and where the key belongs', () => {
    const text = describeConnectError(error('All configured authentication methods failed', { level: 'client-authentication' }), entry, 30)
    expect(text).toMatch(/^deploy@web1\.example\.com:2222: /)
    expect(text).toContain('"deploy"')
    expect(text).toContain('authorized_keys')
  })

  it('a wrong or missing passphrase says so', () => {
    expect(describeConnectError(error('Encrypted private OpenSSH key detected, but no passphrase given'), entry, 30)).toMatch(/passphrase/)
  })

  it('an unreadable key asks for the whole key file', () => {
    expect(describeConnectError(error('Cannot parse privateKey: Unsupported key format'), entry, 30)).toMatch(/BEGIN and END/)
  })

  it('a timeout names connect-timeout, its value, host and port', () => {
    const text = describeConnectError(error('Timed out while waiting for handshake', { level: 'client-timeout' }), entry, 7)
    expect(text).toContain('web1.example.com:2222')
    expect(text).toContain('7 s')
    expect(text).toContain('connect-timeout')
  })

  it.each([
    ['ECONNREFUSED', /connection refused at web1\.example\.com:2222/],
    ['ENOTFOUND', /"web1\.example\.com" does not resolve/],
    ['EAI_AGAIN', /does not resolve/],
    ['EHOSTUNREACH', /not reachable.*EHOSTUNREACH/],
    ['ECONNRESET', /closed the connection before the SSH handshake/],
  ])('%s', (code, expected) => {
    expect(describeConnectError(error(`connect ${code}`, { code }), entry, 30)).toMatch(expected)
  })

  it('anything else keeps the original message', () => {
    expect(describeConnectError(error('something odd'), entry, 30)).toBe(
      'deploy@web1.example.com:2222: SSH connection failed: something odd',
    )
  })
})
