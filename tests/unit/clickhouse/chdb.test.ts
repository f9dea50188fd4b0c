import { describe, expect, it } from 'vitest'
import { importChdb } from '../../../shared/clickhouse/chdb.js'
import { ConfigError } from '../../../shared/errors.js'

describe('embedded ClickHouse without chdb installed', () => {
  const missing = () =>
    Promise.reject(Object.assign(new Error("Cannot find package 'chdb'"), { code: 'ERR_MODULE_NOT_FOUND' }))

  it('stops with a configuration error naming CLICKHOUSE_URL and the way out', async () => {
    const err = await importChdb(missing).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    const message = (err as ConfigError).message
    expect(message).toMatch(/^CLICKHOUSE_URL: /)
    expect(message).toContain('chdb package is not installed')
    expect(message).toContain('npm install chdb')
    // Several readable lines, not one line with escaped newlines.
    expect(message.split('\n').length).toBeGreaterThan(2)
  })

  it('lets any other loading failure through unchanged', async () => {
    const broken = new Error('libchdb.so: cannot open shared object file')
    await expect(importChdb(() => Promise.reject(broken))).rejects.toBe(broken)
  })

  it('loads the real library where it is installed (the development machines)', async () => {
    expect(typeof (await importChdb())).toBe('function')
  })
})
