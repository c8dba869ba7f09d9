import { afterEach, describe, expect, it, vi } from 'vitest'
import { FleetWarnings, hostLog } from '../../src/log.js'

/** What @actions/core printed, as a GitHub runner reads it. */
function captureStdout(): { text: () => string } {
  let text = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk)
    return true
  })
  return { text: () => text }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('hostLog: many hosts at once, one readable group per host and phase', () => {
  it("keeps each host's lines together, however they interleave, until its phase ends", async () => {
    const out = captureStdout()
    const a = hostLog('web1')
    const b = hostLog('web2')
    await a.group('Upload', async () => a.info('uploaded 5 of 5 KiB'))
    b.info('b first line')
    a.info('a second line')
    b.info('b second line')
    b.flush('stage: healthy on port 8082 (2.00 s)')
    a.flush('stage: healthy on port 8082 (2.50 s)')
    expect(out.text()).toBe(
      [
        '::group::web2: stage: healthy on port 8082 (2.00 s)',
        'b first line',
        'b second line',
        '::endgroup::',
        '::group::web1: stage: healthy on port 8082 (2.50 s)',
        'Upload:',
        'uploaded 5 of 5 KiB',
        'a second line',
        '::endgroup::',
        '',
      ].join('\n'),
    )
  })

  it('shows a lock wait and warnings at once, tagged with the host, and again in its group', () => {
    const out = captureStdout()
    const log = hostLog('web3')
    log.progress('Waiting for the deploy lock, held by owner=x (up to 300 s)...')
    log.warning('Took over a stale deploy lock')
    expect(out.text()).toBe(
      '[web3] Waiting for the deploy lock, held by owner=x (up to 300 s)...\n::warning::[web3] Took over a stale deploy lock\n',
    )
    log.flush('stage: FAILED')
    expect(out.text()).toContain(
      '::group::web3: stage: FAILED\nWaiting for the deploy lock, held by owner=x (up to 300 s)...\nWarning: Took over a stale deploy lock\n::endgroup::\n',
    )
  })

  it('a warning that several hosts give is annotated once, and the others are named at the end; each group keeps its own', () => {
    const out = captureStdout()
    const warnings = new FleetWarnings()
    const hosts = ['web1', 'web2', 'web3'].map((name) => hostLog(name, warnings))
    for (const log of hosts) log.warning('The host does not run systemd (/run/systemd/system is absent)')
    hosts[1].warning('Took over a stale deploy lock')
    expect(out.text()).toBe(
      '::warning::[web1] The host does not run systemd (/run/systemd/system is absent)\n::warning::[web2] Took over a stale deploy lock\n',
    )
    hosts[2].flush('stage: healthy')
    expect(out.text()).toContain(
      '::group::web3: stage: healthy\nWarning: The host does not run systemd (/run/systemd/system is absent)\n::endgroup::\n',
    )
    warnings.summarize()
    expect(out.text()).toContain(
      '::warning::2 more hosts gave the warning shown for web1 (web2, web3): The host does not run systemd (/run/systemd/system is absent)\n',
    )
    expect(out.text().match(/::warning::/g)).toHaveLength(3)
  })
})
