import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  activePortFromInclude,
  choosePorts,
  nginxMasterHint,
  releaseName,
  releasesToPrune,
  renderInclude,
  withoutSudoForRoot,
} from '../../src/deploy/plan.js'

const PAIR: [number, number] = [8081, 8082]
const DEFAULT_TEMPLATE = 'set $service_url http://127.0.0.1:{port};'

describe('choosePorts', () => {
  it('no include: the first port is idle and none is active', () => {
    expect(choosePorts(undefined, PAIR)).toEqual({ idle: 8081 })
    expect(choosePorts('', PAIR)).toEqual({ idle: 8081 })
  })

  it('an include naming 8081: 8081 is active, 8082 idle', () => {
    expect(choosePorts('set $service_url http://127.0.0.1:8081;', PAIR)).toEqual({ active: 8081, idle: 8082 })
  })

  it('an include naming 8082: 8082 is active, 8081 idle', () => {
    expect(choosePorts('set $service_url http://127.0.0.1:8082;\n', PAIR)).toEqual({ active: 8082, idle: 8081 })
  })

  it('an include naming another port: the first port of the pair is idle', () => {
    expect(choosePorts('set $service_url http://127.0.0.1:9090;', PAIR)).toEqual({ idle: 8081 })
    expect(choosePorts('set $service_url http://127.0.0.1:80810;', PAIR)).toEqual({ idle: 8081 })
    expect(choosePorts('set $service_url http://127.0.0.1:18082;', PAIR)).toEqual({ idle: 8081 })
  })

  it('works with the ports of a custom pair, in either order', () => {
    expect(choosePorts('set $service_url http://127.0.0.1:9001;', [9000, 9001])).toEqual({ active: 9001, idle: 9000 })
    expect(choosePorts('set $service_url http://127.0.0.1:8081;', [8082, 8081])).toEqual({ active: 8081, idle: 8082 })
  })

  it('custom templates with other text around the port', () => {
    const templates = [
      '# managed by zero-downtime-deploy\nset $service_url http://localhost:{port};\nproxy_pass $service_url;',
      'proxy_pass http://[::1]:{port};',
      'upstream app { server 127.0.0.1:{port} max_fails=0; keepalive 16; }',
      'set $service_url http://127.0.0.1:{port}/api/v1;',
    ]
    for (const template of templates) {
      for (const [active, idle] of [
        [8081, 8082],
        [8082, 8081],
      ]) {
        expect(choosePorts(renderInclude(template, active), PAIR), template).toEqual({ active, idle })
      }
    }
  })

  it('custom templates where the port is not written after ":" still name the active port', () => {
    // nginx-include-template is the user's: "{port} is replaced", wherever it stands. If the active
    // port goes unseen, the deploy takes the *active* port for idle and stops the serving instance.
    const templates = [
      'set $app_port {port};',
      'set $service_url http://127.0.0.1:$app_port; set $app_port {port};',
      'server unix:/run/app-{port}.sock;',
    ]
    for (const template of templates) {
      expect(choosePorts(renderInclude(template, 8082), PAIR), template).toEqual({ active: 8082, idle: 8081 })
      expect(choosePorts(renderInclude(template, 8081), PAIR), template).toEqual({ active: 8081, idle: 8082 })
    }
  })

  it('property: whatever port of the pair the default include names, the other is idle', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.boolean(), (a, b, second) => {
        fc.pre(a !== b)
        const active = second ? b : a
        expect(choosePorts(renderInclude(DEFAULT_TEMPLATE, active), [a, b])).toEqual({ active, idle: second ? a : b })
      }),
    )
  })

  it('activePortFromInclude returns undefined for no include', () => {
    expect(activePortFromInclude(undefined, PAIR)).toBeUndefined()
  })
})

describe('renderInclude', () => {
  it('replaces every {port} and nothing else', () => {
    expect(renderInclude(DEFAULT_TEMPLATE, 8082)).toBe('set $service_url http://127.0.0.1:8082;')
    expect(renderInclude('# {port}\nset $u http://127.0.0.1:{port}; # {ports} {port', 9)).toBe(
      '# 9\nset $u http://127.0.0.1:9; # {ports} {port',
    )
  })

  it('leaves $ sequences of the template alone (no replacement patterns)', () => {
    expect(renderInclude("set $x '$&$1$$' {port};", 8081)).toBe("set $x '$&$1$$' 8081;")
  })
})

describe('releaseName', () => {
  const sha = '3fa2c1d0e5b64a7c9d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c'

  it('is the UTC time and the first 8 hex digits of the sha256', () => {
    expect(releaseName(sha, new Date(Date.UTC(2026, 10, 27, 0, 15, 2, 987)))).toBe('20261127-001502-3fa2c1d0')
    expect(releaseName(sha, new Date('2025-01-02T03:04:05.000+02:00'))).toBe('20250102-010405-3fa2c1d0')
  })

  it('has a fixed shape', () => {
    expect(releaseName(sha, new Date())).toMatch(/^\d{8}-\d{6}-[0-9a-f]{8}$/)
  })

  it('sorts by time: a later release sorts after an earlier one', () => {
    const hex = fc.stringMatching(/^[0-9a-f]{64}$/)
    const time = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) })
    fc.assert(
      fc.property(time, time, hex, hex, (t1, t2, s1, s2) => {
        fc.pre(Math.floor(t1 / 1000) < Math.floor(t2 / 1000))
        expect(releaseName(s1, new Date(t1)) < releaseName(s2, new Date(t2))).toBe(true)
      }),
    )
  })
})

describe('releasesToPrune', () => {
  const named = (...names: string[]) => names.map((name) => ({ name, sha256: `sha-${name}` }))
  const releases = named(
    '20260101-000000-aaaaaaaa',
    '20260103-000000-cccccccc',
    '20260102-000000-bbbbbbbb',
    '20260105-000000-eeeeeeee',
    '20260104-000000-dddddddd',
  )

  it('keeps the N newest, whatever order the host listed them in', () => {
    expect(releasesToPrune(releases, 3, []).sort()).toEqual(['20260101-000000-aaaaaaaa', '20260102-000000-bbbbbbbb'])
  })

  it('keeps everything when there are no more than N', () => {
    expect(releasesToPrune(releases, 5, [])).toEqual([])
    expect(releasesToPrune(releases, 50, [])).toEqual([])
    expect(releasesToPrune([], 1, [])).toEqual([])
  })

  it('never prunes a running release, even an old one', () => {
    const doomed = releasesToPrune(releases, 2, ['20260101-000000-aaaaaaaa'])
    expect(doomed.sort()).toEqual(['20260102-000000-bbbbbbbb', '20260103-000000-cccccccc'])
  })

  it('keep=1 keeps only the newest (and whatever runs)', () => {
    expect(releasesToPrune(releases, 1, []).sort()).toEqual(
      releases
        .map((r) => r.name)
        .filter((n) => n !== '20260105-000000-eeeeeeee')
        .sort(),
    )
    expect(releasesToPrune(releases, 1, ['20260105-000000-eeeeeeee', '20260103-000000-cccccccc']).sort()).toEqual([
      '20260101-000000-aaaaaaaa',
      '20260102-000000-bbbbbbbb',
      '20260104-000000-dddddddd',
    ])
  })

  it('property: never a running one, never one of the newest keep, never the rollback target, and everything else', () => {
    const name = fc.integer({ min: 0, max: 10 ** 6 }).map((n) => `2026${String(n).padStart(10, '0')}`)
    fc.assert(
      fc.property(
        fc.uniqueArray(name, { maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 12 }),
        (names, keep, runningSeed, servedSeed, currentIndex) => {
          const running = names.filter((_, i) => (runningSeed >> i) & 1)
          const current = names[currentIndex]
          const releases = names.map((n, i) => ({ name: n, sha256: `sha-${n}`, neverServed: ((servedSeed >> i) & 1) === 1 }))
          const doomed = releasesToPrune(releases, keep, running, current)
          const newest = [...names].sort().reverse().slice(0, keep)
          // The newest served release besides the current one, unless a kept one has served already.
          const servedKept = releases.some(
            (r) => (newest.includes(r.name) || running.includes(r.name)) && r.name !== current && !r.neverServed,
          )
          const target = servedKept
            ? undefined
            : [...releases].sort((a, b) => b.name.localeCompare(a.name)).find((r) => !r.neverServed && r.name !== current)?.name
          const spared = (n: string) => running.includes(n) || newest.includes(n) || n === current || n === target
          for (const n of doomed) expect(spared(n)).toBe(false)
          expect(doomed.length).toBe(names.filter((n) => !spared(n)).length)
        },
      ),
    )
  })

  describe('after failed deploys in a row (their releases never served)', () => {
    const served = (name: string) => ({ name, sha256: `sha-${name}` })
    const failed = (name: string) => ({ name, sha256: `sha-${name}`, neverServed: true })

    it('keeps the newest release that has served, although keep-releases counts only newer ones', () => {
      // keep 2: v1 served, three deploys failed, then v2 succeeded with stop-previous (nothing warm)
      const releases = [served('1-v1'), failed('2-f1'), failed('3-f2'), failed('4-f3'), served('5-v2')]
      expect(releasesToPrune(releases, 2, [], '5-v2').sort()).toEqual(['2-f1', '3-f2'])
    })

    it('keeps it also when the newest are all failures and nothing runs', () => {
      const releases = [served('1-v0'), served('2-v1'), failed('3-f1'), failed('4-f2'), failed('5-f3')]
      expect(releasesToPrune(releases, 1, [], '5-f3').sort()).toEqual(['1-v0', '3-f1', '4-f2'])
    })

    it('the rollback target is the newest served other than the current release', () => {
      const releases = [served('1-v0'), served('2-v1'), failed('3-f1'), served('4-v2')]
      expect(releasesToPrune(releases, 1, [], '4-v2').sort()).toEqual(['1-v0', '3-f1'])
    })

    it('a warm instance that has served is rollback target enough: a newer served release is not kept for it', () => {
      // keep 1: v1 runs warm (after a rollback to it), v2 served before, v3 is the current release
      const releases = [served('1-v1'), served('2-v2'), served('3-v3')]
      expect(releasesToPrune(releases, 1, ['1-v1'], '3-v3')).toEqual(['2-v2'])
    })

    it('a warm instance that never served is no rollback target: the newest served release is kept', () => {
      const releases = [served('1-v1'), failed('2-f1'), served('3-v3')]
      expect(releasesToPrune(releases, 1, ['2-f1'], '3-v3')).toEqual([])
    })

    it('releases from before the state file (no neverServed) count as served', () => {
      expect(releasesToPrune(named('1-a', '2-b', '3-c'), 1, [], '3-c')).toEqual(['1-a'])
    })
  })

  it('does not change the list it was given', () => {
    const copy = structuredClone(releases)
    releasesToPrune(releases, 1, [])
    expect(releases).toEqual(copy)
  })
})

describe('withoutSudoForRoot', () => {
  it.each([
    ['sudo -n nginx -t', 'nginx -t'],
    ['sudo -n nginx -s reload', 'nginx -s reload'],
    ['sudo -n nginx -t && sudo -n systemctl reload nginx', 'nginx -t && systemctl reload nginx'],
    ['sudo -n nginx -t; sudo  -n  nginx -s reload', 'nginx -t; nginx -s reload'],
    ['/usr/sbin/nginx -t', '/usr/sbin/nginx -t'],
    ['echo "no sudo -n here"', 'echo "no sudo -n here"'],
  ])('root: %j -> %j', (command, expected) => {
    expect(withoutSudoForRoot(command, true)).toBe(expected)
  })

  it('keeps the command as written for another user', () => {
    expect(withoutSudoForRoot('sudo -n nginx -t && sudo -n nginx -s reload', false)).toBe('sudo -n nginx -t && sudo -n nginx -s reload')
  })
})

describe('nginxMasterHint', () => {
  it.each([
    ['sudo -n nginx -s reload', ''],
    ['nginx -c /etc/nginx/site-a.conf -s reload', '/etc/nginx/site-a.conf'],
    ["nginx -c '/opt/my nginx/nginx.conf' -s reload", '/opt/my nginx/nginx.conf'],
    ['nginx -c "/opt/x/nginx.conf" -s reload', '/opt/x/nginx.conf'],
    ['sudo -n /usr/sbin/nginx -p /srv/nginx/ -s reload', '/srv/nginx/'],
    ['nginx -p /srv/p -c /srv/p/conf/nginx.conf -s reload', '/srv/p/conf/nginx.conf'],
    ['systemctl reload nginx', ''],
  ])('%j -> %j', (command, hint) => {
    expect(nginxMasterHint(command)).toBe(hint)
  })
})
