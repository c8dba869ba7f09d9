/** The action: inputs -> run -> outputs. The one place an error becomes a failed step. */
import * as core from '@actions/core'
import { parseInputs, secretsOf } from './config/inputs.js'
import { runOnFleet } from './deploy/fleet.js'
import { publish } from './deploy/outputs.js'

const SECRET_INPUTS = ['private-key', 'passphrase', 'password', 'proxy-private-key', 'proxy-passphrase']

/** Masks secrets before anything can print them, whole and line by line (keys span lines). */
function maskSecrets(values: string[]): void {
  for (const value of values) {
    if (value.trim() === '') continue
    core.setSecret(value)
    for (const line of value.split('\n')) if (line.trim().length >= 8 && !line.includes('-----')) core.setSecret(line.trim())
  }
}

export async function main(): Promise<void> {
  try {
    const input = (name: string) => core.getInput(name, { trimWhitespace: false })
    maskSecrets(SECRET_INPUTS.map(input))
    const config = parseInputs(input, { repository: process.env.GITHUB_REPOSITORY })
    maskSecrets(secretsOf(config))
    const result = await runOnFleet(config, process.env.GITHUB_WORKSPACE ?? process.cwd())
    await publish(result)
    if (result.error) core.setFailed(result.error)
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error))
  }
}
