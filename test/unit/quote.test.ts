import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { SHELL_NAME, shellAssignments, shellQuote, shellScript } from '../../src/remote/quote.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-quote-'))
  dirs.push(dir)
  return dir
}

/** What `sh` prints for `printf %s <quoted>`, as bytes. */
function shPrints(quoted: string, cwd?: string): Buffer {
  return execFileSync('/bin/sh', ['-c', `printf %s ${quoted}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** The same, one `sh` per value, several at a time. */
function shPrintsAsync(quoted: string, cwd?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', `printf %s ${quoted}`], { cwd, encoding: 'buffer' }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    )
  })
}

/**
 * Property: for every value, `sh` prints exactly its UTF-8 bytes. Values come in batches of 10
 * (checked in parallel, each by its own `sh`), so that ~200 values take a second or two.
 */
async function assertShSeesExactly(values: fc.Arbitrary<string>, batches: number, cwd?: string): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(values, { minLength: 8, maxLength: 10 }), async (batch) => {
      const printed = await Promise.all(batch.map((value) => shPrintsAsync(shellQuote(value), cwd)))
      batch.forEach((value, i) => expect(printed[i], JSON.stringify(value)).toEqual(Buffer.from(value, 'utf8')))
    }),
    { numRuns: batches },
  )
}

/** Pieces a hostile value is made of. */
const HOSTILE = [
  "'",
  '"',
  '`',
  '$(',
  ')',
  '${',
  '}',
  '$HOME',
  '$1',
  '\n',
  '\r',
  ';',
  '&',
  '|',
  '\\',
  ' ',
  '\t',
  '*',
  '?',
  '[',
  ']',
  '~',
  '#',
  '!',
  '<',
  '>',
  '-n',
  '%s',
  '%',
  'é',
  '😀',
  '\u00a0',
  "'\\''",
  'touch PWNED',
  '=',
  'a',
]
const hostile = fc.array(fc.constantFrom(...HOSTILE), { maxLength: 12 }).map((parts) => parts.join(''))
const noNul = (s: string) => s.replaceAll('\0', '')

describe('shellQuote', () => {
  it('sh sees exactly the bytes of any unicode string', { timeout: 30_000 }, async () => {
    await assertShSeesExactly(fc.string({ unit: 'grapheme', maxLength: 40 }).map(noNul), 8)
  })

  it('sh sees exactly the bytes of any string of code points (astral planes, controls)', { timeout: 30_000 }, async () => {
    await assertShSeesExactly(fc.string({ unit: 'binary', maxLength: 40 }).map(noNul), 6)
  })

  it('sh sees exactly the bytes of hostile strings, and runs nothing', { timeout: 30_000 }, async () => {
    const cwd = tempDir()
    await assertShSeesExactly(hostile, 10, cwd)
    expect(readdirSync(cwd)).toEqual([])
  })

  it.each(['', "'", "''", "it's", '\\', '-', '--', '$(touch PWNED)', '`touch PWNED`', '\n\n', ' '])('quotes %j', (value) => {
    expect(shPrints(shellQuote(value))).toEqual(Buffer.from(value))
  })

  it('refuses a NUL byte, which no shell can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/)
    expect(() => shellScript({ X: 'a\0' }, 'true')).toThrow(/NUL/)
  })
})

describe('shellAssignments', () => {
  it.each(['', '1A', 'A-B', 'A B', 'A;touch PWNED', '$A', 'a.b', 'É'])('refuses the name %j', (name) => {
    expect(() => shellAssignments({ [name]: 'x' })).toThrow(/not a shell variable name/)
  })

  it('accepts names of letters, digits and _', () => {
    expect(shellAssignments({ _A1: 'x', b: 2, C: true })).toBe("_A1='x'\nb='2'\nC='true'")
    for (const name of ['_', 'A', 'a_b_9']) expect(SHELL_NAME.test(name)).toBe(true)
  })
})

describe('shellScript', () => {
  it('starts with set -u, and the body sees every value exactly', () => {
    const script = shellScript({ A: 'x', N: 42, B: false }, '  printf "%s|%s|%s" "$A" "$N" "$B"  \n')
    expect(script.startsWith('set -u\n')).toBe(true)
    expect(execFileSync('/bin/sh', ['-c', script]).toString()).toBe('x|42|false')
  })

  it.each([
    '$(touch PWNED)',
    "'; touch PWNED; '",
    '`touch PWNED`',
    '"; touch PWNED; "',
    '\ntouch PWNED\n',
    "'\ntouch PWNED\n'",
    '${X:=$(touch PWNED)}',
    "\\'; touch PWNED #",
    '* $(touch PWNED) *',
  ])('a hostile value never runs: %j', (value) => {
    const cwd = tempDir()
    const script = shellScript({ VALUE: value, OTHER: 'after' }, 'printf %s "$VALUE"; printf "|%s" "$OTHER"')
    const out = execFileSync('sh', [], { cwd, input: script })
    expect(out).toEqual(Buffer.concat([Buffer.from(value), Buffer.from('|after')]))
    expect(existsSync(join(cwd, 'PWNED'))).toBe(false)
    expect(readdirSync(cwd)).toEqual([])
  })

  it('fast-check: hostile values in several variables never run and echo back exactly', { timeout: 30_000 }, () => {
    const cwd = tempDir()
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const script = shellScript({ A: a, B: b }, 'printf "%s\\0%s" "$A" "$B"')
        const out = execFileSync('sh', [], { cwd, input: script })
        expect(out).toEqual(Buffer.concat([Buffer.from(a), Buffer.from([0]), Buffer.from(b)]))
      }),
      { numRuns: 25 },
    )
    expect(readdirSync(cwd)).toEqual([])
  })
})
