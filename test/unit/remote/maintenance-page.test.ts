/** The maintenance page read on the host (src/remote/maintenance.ts), by each shell a host may have. */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAnswer } from '../../../src/remote/protocol.js'
import { MAINTENANCE_PAGE_EXIT, maintenancePageScript, pageText } from '../../../src/remote/maintenance.js'
import { cleanUpAfterAll, tempDir } from './local-host.js'

cleanUpAfterAll()

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync)
const SHELLS: string[][] = [['dash'], ['bash', '--posix'], ...(BUSYBOX ? [[BUSYBOX, 'ash']] : [])]

function read(shell: string[], page: string, limit = 4094) {
  const result = spawnSync(shell[0], [...shell.slice(1), '-c', maintenancePageScript({ page, limit })], { encoding: 'utf8' })
  return { code: result.status, answer: parseAnswer(result.stdout) }
}

describe.each(SHELLS)('the maintenance page, read by %s', (...shell) => {
  const dir = tempDir('zdd-page-')
  const page = join(dir, 'maintenance.html')
  writeFileSync(page, '<h1>Down until 10:00</h1>\n@@not_a_section\n<p>"$5" off</p>\n')

  it('comes back whole, a line that looks like a section opener included', () => {
    const { code, answer } = read(shell, page)
    expect(code).toBe(0)
    expect(pageText(answer.sections.page)).toBe('<h1>Down until 10:00</h1>\n@@not_a_section\n<p>"$5" off</p>')
  })

  it('a page that is missing, a directory, unreadable or too long: the error, and nothing else', () => {
    mkdirSync(join(dir, 'a-dir'), { recursive: true })
    const secret = join(dir, 'secret.html')
    writeFileSync(secret, 'x')
    chmodSync(secret, 0)
    const cases: Array<[string, number, string]> = [
      [join(dir, 'missing.html'), 4094, 'page_missing'],
      [join(dir, 'a-dir'), 4094, 'page_not_file'],
      [page, 10, 'page_too_big'],
      ...(process.getuid?.() === 0 ? [] : [[secret, 4094, 'page_unreadable'] as [string, number, string]]),
    ]
    for (const [path, limit, error] of cases) {
      const { code, answer } = read(shell, path, limit)
      expect(code, path).toBe(MAINTENANCE_PAGE_EXIT)
      expect(answer.facts.error, path).toBe(error)
      expect(answer.sections.page).toBeUndefined()
    }
    expect(read(shell, page, 10).answer.facts.size).toBe('58')
  })
})
