/** Traffic control's nginx text (src/remote/traffic.ts): what the action writes and reads back. */
import { describe, expect, it } from 'vitest'
import { parseAnswer } from '../../src/remote/protocol.js'
import {
  canaryTemplateProblem,
  httpLevelConfig,
  includeText,
  nginxNames,
  parseTraffic,
  readDumpAnswer,
  readInclude,
  trafficLogPath,
} from '../../src/remote/traffic.js'

const TEMPLATE = 'set $service_url http://127.0.0.1:{port};'
const base = {
  template: TEMPLATE,
  appName: 'shop',
  trafficLog: '/srv/apps/shop/run/traffic.log',
  userAccessLogs: ['access_log /var/log/nginx/access.log;'],
}

describe('nginxNames', () => {
  it('names every object after the app, with what nginx takes in a name', () => {
    expect(nginxNames('shop')).toEqual({ port: 'zdd_shop_port', logFormat: 'zdd_shop' })
    expect(nginxNames('my-shop.v2')).toEqual({ port: 'zdd_my_shop_v2_port', logFormat: 'zdd_my_shop_v2' })
  })
})

describe('httpLevelConfig', () => {
  it('during a canary: the log format, and the first percent of clients to the new port', () => {
    const text = httpLevelConfig({
      appName: 'shop',
      canaryKey: '$remote_addr',
      port: 8081,
      split: { percent: 10, newPort: 8082, previousPort: 8081 },
    })
    expect(text).toContain(`log_format zdd_shop '$msec|$status|$upstream_addr|$upstream_response_time|zdd';`)
    expect(text).toContain('split_clients "$remote_addr" $zdd_shop_port {\n    10% 8082;\n    * 8081;\n}')
  })

  it('outside a canary, the variable names the one port for everyone', () => {
    const text = httpLevelConfig({ appName: 'shop', canaryKey: '$cookie_SESSION', port: 8081 })
    expect(text).toContain('split_clients "$cookie_SESSION" $zdd_shop_port {\n    * 8081;\n}')
    expect(text).not.toContain('%')
  })

  it('refuses a key that would break out of its quotes, and a step that is no whole percentage', () => {
    expect(() => httpLevelConfig({ appName: 'shop', canaryKey: '$a"; }', port: 8081 })).toThrow(/canary-key/)
    expect(() =>
      httpLevelConfig({
        appName: 'shop',
        canaryKey: '$remote_addr',
        port: 8081,
        split: { percent: 100, newPort: 8082, previousPort: 8081 },
      }),
    ).toThrow(/1 to 99/)
    expect(() =>
      httpLevelConfig({
        appName: 'shop',
        canaryKey: '$remote_addr',
        port: 8081,
        split: { percent: 2.555, newPort: 8082, previousPort: 8081 },
      }),
    ).toThrow(/two decimals/)
  })
})

describe('includeText and readInclude', () => {
  const ports: [number, number] = [8081, 8082]

  it('plain: the template as today, read as today', () => {
    const text = includeText({ ...base, mode: { mode: 'plain', port: 8082 } })
    expect(text).toBe('set $service_url http://127.0.0.1:8082;')
    expect(readInclude(text, ports)).toEqual({ mode: 'plain', port: 8082 })
    expect(readInclude(undefined, ports)).toEqual({ mode: 'plain' })
  })

  it("canary: the split's variable for the port, the traffic log and the user's logs after it", () => {
    const split = { percent: 20, newPort: 8082, previousPort: 8081 }
    const text = includeText({ ...base, mode: { mode: 'canary', split } })
    expect(text).toBe(
      [
        '# zero-downtime-deploy: canary 20% to 8082, previous 8081',
        'set $service_url http://127.0.0.1:${zdd_shop_port};',
        'access_log "/srv/apps/shop/run/traffic.log" zdd_shop;',
        'access_log /var/log/nginx/access.log;',
      ].join('\n'),
    )
    expect(readInclude(text, ports)).toEqual({ mode: 'canary', split })
  })

  it('a held canary: the split alone, nobody reads a traffic log while it is held, so nginx writes none', () => {
    const split = { percent: 20, newPort: 8082, previousPort: 8081 }
    const text = includeText({ ...base, mode: { mode: 'canary', split, held: true } })
    expect(text).toBe(
      ['# zero-downtime-deploy: canary 20% to 8082, previous 8081', 'set $service_url http://127.0.0.1:${zdd_shop_port};'].join('\n'),
    )
    expect(readInclude(text, ports)).toEqual({ mode: 'canary', split })
  })

  it('a step with decimals, as split_clients takes them', () => {
    const split = { percent: 2.5, newPort: 8082, previousPort: 8081 }
    expect(httpLevelConfig({ appName: 'shop', canaryKey: '$remote_addr', port: 8081, split })).toContain('    2.5% 8082;\n')
    expect(readInclude(includeText({ ...base, mode: { mode: 'canary', split } }), ports)).toEqual({ mode: 'canary', split })
  })

  it('observed: the port, and the logs', () => {
    const text = includeText({ ...base, userAccessLogs: [], mode: { mode: 'observed', port: 8081 } })
    expect(text).toBe(
      '# zero-downtime-deploy: observed 8081\nset $service_url http://127.0.0.1:8081;\naccess_log "/srv/apps/shop/run/traffic.log" zdd_shop;',
    )
    expect(readInclude(text, ports)).toEqual({ mode: 'observed', port: 8081 })
  })

  it('maintenance: the port that serves once live, then a 503 with Retry-After; a $ in the page stays text', () => {
    const text = includeText({
      ...base,
      mode: { mode: 'maintenance', port: 8082, page: '<p>Back soon: "$5" off</p>\\', retryAfterSeconds: 120 },
    })
    expect(text).toBe(
      [
        '# zero-downtime-deploy: maintenance 8082',
        'set $service_url http://127.0.0.1:8082;',
        'default_type text/html;',
        'add_header Retry-After 120 always;',
        'return 503 "<p>Back soon: \\"&#36;5\\" off</p>\\\\";',
      ].join('\n'),
    )
    expect(readInclude(text, ports)).toEqual({ mode: 'maintenance', port: 8082 })
    const kept = includeText({
      ...base,
      userHeaders: ['add_header X-Frame-Options DENY;'],
      mode: { mode: 'maintenance', port: 8082, page: 'x', retryAfterSeconds: 5 },
    })
    expect(kept).toContain('add_header Retry-After 5 always;\nadd_header X-Frame-Options DENY;\nreturn 503 "x";')
    expect(readInclude('# zero-downtime-deploy: maintenance\nreturn 503;', ports)).toEqual({ mode: 'maintenance', port: undefined })
  })

  it('a template whose meaning changes with a variable port is refused for a canary, naming why', () => {
    const split = { percent: 20, newPort: 8082, previousPort: 8081 }
    const canary = (template: string) => () => includeText({ ...base, template, mode: { mode: 'canary', split } })
    expect(canary('proxy_pass http://localhost:{port};')).toThrow(/host "localhost".*502 without a resolver/)
    expect(canary('proxy_pass http://127.0.0.1:{port}/base/;')).toThrow(/URI part \("\/base\/"\)/)
    expect(canary('server 127.0.0.1:{port};')).toThrow(/upstream server line/)
    expect(canary('proxy_pass http://127.0.0.1:{port};')).not.toThrow()
    expect(canary('proxy_pass http://[::1]:{port};')).not.toThrow()
    expect(canary('set $service_url http://localhost:{port}/x;')).not.toThrow()
    expect(canaryTemplateProblem(TEMPLATE)).toBeUndefined()
  })

  it('a marker naming ports that are not the pair reads as plain', () => {
    expect(readInclude('# zero-downtime-deploy: observed 9999\nset $service_url http://127.0.0.1:8081;', ports)).toEqual({
      mode: 'plain',
      port: 8081,
    })
  })

  it('an observing include needs an absolute traffic log: nginx would put a relative one under its prefix', () => {
    expect(() => includeText({ ...base, trafficLog: 'apps/shop/run/traffic.log', mode: { mode: 'observed', port: 8081 } })).toThrow(
      /absolute/,
    )
    expect(trafficLogPath('/srv/apps/shop/')).toBe('/srv/apps/shop/run/traffic.log')
    expect(trafficLogPath('apps/shop', '/home/deploy/')).toBe('/home/deploy/apps/shop/run/traffic.log')
    expect(trafficLogPath('/srv/shop', '/home/deploy')).toBe('/srv/shop/run/traffic.log')
  })
})

describe('answers', () => {
  it('parseTraffic reads the offset and the samples', () => {
    expect(parseTraffic(parseAnswer('offset=120\n@@traffic\n8082 200 12 3\n0 503 0 1\n'))).toEqual({
      offset: 120,
      samples: [
        { port: 8082, status: 200, ms: 12, count: 3 },
        { port: 0, status: 503, ms: 0, count: 1 },
      ],
    })
    expect(() => parseTraffic(parseAnswer('@@traffic\n'))).toThrow(/offset/)
  })

  it('readDumpAnswer gives the dump back as nginx printed it, a section-like line included', () => {
    const answer = parseAnswer(
      'home=/home/deploy\nhttp_log_path=/var/log/nginx/access.log\n@@dump\n|# configuration file /etc/nginx/nginx.conf:\n|@@x\n|\n',
    )
    expect(readDumpAnswer(answer)).toEqual({
      dump: '# configuration file /etc/nginx/nginx.conf:\n@@x\n',
      home: '/home/deploy',
      httpLogPath: '/var/log/nginx/access.log',
    })
    expect(readDumpAnswer(parseAnswer('home=/root\nerror=nginx_dump\n@@dump_output\nsudo: a password is required\n'))).toEqual({
      error: 'sudo: a password is required',
      home: '/root',
      httpLogPath: undefined,
    })
  })
})
