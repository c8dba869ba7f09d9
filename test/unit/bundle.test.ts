import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const dist = path.resolve(import.meta.dirname, '../../dist')
const bundle = readdirSync(dist)
  .filter((name) => name.endsWith('.js'))
  .map((name) => readFileSync(path.join(dist, name), 'utf8'))
  .join('\n')

describe('the bundle in dist/', () => {
  // @actions/http-client imports undici for a proxy dispatcher the action never asks for; package.json
  // points undici at shims/undici. Without that, about 900 KB of HTTP client is parsed at every start.
  it('carries no copy of undici', () => {
    expect(bundle).not.toMatch(/undici|llhttp/)
  })

  // ssh2 ships pagent.exe to reach PuTTY's agent on Windows; ncc copies it as an asset, but a
  // Linux runner never runs it, so `npm run bundle` leaves it out.
  it('carries no Windows executables', () => {
    expect(readdirSync(dist).filter((name) => name.endsWith('.exe'))).toEqual([])
  })

  it('still carries the parts of @actions/core the action uses', () => {
    expect(bundle).toContain('GITHUB_OUTPUT')
    expect(bundle).toContain('GITHUB_STEP_SUMMARY')
  })
})
