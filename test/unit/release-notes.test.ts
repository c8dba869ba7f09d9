import { describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS script run by the release workflow
import { releaseNotes } from '../../scripts/release-notes.mjs'

const changelog = `# Changelog

## [Unreleased]
- something not yet released

## [1.1.0] - 2027-01-05
### Added
- hooks

## [1.0.0] - 2026-12-01
- first release
`

describe('release notes from CHANGELOG.md', () => {
  it("take the tag's section and nothing of the others", () => {
    expect(releaseNotes(changelog, 'v1.1.0', '1.1.0')).toBe('### Added\n- hooks\n')
    expect(releaseNotes(changelog, 'v1.0.0', '1.0.0')).toBe('- first release\n')
  })

  it('refuse a tag that is not vX.Y.Z', () => {
    expect(() => releaseNotes(changelog, 'v1', '1.0.0')).toThrow('tag "v1" is not a release tag: expected vX.Y.Z')
    expect(() => releaseNotes(changelog, '1.0.0', '1.0.0')).toThrow('not a release tag')
  })

  it("refuse a tag that is not package.json's version", () => {
    expect(() => releaseNotes(changelog, 'v1.1.0', '1.0.0')).toThrow("does not match package.json's version 1.0.0")
  })

  it('refuse a version the changelog has no section for, or an empty one', () => {
    expect(() => releaseNotes(changelog, 'v2.0.0', '2.0.0')).toThrow('CHANGELOG.md has no section "## [2.0.0]"')
    expect(() => releaseNotes('## [3.0.0]\n\n## [2.0.0]\n- x\n', 'v3.0.0', '3.0.0')).toThrow('is empty')
  })

  it("hold for this repository's own CHANGELOG.md and package.json version", async () => {
    const { readFileSync } = await import('node:fs')
    const log = readFileSync(new URL('../../CHANGELOG.md', import.meta.url), 'utf8')
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(releaseNotes(log, `v${version}`, version)).toMatch(/\S/)
  })
})
