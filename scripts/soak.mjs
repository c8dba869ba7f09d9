#!/usr/bin/env node
// The full soak (npm run soak): at least 30 deploys under traffic, each cut off at a random moment,
// then the summary. ZDD_SOAK_SEED replays a run; ZDD_SOAK_ROUNDS sets the round count (30).
// Needs the bundle (npm run bundle), sshd, nginx and Java; network cuts need root (namespaces).
import { formatSummary, runSoak } from './lib/soak.mjs'

const seedText = process.env.ZDD_SOAK_SEED
const seed = seedText ? Number(seedText) : Math.floor(Math.random() * 2 ** 31)
const rounds = Number(process.env.ZDD_SOAK_ROUNDS ?? 30)
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
  console.error(`ZDD_SOAK_SEED ${JSON.stringify(seedText)}: expected a whole number from 0 to 4294967295`)
  process.exit(2)
}
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`ZDD_SOAK_ROUNDS ${JSON.stringify(process.env.ZDD_SOAK_ROUNDS)}: expected a whole number of rounds, at least 1`)
  process.exit(2)
}
const result = await runSoak({ seed, rounds })
console.log(formatSummary(result))
process.exit(result.violations.length === 0 ? 0 : 1)
