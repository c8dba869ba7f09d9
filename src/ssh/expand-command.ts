/**
 * `proxy-command`'s `%` escapes, replaced as OpenSSH's ProxyCommand replaces them: `%h` the host,
 * `%p` the port, `%r` the user, `%%` a `%`. OpenSSH pastes the values in as they are; here each one
 * is quoted for the place of the command it lands in (bare, inside '...', inside "..."), so that
 * the shell that runs the command takes it as one literal piece of text wherever the user wrote the
 * escape: `--target %h`, `'portNumber=%p'` and `"[%h]:%p"` all get the value and nothing else.
 */
import { shellQuote } from '../remote/quote.js'

export interface ExpandValues {
  host: string
  port: number
  user: string
}

const ESCAPES = new Set(['h', 'p', 'r', '%'])

/** Why the command cannot be used, or undefined: an escape OpenSSH would take but this action does not know. */
export function proxyCommandProblem(command: string): string | undefined {
  if (command.includes('\0')) return 'contains a NUL byte, which no shell can carry; expected a shell command line'
  for (let at = command.indexOf('%'); at >= 0; at = command.indexOf('%', at + 2)) {
    const escape = command[at + 1]
    if (escape === undefined) return 'ends with a lone "%"; expected %h, %p, %r or %% (a literal %)'
    if (!ESCAPES.has(escape))
      return `has "%${escape}", which is not replaced here; expected %h (host), %p (port), %r (user) or %% (a literal %)`
  }
  return undefined
}

/** The value as literal text inside double quotes: only $, `, " and \ mean anything there. */
function inDoubleQuotes(value: string): string {
  return value.replace(/[$`"\\]/g, '\\$&')
}

/** The command with its escapes replaced, each value quoted for where it stands. */
export function expandProxyCommand(command: string, values: ExpandValues): string {
  const replacement: Record<string, string> = { h: values.host, p: String(values.port), r: values.user }
  let out = ''
  let quote: '' | "'" | '"' = ''
  for (let i = 0; i < command.length; i++) {
    const char = command[i]
    if (char === '%') {
      const escape = command[++i]
      if (escape === '%') {
        out += '%'
        continue
      }
      const value = replacement[escape]
      if (value === undefined) throw new Error(`proxy-command: "%${escape ?? ''}" is not replaced here`)
      // Inside '...' no character is special but the closing quote: close it, add the quoted value, reopen.
      out += quote === '"' ? inDoubleQuotes(value) : quote === "'" ? `'${shellQuote(value)}'` : shellQuote(value)
      continue
    }
    out += char
    if (quote === "'") {
      if (char === "'") quote = ''
    } else if (char === '\\') {
      // A backslash takes the next character as it is, outside quotes and (for the few it escapes) inside "...".
      if (i + 1 < command.length && command[i + 1] !== '%') out += command[++i]
    } else if (quote === '"') {
      if (char === '"') quote = ''
    } else if (char === "'" || char === '"') {
      quote = char
    }
  }
  return out
}
