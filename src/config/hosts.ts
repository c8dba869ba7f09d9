/** One SSH destination, as written in `host` or `proxy-host`. */
export interface HostEntry {
  /** Host name or address, without brackets. */
  host: string
  port: number
  username: string
  /** How the host is named in logs, the report and outputs: `user@host:port` as the user wrote it. */
  label: string
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/
const USER_NAME = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/

/** Splits `host` on newlines and commas; blank entries are dropped. */
export function splitHostList(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
}

/**
 * Parses `host`, `host:port`, `user@host`, `user@host:port`, with IPv6 in brackets.
 * Returns an error message (for the input named `input`) instead of throwing, so that the caller
 * can report every bad entry.
 */
export function parseHostEntry(entry: string, defaults: { port: number; username: string }, input = 'host'): HostEntry | string {
  const bad = (why: string) => `${input}: "${entry}" ${why}`
  let rest = entry
  let username = defaults.username
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    username = rest.slice(0, at)
    rest = rest.slice(at + 1)
    if (!USER_NAME.test(username)) return bad('has a user name that is not valid (letters, digits, ".", "_", "-")')
  }
  let host: string
  let portText: string | undefined
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close < 0) return bad('opens "[" for an IPv6 address but never closes it')
    host = rest.slice(1, close)
    const after = rest.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) return bad('has text after "]" that is not ":port"')
    portText = after === '' ? undefined : after.slice(1)
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(':')) return bad('has brackets around something that is not an IPv6 address')
  } else {
    const parts = rest.split(':')
    if (parts.length > 2) return bad('looks like an IPv6 address; write it in brackets, e.g. [2001:db8::1]:22')
    host = parts[0]
    portText = parts[1]
    if (!HOST_NAME.test(host)) return bad('is not a host name or address (letters, digits, "." and "-")')
  }
  let port = defaults.port
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      return bad(`has port "${portText}"; expected a number from 1 to 65535`)
    }
    port = Number(portText)
  }
  if (username === '') return bad('names no user; set the username input or write user@host')
  const shownHost = host.includes(':') ? `[${host}]` : host
  return { host, port, username, label: `${username}@${shownHost}${port === 22 ? '' : `:${port}`}` }
}
