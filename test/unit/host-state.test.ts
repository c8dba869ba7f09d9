import { describe, expect, it } from 'vitest'
import { instanceOn, readHostState } from '../../src/deploy/host-state.js'
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

  it('root, wget, and facts the script did not report', () => {
    const minimal = readHostState(parseAnswer('uid=0\nhttp=wget\ndeploy_dir_exists=no\n'))
    expect(minimal).toEqual({
      isRoot: true,
      home: '',
      http: 'wget',
      javaFound: undefined,
      writable: undefined,
      deployDirExists: false,
      freeBytes: undefined,
      releases: [],
      instances: [],
      deployDir: '',
      include: undefined,
    })
  })

  it('java=no and writable=no are false, not unknown', () => {
    const state = readHostState(parseAnswer('java=no\nwritable=no\nhttp=none\n'))
    expect(state.javaFound).toBe(false)
    expect(state.writable).toBe(false)
    expect(state.http).toBe('none')
  })
})
