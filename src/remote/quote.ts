/**
 * The one place where a value becomes shell text. Every value that reaches a remote shell goes
 * through `shellQuote`; scripts only ever reference the variables that `shellAssignments` sets.
 */

/** Quotes any string for POSIX sh: the shell sees exactly these bytes, expands and runs nothing. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) {
    throw new Error('a value for the remote shell contains a NUL byte, which no shell can carry')
  }
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/** Valid names for shell variables (and environment keys). */
export const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export type ShellValue = string | number | boolean

/** `NAME='value'` lines, one per entry, for the top of a script. */
export function shellAssignments(vars: Record<string, ShellValue>): string {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (!SHELL_NAME.test(name)) throw new Error(`not a shell variable name: ${name}`)
      return `${name}=${shellQuote(String(value))}`
    })
    .join('\n')
}

/** A script: strict mode, the quoted variables, then a body that only references them. */
export function shellScript(vars: Record<string, ShellValue>, body: string): string {
  return `set -u\n${shellAssignments(vars)}\n${body.trim()}\n`
}
