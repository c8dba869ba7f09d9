// The README's tables are what users read; action.yml is what the runner reads. They must agree.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const actionYml = readFileSync(new URL('../../action.yml', import.meta.url), 'utf8')
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

interface Declared {
  name: string
  default?: string
  required: boolean
}

/** The entries of a top-level mapping of action.yml (`inputs:` or `outputs:`), two-space indented. */
function declared(section: 'inputs' | 'outputs'): Declared[] {
  const body = actionYml.split(`\n${section}:\n`)[1].split(/\n[a-z]+:/)[0]
  const entries: Declared[] = []
  for (const line of body.split('\n')) {
    const name = /^ {2}([a-z0-9-]+):\s*$/.exec(line)
    if (name) entries.push({ name: name[1], required: false })
    const field = /^ {4}(default|required): (.*)$/.exec(line)
    if (field && entries.length > 0) {
      const value = field[2]
        .trim()
        .replace(/^'(.*)'$/, '$1')
        .replace(/''/g, "'")
      if (field[1] === 'default') entries[entries.length - 1].default = value
      else entries[entries.length - 1].required = value === 'true'
    }
  }
  return entries
}

/** Rows of the README table whose header starts with `| <title> |`: name -> second column. */
function documented(title: string): Map<string, string> {
  const table = readme.split(`| ${title} |`)[1]
  const rows = new Map<string, string>()
  for (const line of table.split('\n').slice(2)) {
    if (!line.startsWith('|')) break
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim())
    rows.set(cells[1].replace(/`/g, ''), cells[2])
  }
  return rows
}

describe('README tables and action.yml', () => {
  it('document exactly the inputs action.yml declares, with the same defaults', () => {
    const inputs = declared('inputs')
    const rows = documented('Input')
    expect([...rows.keys()].sort()).toEqual(inputs.map((i) => i.name).sort())
    for (const input of inputs) {
      const shown = rows.get(input.name)!
      if (input.required) expect(shown, input.name).toBe('*required*')
      else if (input.default) expect(shown, input.name).toBe(`\`${input.default}\``)
      else expect(shown, input.name).toBe('')
    }
  })

  it('document exactly the outputs action.yml declares', () => {
    expect([...documented('Output').keys()].sort()).toEqual(
      declared('outputs')
        .map((o) => o.name)
        .sort(),
    )
  })

  it('declare every input the SPEC names, each with a description', () => {
    const names = declared('inputs').map((i) => i.name)
    for (const name of [
      'host',
      'port',
      'username',
      'private-key',
      'passphrase',
      'password',
      'host-fingerprint',
      'known-hosts',
      'insecure-skip-host-key-check',
      'proxy-host',
      'proxy-port',
      'proxy-username',
      'proxy-private-key',
      'proxy-passphrase',
      'proxy-host-fingerprint',
      'connect-timeout',
      'artifact',
      'app-name',
      'deploy-dir',
      'keep-releases',
      'ports',
      'start-command',
      'java-opts',
      'env',
      'health-path',
      'health-timeout',
      'health-interval',
      'health-expect',
      'stop-previous',
      'drain-seconds',
      'stop-timeout',
      'nginx-include',
      'nginx-include-template',
      'nginx-test-command',
      'nginx-reload-command',
      'verify-url',
      'command',
      'dry-run',
      'lock-timeout',
      'max-parallel',
      'stage-parallel',
      'pre-start-command',
      'pre-switch-command',
      'post-switch-command',
      'hook-timeout',
      'log-lines',
    ]) {
      expect(names).toContain(name)
    }
    expect(actionYml.match(/^ {4}description: .+$/gm)?.length).toBe(declared('inputs').length + declared('outputs').length)
  })
})
