// The bench's command line: its options, checked, and the configuration they give.
import { parseArgs } from 'node:util'

export const HELP = `Usage: node scripts/bench.mjs [options]
  --deploys N          deploys per load phase, incl. one crashing release and one rollback (default 10, min 4)
  --classic N          deploys with the classic scp+ssh script (default 3; 0 skips it)
  --startup-runs N     hand-started JVMs timing the service's own start-up T between deploys under load (default 5)
  --fat-deploys N      deploys of the 40 MB fat jar (default 2)
  --health-interval S  the action's health-interval input (default: unset, i.e. the action's 0.5)
  --concurrency N      client load loops (default 4)
  --start-delay-ms N   how long the sample service waits before it opens its port, like a Spring
                       context starting (default 2000; 0 is the bare JDK service)
  --quick              smoke run: 4 deploys, 1 classic, 2 start-ups, 1 fat deploy
  --this-login-shell   log in as this machine's own user and home (its ~/.bashrc included) instead of
                       a host-like target with a home of its own and an init that reaps (needs root)
  --no-traffic         skip the bad release (every 5th request fails) under a plain switch, a 10% canary and a bake
  --only-traffic       run only that section; prints its table and figures, writes no result file
  --traffic-runs N     runs of each of those three (default 3)
  --no-link            skip the delta upload over a 20 Mbit/s link (runs only as root, with network namespaces)
  --only-link          run only that section; prints its table and figures, writes no result file
  --no-fleet           skip the fleet deploy to 1, 4, 8, 16 and 32 hosts (runs only as root, with network namespaces)
  --only-fleet         run only that section; prints its table and figures, writes no result file
  --fleet-sizes LIST   the fleet sizes to deploy to, comma-separated (default 1,4,8,16,32; the JVM
                       sample up to 16)
  --fleet-services L   the fleet's services, comma-separated: jvm, shell (default both)
  --fleet-paths LIST   how the fleet is reached, comma-separated: direct, bastion (default both)
  --fleet-stage-parallel N  the action's stage-parallel input in the fleet section (default: unset,
                       i.e. the action's default)
Writes bench/results/<UTC timestamp>.json and bench/results/latest.json.`

export const { values: flags } = parseArgs({
  options: {
    deploys: { type: 'string' },
    classic: { type: 'string' },
    'startup-runs': { type: 'string' },
    'fat-deploys': { type: 'string' },
    'health-interval': { type: 'string' },
    'start-delay-ms': { type: 'string' },
    concurrency: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'this-login-shell': { type: 'boolean', default: false },
    'no-traffic': { type: 'boolean', default: false },
    'only-traffic': { type: 'boolean', default: false },
    'traffic-runs': { type: 'string' },
    'no-link': { type: 'boolean', default: false },
    'only-link': { type: 'boolean', default: false },
    'no-fleet': { type: 'boolean', default: false },
    'only-fleet': { type: 'boolean', default: false },
    'fleet-sizes': { type: 'string' },
    'fleet-services': { type: 'string' },
    'fleet-paths': { type: 'string' },
    'fleet-stage-parallel': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (flags.help) {
  console.log(HELP)
  process.exit(0)
}
if (flags['no-link'] && flags['only-link']) {
  console.error(`--no-link and --only-link exclude each other\n\n${HELP}`)
  process.exit(2)
}
if ((flags['only-link'] && flags['only-fleet']) || (flags['no-fleet'] && flags['only-fleet'])) {
  console.error(`--only-fleet excludes --only-link and --no-fleet\n\n${HELP}`)
  process.exit(2)
}
if (flags['only-traffic'] && (flags['no-traffic'] || flags['only-link'] || flags['only-fleet'])) {
  console.error(`--only-traffic excludes --no-traffic, --only-link and --only-fleet\n\n${HELP}`)
  process.exit(2)
}

/**
 * @param {string | undefined} raw
 * @param {number} fallback
 * @param {number} min
 * @param {string} name
 */
function intFlag(raw, fallback, min, name) {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, got "${raw}"\n\n${HELP}`)
    process.exit(2)
  }
  return n
}

/**
 * @param {string | undefined} raw
 * @param {string[]} allowed
 * @param {string} name
 */
function listFlag(raw, allowed, name) {
  if (raw === undefined) return undefined
  const items = raw.split(',').map((item) => item.trim())
  const wrong = items.find((item) => !allowed.includes(item))
  if (wrong !== undefined || items.length === 0) {
    console.error(`--${name} takes ${allowed.join(', ')} (comma-separated), got "${raw}"\n\n${HELP}`)
    process.exit(2)
  }
  return items
}

const quick = Boolean(flags.quick)
export const config = {
  quick,
  deploys: intFlag(flags.deploys, quick ? 4 : 10, 4, 'deploys'),
  classic: intFlag(flags.classic, quick ? 1 : 3, 0, 'classic'),
  /**
   * Hand-started JVMs timing T under load, one right after each of the first N deploys of the
   * new-connection phase (T without load is timed after each of the smallDeploys).
   */
  startupRuns: intFlag(flags['startup-runs'], quick ? 2 : 5, 1, 'startup-runs'),
  fatDeploys: intFlag(flags['fat-deploys'], quick ? 1 : 2, 1, 'fat-deploys'),
  /** Small-jar deploys without load, through the timing proxy (start-up, RSS, idle overhead). */
  smallDeploys: quick ? 1 : 5,
  /** Small-jar deploys without load whose SSH goes through a proxy that adds this round trip. */
  roundTripDeploys: quick ? 1 : 3,
  roundTripMs: 50,
  concurrency: intFlag(flags.concurrency, 4, 1, 'concurrency'),
  /** The sample sleeps this long before it binds its port: a Spring context's start. */
  startDelayMs: intFlag(flags['start-delay-ms'], 2000, 0, 'start-delay-ms'),
  /** undefined = the input is not passed, so the action's default (0.5 s) applies. */
  healthInterval: flags['health-interval'],
  /** Runs of each kind in the bad-release section (plain switch, canary, bake). */
  trafficRuns: intFlag(flags['traffic-runs'], 3, 1, 'traffic-runs'),
  fatBytes: 40 * 1024 * 1024,
  /** undefined = the fleet section's own sizes (1, 4, 8, 16, 32; the JVM sample up to 16). */
  fleetSizes: flags['fleet-sizes']?.split(',').map((n) => intFlag(n.trim(), 1, 1, 'fleet-sizes')),
  /** undefined = both services (the JVM sample, then sh + httpd). */
  fleetServices: listFlag(flags['fleet-services'], ['jvm', 'shell'], 'fleet-services'),
  /** undefined = both paths (direct, then through the bastion). */
  fleetPaths: listFlag(flags['fleet-paths'], ['direct', 'bastion'], 'fleet-paths'),
  /** undefined = the input is not passed, so the action's default applies. */
  fleetStageParallel: flags['fleet-stage-parallel'] === undefined ? undefined : intFlag(flags['fleet-stage-parallel'], 1, 1, 'fleet-stage-parallel'),
}
