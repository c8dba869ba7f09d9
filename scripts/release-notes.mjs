#!/usr/bin/env node
// Prints the CHANGELOG.md section of a release tag, for the release workflow. Fails when the tag is
// not vX.Y.Z, when package.json says another version, or when the changelog has no such section, so
// a release is never published with empty or wrong notes.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The body of `## [X.Y.Z]` (a date may follow) in a Keep a Changelog text, for the tag `vX.Y.Z`.
 * @param {string} changelog
 * @param {string} tag
 * @param {string} packageVersion
 * @returns {string}
 */
export function releaseNotes(changelog, tag, packageVersion) {
  const match = /^v(\d+\.\d+\.\d+)$/.exec(tag)
  if (!match) throw new Error(`tag "${tag}" is not a release tag: expected vX.Y.Z, such as v1.2.3`)
  const version = match[1]
  if (version !== packageVersion) {
    throw new Error(`tag ${tag} does not match package.json's version ${packageVersion}: bump one of them`)
  }
  const lines = changelog.split('\n')
  const start = lines.findIndex((line) => line.startsWith(`## [${version}]`))
  if (start < 0) throw new Error(`CHANGELOG.md has no section "## [${version}]": add one before tagging ${tag}`)
  const end = lines.findIndex((line, i) => i > start && /^## /.test(line))
  const body = lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join('\n')
    .trim()
  if (!body) throw new Error(`CHANGELOG.md's section "## [${version}]" is empty`)
  return body + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = new URL('..', import.meta.url)
  try {
    const changelog = readFileSync(new URL('CHANGELOG.md', root), 'utf8')
    const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
    process.stdout.write(releaseNotes(changelog, process.argv[2] ?? '', version))
  } catch (err) {
    console.error(`release-notes: ${/** @type {Error} */ (err).message}`)
    process.exit(1)
  }
}
