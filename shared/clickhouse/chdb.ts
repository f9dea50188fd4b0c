import { ConfigError } from '../errors.js'

/** chDB's `Connection` factory for `@clickhouse/client` (embedded ClickHouse). */
export type CreateChdbConnection = (opts: { path: string }) => unknown

/**
 * Loads chDB, the embedded ClickHouse library, when embedded mode is used. chDB is an optional
 * dependency: container images leave it out (566 MB, and containers always talk to a ClickHouse
 * server), so its absence is a configuration problem with a way out, not a stack trace.
 */
export async function importChdb(
  load: () => Promise<{ createChdbConnection: CreateChdbConnection }> = () => import('chdb/connection'),
): Promise<CreateChdbConnection> {
  try {
    return (await load()).createChdbConnection
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err
    const message = [
      'CLICKHOUSE_URL: not set, and embedded ClickHouse is not available here:',
      '  the chdb package is not installed (container images ship without it).',
      '  Set CLICKHOUSE_URL to a ClickHouse server (e.g. http://clickhouse:8123),',
      '  or install embedded ClickHouse with `npm install chdb`.',
    ].join('\n')
    throw new ConfigError(message, ['CLICKHOUSE_URL: required when chdb is not installed'])
  }
}
