import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Logger } from '../logger.js'
import { type ClickHouse, queryRows } from './client.js'

export const migrationsDir = fileURLToPath(new URL('../../deploy/clickhouse/migrations/', import.meta.url))

export interface Migration {
  version: string
  name: string
  checksum: string
  statements: string[]
}

/** `0003_breaches.sql` → version `0003`, name `breaches`. Statements are separated by a `;` ending a line. */
export function parseMigration(file: string, sql: string): Migration {
  const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file)
  if (!m) throw new Error(`migration file ${file}: name must look like 0001_some_name.sql`)
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
  const statements = withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  return {
    version: m[1]!,
    name: m[2]!,
    checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16),
    statements,
  }
}

export async function loadMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort()
  return Promise.all(files.map(async (f) => parseMigration(f, await readFile(`${dir}/${f}`, 'utf8'))))
}

/**
 * Applies each migration once, in order, and records it. Every statement is idempotent
 * (`IF NOT EXISTS`, enforced by a unit test), and the record table (ReplacingMergeTree on version) keeps
 * one row per migration. Two processes migrating at once both succeed: each looks again just before a
 * migration whether the other has recorded it meanwhile, and a statement that fails because the other
 * runner has moved the schema on (e.g. an INSERT … SELECT from 0004 after 0005 added columns) counts as
 * applied once the other runner has recorded that migration.
 */
export async function migrate(ch: ClickHouse, log?: Logger, dir = migrationsDir): Promise<string[]> {
  await ch.client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations (
      version String, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`,
  })
  const recorded = async () =>
    new Map(
      (
        await queryRows<{ version: string; checksum: string }>(
          ch,
          'SELECT version, any(checksum) AS checksum FROM schema_migrations GROUP BY version',
        )
      ).map((r) => [r.version, r.checksum]),
    )
  /** Whether `mig` is recorded as applied; throws when it was applied with other content. */
  const isApplied = (applied: Map<string, string>, mig: Migration) => {
    const previous = applied.get(mig.version)
    if (previous === undefined) return false
    if (previous !== mig.checksum) {
      throw new Error(
        `migration ${mig.version}_${mig.name} changed after it was applied (checksum ${previous} → ${mig.checksum}); add a new migration instead`,
      )
    }
    return true
  }
  let applied = await recorded()
  const done: string[] = []
  for (const mig of await loadMigrations(dir)) {
    if (isApplied(applied, mig)) continue
    // Another runner may have applied it since the first look.
    applied = await recorded()
    if (isApplied(applied, mig)) continue
    try {
      for (const statement of mig.statements) await ch.client.command({ query: statement })
    } catch (err) {
      applied = await recorded()
      if (isApplied(applied, mig)) continue
      throw err
    }
    await ch.client.insert({
      table: 'schema_migrations',
      values: [{ version: mig.version, name: mig.name, checksum: mig.checksum }],
      format: 'JSONEachRow',
    })
    log?.info({ migration: `${mig.version}_${mig.name}` }, 'migration applied')
    done.push(`${mig.version}_${mig.name}`)
  }
  return done
}
