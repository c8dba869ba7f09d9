/**
 * Host key pinning. A host is trusted only when its key matches a `host-fingerprint` pin or a
 * `known-hosts` line; this is decided inside the SSH handshake, before any credential is sent.
 */
import { createHash, createHmac } from 'node:crypto'

/** OpenSSH's fingerprint of a public key blob: `SHA256:` + unpadded base64 of its sha256. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`
}

/** The key type named inside the blob, e.g. `ssh-ed25519`. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown'
  const length = keyBlob.readUInt32BE(0)
  return keyBlob.subarray(4, 4 + length).toString('latin1')
}

export interface KnownHostLine {
  marker?: '@revoked' | '@cert-authority'
  patterns: string
  keyType: string
  key: string
}

export function parseKnownHosts(text: string): KnownHostLine[] {
  const lines: KnownHostLine[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const fields = line.split(/\s+/)
    const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? (fields.shift() as KnownHostLine['marker']) : undefined
    if (fields.length < 3) continue
    lines.push({ marker, patterns: fields[0], keyType: fields[1], key: fields[2] })
  }
  return lines
}

/** How known_hosts names a host: plain on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function wildcardMatch(pattern: string, name: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  )
  return regex.test(name)
}

/** Whether one known_hosts host field names this host (hashed `|1|salt|hmac`, lists, wildcards, `!`). */
export function patternsMatch(patterns: string, host: string, port: number): boolean {
  // OpenSSH hashes and compares host names in lower case.
  const name = knownHostsName(host.toLowerCase(), port)
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|')
    if (!salt || !hash) return false
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64')
    return digest === hash
  }
  let matched = false
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!')
    const body = negated ? pattern.slice(1) : pattern
    if (wildcardMatch(body, name)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

export type KeyVerdict = { trusted: true } | { trusted: false; reason: 'no-pin' | 'mismatch' | 'revoked' }

/** Checks a presented host key against the pins. */
export function judgeHostKey(
  policy: { fingerprints: string[]; knownHosts: string; insecureSkip: boolean },
  host: string,
  port: number,
  keyBlob: Buffer,
): KeyVerdict {
  const lines = parseKnownHosts(policy.knownHosts).filter((l) => patternsMatch(l.patterns, host, port))
  const base64 = keyBlob.toString('base64')
  if (lines.some((l) => l.marker === '@revoked' && l.key === base64)) return { trusted: false, reason: 'revoked' }
  const fingerprint = fingerprintOf(keyBlob)
  if (policy.fingerprints.some((pin) => pin.replace(/=+$/, '') === fingerprint)) return { trusted: true }
  if (lines.some((l) => l.marker === undefined && l.key === base64)) return { trusted: true }
  if (policy.insecureSkip) return { trusted: true }
  const pinned = policy.fingerprints.length > 0 || lines.some((l) => l.marker === undefined)
  return { trusted: false, reason: pinned ? 'mismatch' : 'no-pin' }
}

/** Host key algorithms for a key type, strongest first, as ssh2 names them. */
export function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
  return [keyType]
}

/** Every key family a host may have; scanned one by one to list all of a host's fingerprints. */
export const KEY_FAMILIES: string[][] = [
  ['ssh-ed25519'],
  ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
]

/** known_hosts key types pinned for this host, to ask the server for a key we can check. */
export function pinnedKeyTypes(knownHosts: string, host: string, port: number): string[] {
  const types = parseKnownHosts(knownHosts)
    .filter((l) => l.marker === undefined && patternsMatch(l.patterns, host, port))
    .map((l) => l.keyType)
  return [...new Set(types)]
}
