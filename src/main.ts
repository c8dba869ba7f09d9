/** The action: inputs -> run -> outputs. The one place an error becomes a failed step. */
import * as core from '@actions/core'
import { parseInputs, registeredSecretsOf } from './config/inputs.js'
import { masksFor, secretsBeforeParsing } from './config/secrets.js'
import { runOnFleet } from './deploy/fleet.js'
import { publish } from './deploy/outputs.js'

/** What the history in `report` shows of the run's owner (status): no secret. */
const SHOWN_BY_RUNNER = ['GITHUB_REPOSITORY', 'GITHUB_ACTOR', 'RUNNER_NAME']

export async function main(): Promise<void> {
  try {
    const input = (name: string) => core.getInput(name, { trimWhitespace: false })
    // Before parsing: a problem with any input must not print a secret that is not masked yet.
    // Only what may be a credential: the runner drops every output that holds a registered value.
    const register = (masks: string[]) => {
      for (const mask of masks) {
        if (registered.has(mask)) continue
        registered.add(mask)
        core.setSecret(mask)
      }
    }
    const registered = new Set<string>()
    register(
      masksFor(
        secretsBeforeParsing(
          input,
          SHOWN_BY_RUNNER.map((name) => process.env[name] ?? ''),
        ),
      ),
    )
    const config = parseInputs(input, { repository: process.env.GITHUB_REPOSITORY })
    register(masksFor(registeredSecretsOf(config)))
    const result = await runOnFleet(config, process.env.GITHUB_WORKSPACE ?? process.cwd())
    await publish(result, [...registered])
    if (result.error) core.setFailed(result.error)
  } catch (error) {
    core.setFailed(error instanceof Error ? error.message : String(error))
  }
}
