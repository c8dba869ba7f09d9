import { describe, expect, it } from 'vitest'
import { instanceOn, readHostState, warnStaleRecords } from '../../src/deploy/host-state.js'
import { parseAnswer } from '../../src/remote/protocol.js'

const INSPECTED = `deploy_dir=/home/deploy/apps/shop
uid=1000
home=/home/deploy
http=curl
java=yes
writable=yes
deploy_dir_exists=yes
free_kb=2048
release=20260101-000000-aaaaaaaa aaaa1111 shop.jar
release=20260102-000000-bbbbbbbb - my app.jar
release=20260103-000000-cccccccc cccc3333 
never_served=20260103-000000-cccccccc
instance=8081 4242 running yes 20260101-000000-aaaaaaaa
instance=8082 - stopped no -
include=present
@@include
set $service_url http://127.0.0.1:8081;
`

describe('readHostState', () => {
  const state = readHostState(parseAnswer(INSPECTED))

  it('reads who and where', () => {
    expect(state.isRoot).toBe(false)
    expect(state.home).toBe('/home/deploy')
    expect(state.deployDir).toBe('/home/deploy/apps/shop')
    expect(state.http).toBe('curl')
    expect(state.javaFound).toBe(true)
    expect(state.writable).toBe(true)
    expect(state.deployDirExists).toBe(true)
    expect(state.freeBytes).toBe(2048 * 1024)
  })

  it('reads the releases: name, sha256 ("-" is unknown), file name (spaces kept), and whether one has never served', () => {
    expect(state.releases).toEqual([
      { name: '20260101-000000-aaaaaaaa', sha256: 'aaaa1111', fileName: 'shop.jar', neverServed: false },
      { name: '20260102-000000-bbbbbbbb', sha256: '', fileName: 'my app.jar', neverServed: false },
      { name: '20260103-000000-cccccccc', sha256: 'cccc3333', fileName: '', neverServed: true },
    ])
  })

  it('reads the instances on each port', () => {
    expect(state.instances).toEqual([
      { port: 8081, pid: 4242, running: true, listening: true, release: '20260101-000000-aaaaaaaa' },
      { port: 8082, pid: undefined, running: false, listening: false, release: undefined },
    ])
    expect(instanceOn(state, 8081)?.pid).toBe(4242)
    expect(instanceOn(state, 9999)).toBeUndefined()
    expect(instanceOn(state, undefined)).toBeUndefined()
  })

  it('the include text, when present', () => {
    expect(state.include).toBe('set $service_url http://127.0.0.1:8081;')
  })

  it('an absent include is undefined, not empty text', () => {
    const absent = readHostState(parseAnswer('uid=0\ninclude=absent\n'))
    expect(absent.include).toBeUndefined()
    const empty = readHostState(parseAnswer('include=present\n@@include\n'))
    expect(empty.include).toBe('')
  })

  it('base64 on the host: small uploads may travel inside a script', () => {
    expect(readHostState(parseAnswer('uid=0\nhttp=curl\nbase64=yes\n')).base64).toBe(true)
    expect(readHostState(parseAnswer('uid=0\nhttp=curl\n')).base64).toBe(false)
  })

  it('root, wget, and facts the script did not report', () => {
    const minimal = readHostState(parseAnswer('uid=0\nhttp=wget\ndeploy_dir_exists=no\n'))
    expect(minimal).toEqual({
      isRoot: true,
      home: '',
      http: 'wget',
      base64: false,
      javaFound: undefined,
      writable: undefined,
      deployDirExists: false,
      freeBytes: undefined,
      releases: [],
      instances: [],
      deployDir: '',
      include: undefined,
      uid: 0,
      user: '',
      systemd: false,
      linger: false,
      units: [],
    })
  })

  it("supervision: systemd, lingering and the state of each port's unit", () => {
    const state = readHostState(
      parseAnswer(
        'uid=1000\nuser=deploy\nsystemd=yes\nlinger=yes\nunit=8081 active running enabled 2\nunit=8082 inactive dead disabled -\n',
      ),
    )
    expect(state).toMatchObject({ uid: 1000, user: 'deploy', systemd: true, linger: true })
    expect(state.units).toEqual([
      { port: 8081, active: 'active', sub: 'running', fileState: 'enabled', restarts: 2 },
      { port: 8082, active: 'inactive', sub: 'dead', fileState: 'disabled', restarts: undefined },
    ])
  })

  it('java=no and writable=no are false, not unknown', () => {
    const state = readHostState(parseAnswer('java=no\nwritable=no\nhttp=none\n'))
    expect(state.javaFound).toBe(false)
    expect(state.writable).toBe(false)
    expect(state.http).toBe('none')
  })
})

describe('stale instance records', () => {
  const answer = parseAnswer(`stale_pid=8082 777
instance=8081 4242 running yes r1
instance=8082 777 stopped no r0
`)
  const state = readHostState(answer)

  it('a pid file naming a process that is not ours: nothing runs there, and the record is stale', () => {
    expect(instanceOn(state, 8082)).toEqual({ port: 8082, pid: 777, running: false, listening: false, release: 'r0', stalePid: 777 })
    expect(instanceOn(state, 8081)?.stalePid).toBeUndefined()
  })

  it('each stale record is warned of once: a later script reporting the same one adds nothing', () => {
    const warnings: string[] = []
    const log = {
      info: () => undefined,
      warning: (m: string) => warnings.push(m),
      group: <T>(_t: string, work: () => Promise<T>) => work(),
    }
    warnStaleRecords(log, answer.lists.stale_pid)
    expect(warnings).toEqual([
      'Port 8082: run/8082.pid names pid 777, but that process is not the instance this action started there (the instance has ended and its pid was reused, or the host rebooted). The record is stale; pid 777 was not signalled.',
    ])
    warnStaleRecords(log, ['8082 777'], state)
    warnStaleRecords(log, ['8081 999'], state)
    expect(warnings).toHaveLength(2)
    expect(warnings[1]).toContain('Port 8081: run/8081.pid names pid 999')
  })
})
