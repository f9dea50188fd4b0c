import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { eventJsonSchemas } from './json-schema.js'

/** Writes shared/events/json-schema/<type>.schema.json for every event type (`npm run schemas`). */

const outDir = join(dirname(fileURLToPath(import.meta.url)), 'json-schema')

await mkdir(outDir, { recursive: true })
const schemas = eventJsonSchemas()
const wanted = new Set(schemas.map((s) => s.fileName))
// A type that was removed must not leave its stale schema behind for producers to find.
for (const file of await readdir(outDir)) {
  if (file.endsWith('.schema.json') && !wanted.has(file)) await rm(join(outDir, file))
}
for (const { fileName, schema } of schemas) {
  await writeFile(join(outDir, fileName), `${JSON.stringify(schema, null, 2)}\n`)
  console.log(`wrote ${join('shared/events/json-schema', fileName)}`)
}
