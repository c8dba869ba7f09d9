/** The action: inputs -> run -> outputs. The one place an error becomes a failed step. */
import * as core from '@actions/core'
import { parseInputs, secretsOf } from './config/inputs.js'
import { masksFor, secretsBeforeParsing } from './config/secrets.js'
import { runOnFleet } from './deploy/fleet.js'
import { publish } from './deploy/outputs.js'

export async function main(): Promise<void> {
  try {
    const input = (name: string) => core.getInput(name, { trimWhitespace: false })
    // Before parsing: a problem with any input must not print a secret that is not masked yet.
    for (const mask of masksFor(secretsBeforeParsing(input))) core.setSecret(mask)
    const config = parseInputs(input, { repository: process.env.GITHUB_REPOSITORY })
    for (const mask of masksFor(secretsOf(config))) core.setSecret(mask)
    const result = await runOnFleet(config, process.env.GITHUB_WORKSPACE ?? process.cwd())
    await publish(result)
    if (result.error) core.setFailed(result.error)
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error))
  }
}
