/**
 * The readers every group of inputs shares (inputs.ts, connection-inputs.ts, traffic-inputs.ts):
 * each reads an input by name and, when its value is not valid, records a problem naming the input,
 * the value and what is expected, and returns the fallback.
 */

export interface InputReaders {
  /** The input as given, '' when unset. */
  raw(name: string): string
  /** The input, trimmed; `fallback` when empty. */
  text(name: string, fallback: string): string
  integer(name: string, fallback: number, min: number, max: number): number
  /** Seconds: "30", "0.5", "2m", "500ms"; at least `min`, at most a day. */
  seconds(name: string, fallback: number, min?: number): number
  boolean(name: string, fallback: boolean): boolean
  /** Every problem found so far, one per input value. */
  problems: string[]
}

/** A value as a problem shows it: quoted, with its line breaks and quotes escaped. */
export const show = (value: string) => JSON.stringify(value)

export function inputReaders(get: (name: string) => string): InputReaders {
  const problems: string[] = []
  const raw = (name: string) => get(name) ?? ''
  return {
    problems,
    raw,
    text(name, fallback) {
      const value = raw(name).trim()
      return value === '' ? fallback : value
    },
    integer(name, fallback, min, max) {
      const value = raw(name).trim()
      if (value === '') return fallback
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
        problems.push(`${name}: ${show(value)} is not valid; expected a whole number from ${min} to ${max}`)
        return fallback
      }
      return Number(value)
    },
    seconds(name, fallback, min = 0) {
      const value = raw(name).trim()
      if (value === '') return fallback
      const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m)?$/.exec(value)
      const scale = { ms: 0.001, s: 1, m: 60 }[match?.[2] ?? 's'] ?? 1
      const parsed = match ? Number(match[1]) * scale : NaN
      if (!match || parsed < min || parsed > 86_400) {
        problems.push(`${name}: ${show(value)} is not valid; expected seconds, e.g. "30", "0.5" or "2m", at least ${min}`)
        return fallback
      }
      return parsed
    },
    boolean(name, fallback) {
      const value = raw(name).trim().toLowerCase()
      if (value === '') return fallback
      if (['true', 'yes', 'on', '1'].includes(value)) return true
      if (['false', 'no', 'off', '0'].includes(value)) return false
      problems.push(`${name}: ${show(raw(name).trim())} is not valid; expected true or false`)
      return fallback
    },
  }
}
