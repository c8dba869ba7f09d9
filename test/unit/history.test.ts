import { describe, expect, it } from 'vitest'
import { HookError, maskLine } from '../../src/deploy/hooks.js'
import { describeEntry, historyEntry, parseHistory } from '../../src/deploy/history.js'
import { historyTable } from '../../src/deploy/outputs.js'
import { emptyReport } from '../../src/deploy/report.js'

const ENV = {
  GITHUB_REPOSITORY: 'acme/shop-api',
  GITHUB_RUN_ID: '4242',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_ACTOR: 'octocat',
  RUNNER_NAME: 'runner-7',
}

describe('history entries', () => {
  it('a deploy: who, what, the ports before and after, how it ended and how long it took', () => {
    const report = {
      ...emptyReport('web1:22', 'deploy' as const),
      outcome: 'deployed' as const,
      release: '20261130-101500-3fa2c1d0',
      targetRelease: '20261130-101500-3fa2c1d0',
      sha256: 'ab'.repeat(32),
      previousPort: 8081,
      activePort: 8082,
      durationSeconds: 3.25,
    }
    const entry = historyEntry(report, ENV, new Date('2026-11-30T10:15:03.456Z'))
    expect(entry).toEqual({
      time: '2026-11-30T10:15:03Z',
      owner: { repository: 'acme/shop-api', run: '4242.2', actor: 'octocat', runner: 'runner-7' },
      command: 'deploy',
      release: '20261130-101500-3fa2c1d0',
      sha256: 'ab'.repeat(32),
      serving: '20261130-101500-3fa2c1d0',
      ports: { before: 8081, after: 8082 },
      outcome: 'deployed',
      seconds: 3.25,
    })
    expect(JSON.stringify(entry)).not.toContain('\n')
  })

  it('a failed run names the step it failed at', () => {
    const report = { ...emptyReport('web1:22', 'deploy' as const), failedStep: 'pre-switch-command', previousPort: 8081, activePort: 8081 }
    const entry = historyEntry(report, {}, new Date('2026-11-30T10:15:03Z'))
    expect(entry.outcome).toBe('failed')
    expect(entry.step).toBe('pre-switch-command')
    expect(entry.release).toBeNull()
    expect(entry.owner.repository).toBe('')
  })

  it("a failed deploy names the release it tried with that release's sha256, and the old release as the one that serves", () => {
    const report = {
      ...emptyReport('web1:22', 'deploy' as const),
      failedStep: 'start',
      release: '20261129-090000-11111111',
      targetRelease: '20261130-101500-3fa2c1d0',
      sha256: '3fa2c1d0'.repeat(8),
      previousPort: 8081,
      activePort: 8081,
    }
    const entry = historyEntry(report, ENV, new Date('2026-11-30T10:15:03Z'))
    expect(entry).toMatchObject({ release: '20261130-101500-3fa2c1d0', sha256: '3fa2c1d0'.repeat(8), serving: '20261129-090000-11111111' })
    expect(describeEntry(entry)).toBe(
      '2026-11-30T10:15:03Z  deploy failed at start  tried 20261130-101500-3fa2c1d0 (sha256 3fa2c1d03fa2)  serving 20261129-090000-11111111  ports 8081 -> 8081  0.0 s  by octocat, acme/shop-api run 4242.2',
    )
    const row = historyTable([entry])[1].map(String)
    expect(row.slice(3, 6)).toEqual(['start', '20261130-101500-3fa2c1d0 (sha256 3fa2c1d03fa2)', '20261129-090000-11111111'])
  })

  it('a deploy that failed before its release had a name keeps the sha256 of the jar it tried, and no release beside it', () => {
    const report = {
      ...emptyReport('web1:22', 'deploy' as const),
      failedStep: 'upload',
      release: '20261129-090000-11111111',
      sha256: 'cd'.repeat(32),
    }
    const entry = historyEntry(report, ENV, new Date('2026-11-30T10:15:03Z'))
    expect(entry).toMatchObject({ release: null, sha256: 'cd'.repeat(32), serving: '20261129-090000-11111111' })
    expect(describeEntry(entry)).toContain('tried an unnamed release (sha256 cdcdcdcdcdcd)  serving 20261129-090000-11111111')
  })

  it('an entry written before `serving` existed shows its release as the one that served', () => {
    const old = {
      ...historyEntry(emptyReport('h', 'deploy' as const), ENV, new Date('2026-11-30T10:00:00Z')),
      release: 'r-old',
      sha256: 'ef'.repeat(32),
    }
    delete old.serving
    expect(describeEntry(old)).toContain('deploy failed  serving r-old  ports')
    expect(historyTable([old])[1].map(String).slice(4, 6)).toEqual(['-', 'r-old'])
  })

  it('reads entries back, passing over torn or foreign lines', () => {
    const good = historyEntry({ ...emptyReport('h', 'rollback' as const), outcome: 'rolled-back' }, ENV, new Date('2026-11-30T10:00:00Z'))
    const text = ['{"time": 5', JSON.stringify(good), 'not json', '{"time":"2026-11', ''].join('\n')
    expect(parseHistory(text)).toEqual([good])
    expect(describeEntry(good)).toBe(
      '2026-11-30T10:00:00Z  rollback rolled-back  serving -  ports - -> -  0.0 s  by octocat, acme/shop-api run 4242.2',
    )
  })
})

describe('hook output and errors', () => {
  it('masks every secret in a line, each time it appears', () => {
    expect(maskLine('user=app password=s3cr3t! again s3cr3t!', ['s3cr3t!', 'ab'])).toBe('user=app password=*** again ***')
  })

  it("a hook's error says what failed, what the run left, then the hook's last lines", () => {
    const error = new HookError('pre-switch-command', 'failed with exit status 3.', '\nLast lines it printed:\nsmoke test failed')
    const left = error.leaving('The new instance on port 8082 was stopped; nothing was switched and the old version still serves.')
    expect(left.step).toBe('pre-switch-command')
    expect(left.message).toBe(
      'pre-switch-command: failed with exit status 3. The new instance on port 8082 was stopped; nothing was switched and the old version still serves.\nLast lines it printed:\nsmoke test failed',
    )
  })
})
