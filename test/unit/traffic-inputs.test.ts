import { describe, expect, it } from 'vitest'
import { InputError, parseInputs, type DeployConfig } from '../../src/config/inputs.js'
import { watchesTraffic } from '../../src/config/traffic-inputs.js'

const BASE: Record<string, string> = {
  host: 'example.com',
  username: 'deploy',
  'private-key': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
  artifact: 'build/libs/*.jar',
}

function parse(overrides: Record<string, string> = {}): DeployConfig {
  const values = { ...BASE, ...overrides }
  return parseInputs((name) => values[name] ?? '', { repository: 'acme/shop-api' })
}

function problemOf(input: string, value: string): string {
  try {
    parse({ [input]: value })
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    const problems = (error as InputError).problems
    expect(problems, problems.join('\n')).toHaveLength(1)
    return problems[0]
  }
  throw new Error(`${input}: ${JSON.stringify(value)} was accepted`)
}

describe('traffic-control inputs', () => {
  it('default to no canary, no bake: an ordinary switch, judged by 1% 5xx over 20 requests once watched', () => {
    const { traffic } = parse()
    expect(traffic).toEqual({
      canarySteps: [],
      canaryIntervalSeconds: 60,
      canaryKey: '$remote_addr',
      bakeSeconds: 0,
      maxErrorRate: 1,
      maxP99Ms: 0,
      minRequests: 20,
      httpInclude: '/etc/nginx/conf.d/zdd-shop-api.conf',
      maintenancePage: '',
    })
    expect(watchesTraffic(traffic)).toBe(false)
  })

  it('reads a canary, a bake and thresholds as a user writes them', () => {
    const { traffic } = parse({
      'canary-steps': '10, 50',
      'canary-interval': '2m',
      'canary-key': '$cookie_SESSION',
      'bake-seconds': '30',
      'max-error-rate': '0.5%',
      'max-p99-ms': '500',
      'analysis-min-requests': '100',
      'nginx-http-include': '/etc/nginx/conf.d/shop-canary.conf',
      'maintenance-page': '/var/www/maintenance.html',
    })
    expect(traffic).toMatchObject({
      canarySteps: [10, 50],
      canaryIntervalSeconds: 120,
      canaryKey: '$cookie_SESSION',
      bakeSeconds: 30,
      maxErrorRate: 0.5,
      maxP99Ms: 500,
      minRequests: 100,
      httpInclude: '/etc/nginx/conf.d/shop-canary.conf',
      maintenancePage: '/var/www/maintenance.html',
    })
    expect(watchesTraffic(traffic)).toBe(true)
    expect(watchesTraffic(parse({ 'bake-seconds': '5' }).traffic)).toBe(true)
  })

  it('takes canary-interval 0 (a held canary) and the new commands', () => {
    expect(parse({ 'canary-steps': '10', 'canary-interval': '0' }).traffic.canaryIntervalSeconds).toBe(0)
    for (const command of ['promote', 'maintenance', 'live'] as const) expect(parse({ command }).command).toBe(command)
  })

  it.each([
    ['canary-steps', '0', /from 1 to 99/],
    ['canary-steps', '100', /from 1 to 99/],
    ['canary-steps', '10%,50%', /whole percentages/],
    ['canary-steps', '50,10', /each step above the one before/],
    ['canary-steps', '10,10', /each step above the one before/],
    ['canary-key', '$remote_addr; return 200', /without ; \{ \} quotes/],
    ['canary-key', '$cookie_a"b', /nginx variables and plain text/],
    ['canary-key', '$http_x}', /nginx variables/],
    ['canary-key', 'a\\b', /backslashes/],
    ['canary-key', '$remote_addr\ninclude /etc/passwd', /line breaks/],
    ['canary-interval', 'soon', /expected seconds/],
    ['bake-seconds', '-1', /expected seconds/],
    ['max-error-rate', '101', /from 0 to 100/],
    ['max-error-rate', 'low', /percentage/],
    ['max-p99-ms', '0.5s', /whole number/],
    ['analysis-min-requests', '0', /from 1 to/],
    ['nginx-http-include', 'conf.d/zdd.conf', /absolute path of a file/],
    ['nginx-http-include', '/etc/nginx/conf.d/', /absolute path of a file/],
    ['nginx-http-include', '/etc/nginx/conf.d/service-url.inc', /nginx-include itself/],
    ['maintenance-page', '/a\nb', /path of a file/],
  ])('%s: %j is refused, naming the input, the value and what is expected', (input, value, hint) => {
    const problem = problemOf(input, value)
    expect(problem.startsWith(`${input}: ${JSON.stringify(value)} `), problem).toBe(true)
    expect(problem).toContain('expected')
    expect(problem).toMatch(hint)
  })
})
