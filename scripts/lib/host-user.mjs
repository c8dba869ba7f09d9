// A deploy user as a host has one: a system user with a home, an authorized key, and exactly the
// sudoers file the test gives it (checked with visudo first). Needs root. remove() takes both away.
import { execFile as execFileCb } from 'node:child_process'
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const execFile = promisify(execFileCb)

/**
 * @param {{ name: string, publicKey: string, sudoers?: string }} options
 *   sudoers: the text of /etc/sudoers.d/<name> (none when absent)
 * @returns {Promise<{ name: string, home: string, uid: number, sudoersPath: string | undefined, remove: () => Promise<void> }>}
 */
export async function createHostUser({ name, publicKey, sudoers }) {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new Error(`user name ${JSON.stringify(name)}: expected lower-case letters, digits and -`)
  // "*": no password to log in with, but not a locked account, which sshd refuses without PAM.
  await execFile('useradd', ['--create-home', '--shell', '/bin/sh', '--password', '*', name])
  // sudo skips files in sudoers.d whose names hold a dot.
  const sudoersPath = sudoers === undefined ? undefined : path.join('/etc/sudoers.d', name)
  const remove = async () => {
    if (sudoersPath) await rm(sudoersPath, { force: true })
    await execFile('userdel', ['--remove', '--force', name]).catch(() => undefined)
  }
  try {
    const { stdout } = await execFile('id', ['-u', name])
    const uid = Number(stdout.trim())
    const home = (await execFile('getent', ['passwd', name])).stdout.split(':')[5]
    await mkdir(path.join(home, '.ssh'), { mode: 0o700 })
    await writeFile(path.join(home, '.ssh', 'authorized_keys'), `${publicKey.trim()}\n`, { mode: 0o600 })
    await chown(path.join(home, '.ssh'), uid, uid)
    await chown(path.join(home, '.ssh', 'authorized_keys'), uid, uid)
    if (sudoersPath && sudoers !== undefined) {
      const draft = path.join(os.tmpdir(), `${name}.sudoers`)
      await writeFile(draft, sudoers, { mode: 0o440 })
      try {
        await execFile('visudo', ['-c', '-f', draft])
      } catch (err) {
        const e = /** @type {Error & { stdout?: string, stderr?: string }} */ (err)
        throw new Error(`visudo rejected the sudoers file:\n${sudoers}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err })
      } finally {
        await rm(draft, { force: true })
      }
      await writeFile(sudoersPath, sudoers, { mode: 0o440 })
      await chmod(sudoersPath, 0o440)
    }
    return { name, home, uid, sudoersPath, remove }
  } catch (err) {
    await remove()
    throw err
  }
}
