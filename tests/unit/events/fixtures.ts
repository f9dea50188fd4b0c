import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The committed example files are the test fixtures, so examples that rot fail the build. */
export const examplesDir = fileURLToPath(new URL('../../../shared/events/examples/', import.meta.url))

export const validExampleFiles = ['privacy-incidents', 'model-metrics', 'audit-findings'] as const

export function exampleLines(name: string): string[] {
  return readFileSync(`${examplesDir}${name}.jsonl`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
}

export function exampleEvents(name: (typeof validExampleFiles)[number]): Record<string, unknown>[] {
  return exampleLines(name).map((line) => JSON.parse(line) as Record<string, unknown>)
}

export function allValidLines(): string[] {
  return validExampleFiles.flatMap(exampleLines)
}

/** Example JSON as tests handle it: each test reaches into arbitrary depth to break exactly one field. */
// biome-ignore lint/suspicious/noExplicitAny: typing every mutation path would add nothing to these tests
export type LooseJson = Record<string, any>

/** A deep copy of the first example event of a file, to mutate per test. */
export function sample(name: (typeof validExampleFiles)[number], index = 0): LooseJson {
  return structuredClone(exampleEvents(name)[index]!) as LooseJson
}

export const MAX_BYTES = 1_048_576
