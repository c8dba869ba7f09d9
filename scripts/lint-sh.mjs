// ShellCheck over the host scripts, as POSIX sh whatever their first line. On a fresh Debian
// machine, as root, the shellcheck package is installed first, as the end-to-end suite installs its
// tools, so that `npm ci && npm test` works there as it is.
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { ensureSystemTools } from './lib/system-tools.mjs'

ensureSystemTools((text) => console.log(`lint:sh: ${text}`), { forShellLint: true })
const dir = 'src/remote/sh'
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.sh'))
  .map((name) => `${dir}/${name}`)
try {
  execFileSync('shellcheck', ['-s', 'sh', ...files], { stdio: 'inherit' })
} catch {
  process.exit(1)
}
console.log(`lint:sh: ShellCheck found nothing in ${files.length} files`)
