// What the demo needs from the system (sshd, nginx, a JDK, ssh-keygen, curl, iproute2), and what
// the end-to-end tests need besides (sudo, busybox, iptables, systemd, procps, GNU wget). Installed
// with apt-get when missing and we are root (a fresh Debian machine).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/** @param {string} tool */
function isBusyBox(tool) {
  try {
    return execFileSync('sh', ['-c', `readlink -f "$(command -v ${tool})"`], { encoding: 'utf8' }).includes('busybox')
  } catch {
    return false
  }
}

/** @param {string} tool */
function has(tool) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Debian packages that are missing for the demo, or with `forTests` for the end-to-end tests too;
 * with `forShellLint`, only ShellCheck, which `npm test` runs over the host scripts.
 * @param {{ forTests?: boolean, forShellLint?: boolean }} [options]
 */
export function missingPackages({ forTests = false, forShellLint = false } = {}) {
  if (forShellLint) return has('shellcheck') ? [] : ['shellcheck']
  const missing = []
  if (!existsSync('/usr/sbin/sshd')) missing.push('openssh-server')
  if (!existsSync('/usr/sbin/nginx')) missing.push('nginx')
  if (!has('javac') || !has('jar')) missing.push('openjdk-17-jdk-headless')
  if (!has('ssh-keygen')) missing.push('openssh-client')
  if (!has('curl')) missing.push('curl')
  if (!has('ip') || !has('ss')) missing.push('iproute2')
  if (!forTests) return missing
  // Hosts as users have them: a non-root deploy user with sudo rules, BusyBox's wget (Alpine),
  // a silent network drop (iptables), and systemd as PID 1 of a namespace.
  if (!has('sudo')) missing.push('sudo')
  if (!has('busybox')) missing.push('busybox')
  if (!has('iptables')) missing.push('iptables')
  if (!existsSync('/lib/systemd/systemd')) missing.push('systemd')
  // pkill: the supervision tests kill a JVM inside a host whose PID 1 is systemd.
  if (!has('pkill')) missing.push('procps')
  // GNU wget, for the hosts whose only HTTP client it is.
  if (!has('wget') || isBusyBox('wget')) missing.push('wget')
  return missing
}

/**
 * Installs what is missing, as root; otherwise says what to install and exits.
 * @param {(text: string) => void} [say]
 * @param {{ forTests?: boolean, forShellLint?: boolean }} [options]
 */
export function ensureSystemTools(say = console.log, options = {}) {
  const missing = missingPackages(options)
  if (missing.length === 0) return
  if (process.getuid?.() !== 0) {
    console.error(`This needs ${missing.join(', ')}. Install them (as root: apt-get install -y ${missing.join(' ')}) and run it again.`)
    process.exit(1)
  }
  say(`Installing ${missing.join(', ')} with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: 'inherit', env })
}
