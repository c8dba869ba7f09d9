/**
 * The host scripts live in src/remote/sh/*.sh and reach the bundle through the generated module
 * src/remote/sh/generated.ts: it must be what the files make, as dist/ must be what src/ builds.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { GENERATED, generate, sentText } from '../../../scripts/gen-shell.mjs'

describe('the host scripts as shell files', () => {
  it('generated.ts is fresh: run node scripts/gen-shell.mjs after editing a .sh file', () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(generate())
  })

  it('sends a script without its opening comment and ShellCheck directives, and nothing else is left out', () => {
    const source = '# what it does\n# what it prints\n\nfoo() {\n  # shellcheck disable=SC2086 # wanted\n  echo $1 # why\n}\n'
    expect(sentText(source)).toBe('\nfoo() {\n  echo $1 # why\n}\n')
  })
})
