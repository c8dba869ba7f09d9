/** ssh2's errors, in plain words that say what to check. */
import type { HostEntry } from '../config/hosts.js'

/** A connection could not be made or kept; the message is meant for the user as it is. */
export class ConnectionError extends Error {
  /** `cause`: the error of the socket or of ssh2 behind it, which decides whether a new try may pass (retry.ts). */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConnectionError'
  }
}

/** `host:port`, with an IPv6 address in brackets as known_hosts and ssh write it. */
export function hostAndPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export interface ErrorWithLevel extends Error {
  level?: string
  code?: string
}

/** Turns an error from connecting to `entry` into a message that says what happened and what to check. */
export function describeConnectError(error: ErrorWithLevel, entry: HostEntry, timeoutSeconds: number): string {
  const where = hostAndPort(entry.host, entry.port)
  const message = error.message ?? String(error)
  // A proxy command that ended before the handshake: its own words say more than ssh2's.
  if (error.level === 'proxy-command') return `${entry.label}: ${message}`
  if (error.level === 'client-authentication' || /All configured authentication methods failed/.test(message)) {
    return `${entry.label}: the host refused the credentials for user "${entry.username}". Check that the private key's public half is in ~${entry.username}/.ssh/authorized_keys on the host (or that the password is right), and that username is right.`
  }
  if (
    /bad passphrase|Bad passphrase|decrypt|Encrypted private OpenSSH key detected, but no passphrase given|Encrypted .* key detected/i.test(
      message,
    )
  ) {
    return `${entry.label}: the private key could not be decrypted: the passphrase is missing or wrong. Check the passphrase input.`
  }
  if (/Cannot parse privateKey|Unsupported key format|Malformed/i.test(message)) {
    return `${entry.label}: the private key could not be read (${message}). Paste the whole key file, including its BEGIN and END lines, into the secret.`
  }
  if (/No response from server/.test(message)) {
    return `${entry.label}: ${where} closed the connection during the SSH key exchange. A host that sheds new connections under load does this (sshd's MaxStartups), as does one that refuses the runner (fail2ban, AllowUsers, a firewall that resets).`
  }
  if (error.level === 'client-timeout' || /Timed out while waiting for handshake/i.test(message) || error.code === 'ETIMEDOUT') {
    return `${entry.label}: no SSH answer from ${where} within ${timeoutSeconds} s (connect-timeout). Check that the host is up and that a firewall or security group lets the runner reach port ${entry.port}.`
  }
  if (error.code === 'ECONNREFUSED') {
    return `${entry.label}: connection refused at ${where}: nothing listens there. Check host and port, and that sshd is running.`
  }
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return `${entry.label}: the host name "${entry.host}" does not resolve. Check the host input.`
  }
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') {
    return `${entry.label}: ${where} is not reachable from the runner (${error.code}). Check the address and the network path.`
  }
  if (error.code === 'ECONNRESET' || /Connection lost before handshake/i.test(message)) {
    return `${entry.label}: ${where} closed the connection before the SSH handshake. Check that port ${entry.port} is an SSH server and that it allows the runner (sshd MaxStartups, fail2ban, AllowUsers).`
  }
  return `${entry.label}: SSH connection failed: ${message}`
}
