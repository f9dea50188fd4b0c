/**
 * The latest state of each entity (incident, finding, model version, fairness group), defined once and
 * spelt three ways from this one definition:
 * - `stateTableDdl` / `stateViewDdl`: an AggregatingMergeTree per entity kept by ClickHouse at insert
 *   through a materialized view (migration 0003 holds exactly this text; a unit test regenerates it);
 * - `stateMergeSelect`: reading that table back, one row per entity, for the ids asked for (cost follows
 *   the entities read, not the history behind them);
 * - `stateFromFacts`: the same reduction over the fact tables, optionally "as of" a time: what had
 *   happened by T (event time) or what was known at T (ingest time). The reference KPI queries, the
 *   equivalence checks and review-pack verification use it.
 *
 * Lifecycle semantics (all explicit here; tested in tests/integration/processor/semantics.test.ts and
 * tests/integration/kpi/kpi-definitions.test.ts):
 * - Events of one entity are totally ordered by (event time in ms, lifecycle rank, cityHash64(event id)):
 *   two events in the same millisecond order by lifecycle, never by hash alone.
 * - `latest` fields take the value of the latest event.
 * - `sticky` fields take the latest value that was given (non-NULL, non-empty): a later event that omits
 *   `repeatOf`, a due date or a notification time does not erase it.
 * - `stage` fields belong to a lifecycle stage: the latest event that either gives the field or reports a
 *   status before that stage decides. A reopened incident (status back to detected/contained/notified)
 *   therefore drops its resolution and closure times, a reopened finding its closure time, while a later
 *   event of the same or a later stage that merely omits the field keeps it.
 * Encoding, chosen for speed (fixed-size numeric states merge 5–10× faster than tuples in ClickHouse):
 * the order key is one UInt128 (ms << 72 | rank << 64 | hash); optional times are Int64 "ms + 1", 0 for
 * none (a bare NULL would be skipped by the aggregate, so a reopen could not clear it); optional strings
 * are '' for none; optional numbers carry a presence flag. Readers get NULLs back (decoding below).
 */

export type FieldKind =
  | { kind: 'latest' }
  | { kind: 'sticky' }
  | { kind: 'stage'; rank: number }
  | { kind: 'min' }
  | { kind: 'max' }
  /** Every value ever given, for array fields: the union of the arrays (a report once sent stays sent). */
  | { kind: 'union' }

/** How a value is stored: as is, an optional time (Int64 ms + 1, 0 = none), an optional string ('' = none), an optional number (with a presence flag). */
export type Encoding = 'plain' | 'time' | 'string' | 'number'

export interface StateField {
  name: string
  /** ClickHouse type of the stored value (see Encoding). */
  type: string
  /** Expression over the fact row; default the column of the same name. */
  expr?: string
  /** For sticky fields: the condition "the event gives a value". Default `expr IS NOT NULL`. */
  given?: string
  reduce: FieldKind
  encoding?: Encoding
  /**
   * The migration that added the field to a state table already created (absent: migration 0003). An
   * applied migration never changes, so a later field comes with its own (`entityStateEvolution`).
   */
  since?: string
}

export interface EntityStateDef {
  /** The AggregatingMergeTree holding the state. */
  table: string
  /** The fact table it is derived from. */
  facts: string
  /** Entity key columns, also the state table's ORDER BY. */
  key: readonly string[]
  /** The event's lifecycle rank (0 when the entity has none). */
  rank: string
  fields: readonly StateField[]
}

const TIME = "DateTime64(3, 'UTC')"
/** The order key of the events of one entity, one UInt128: also stored (max) as the state's version. */
export const ORDER_KEY_TYPE = 'UInt128'
const orderKey = (rank: string) =>
  `bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(${rank})), 64) + toUInt128(cityHash64(event_id))`

/** Lifecycle ranks: the contract's status order. */
export const INCIDENT_RANK = `multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0)`
export const FINDING_RANK = `multiIf(status = 'open', 1, status = 'in_progress', 2, status = 'closed', 3, status = 'verified', 4, 0)`

const optionalTime = (name: string, reduce: FieldKind): StateField => ({
  name,
  type: 'Int64',
  reduce,
  encoding: 'time',
})

const common: StateField[] = [
  { name: 'version', type: ORDER_KEY_TYPE, expr: '__k', reduce: { kind: 'max' } },
  { name: 'first_event_at', type: TIME, expr: 'event_time', reduce: { kind: 'min' } },
  { name: 'last_event_at', type: TIME, expr: 'event_time', reduce: { kind: 'max' } },
  { name: 'last_ingested_at', type: TIME, expr: 'ingested_at', reduce: { kind: 'max' } },
]

export const incidentState: EntityStateDef = {
  table: 'incident_state',
  facts: 'privacy_incident_events',
  key: ['incident_id'],
  rank: INCIDENT_RANK,
  fields: [
    ...common,
    { name: 'status', type: 'String', expr: 'toString(status)', reduce: { kind: 'latest' } },
    { name: 'severity', type: 'String', expr: 'toString(severity)', reduce: { kind: 'latest' } },
    { name: 'category', type: 'String', expr: 'toString(category)', reduce: { kind: 'latest' } },
    { name: 'business_unit', type: 'String', expr: 'toString(business_unit)', reduce: { kind: 'latest' } },
    { name: 'notifiable', type: 'Bool', reduce: { kind: 'latest' } },
    { name: 'detected_at', type: TIME, reduce: { kind: 'latest' } },
    { name: 'records_affected', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'data_subjects_affected', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'ai_system_id', type: 'String', reduce: { kind: 'latest' } },
    optionalTime('occurred_at', { kind: 'sticky' }),
    optionalTime('contained_at', { kind: 'stage', rank: 2 }),
    optionalTime('resolved_at', { kind: 'stage', rank: 4 }),
    optionalTime('closed_at', { kind: 'stage', rank: 5 }),
    // A notification cannot be unsent: the latest time given stands.
    optionalTime('regulator_notified_at', { kind: 'sticky' }),
    // When the controller became aware (GDPR Art. 33's anchor; the incident contract's optional field):
    // the latest time given stands, like the regimes' own state (shared/kpi/regime-state.ts).
    { ...optionalTime('awareness_at', { kind: 'sticky' }), since: '0018' },
  ],
}

export const findingState: EntityStateDef = {
  table: 'finding_state',
  facts: 'audit_finding_events',
  key: ['finding_id'],
  rank: FINDING_RANK,
  fields: [
    ...common,
    { name: 'audit_id', type: 'String', reduce: { kind: 'latest' } },
    { name: 'audit_type', type: 'String', expr: 'toString(audit_type)', reduce: { kind: 'latest' } },
    { name: 'standard', type: 'String', expr: 'toString(standard)', reduce: { kind: 'latest' } },
    { name: 'clause', type: 'String', expr: 'toString(clause)', reduce: { kind: 'latest' } },
    { name: 'kind', type: 'String', expr: 'toString(kind)', reduce: { kind: 'latest' } },
    { name: 'status', type: 'String', expr: 'toString(status)', reduce: { kind: 'latest' } },
    { name: 'business_unit', type: 'String', expr: 'toString(business_unit)', reduce: { kind: 'latest' } },
    { name: 'title', type: 'String', reduce: { kind: 'latest' } },
    { name: 'owner', type: 'String', reduce: { kind: 'latest' } },
    { name: 'raised_at', type: TIME, reduce: { kind: 'latest' } },
    optionalTime('due_at', { kind: 'sticky' }),
    optionalTime('closed_at', { kind: 'stage', rank: 3 }),
    {
      name: 'repeat_of',
      type: 'String',
      given: "repeat_of != ''",
      reduce: { kind: 'sticky' },
      encoding: 'string',
    },
  ],
}

const metric = (name: string): StateField => ({
  name,
  type: 'Float64',
  expr: `metrics['${name}']`,
  given: `mapContains(metrics, '${name}')`,
  reduce: { kind: 'sticky' },
  encoding: 'number',
})

export const modelVersionState: EntityStateDef = {
  table: 'model_version_state',
  facts: 'model_metric_events',
  key: ['model_id', 'environment', 'model_version'],
  rank: '0',
  fields: [
    ...common,
    { name: 'business_unit', type: 'String', expr: 'toString(business_unit)', reduce: { kind: 'latest' } },
    { name: 'sample_size', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'window_end', type: TIME, reduce: { kind: 'latest' } },
    {
      name: 'baseline_version',
      type: 'String',
      given: "baseline_version != ''",
      reduce: { kind: 'sticky' },
      encoding: 'string',
    },
    metric('accuracy'),
    metric('precision'),
    metric('recall'),
    metric('f1'),
    metric('auc'),
  ],
}

/** Per group of a protected attribute: the counts of the latest evaluation reporting that group. */
export const fairnessGroupState: EntityStateDef = {
  table: 'fairness_group_state',
  facts: 'model_group_counts',
  key: ['model_id', 'environment', 'model_version', 'attribute', 'group_name'],
  rank: '0',
  fields: [
    { name: 'version', type: ORDER_KEY_TYPE, expr: '__k', reduce: { kind: 'max' } },
    { name: 'last_ingested_at', type: TIME, expr: 'ingested_at', reduce: { kind: 'max' } },
    // One state per count: all come from the event of the same (latest) key. Confusion counts when the
    // group is labelled (tp + fp + tn + fn > 0); prediction-only counts (selected of total; 0 / 0 when not
    // given) otherwise; for an intersection's cells, the attributes combined ([] for a plain attribute).
    { name: 'tp', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'fp', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'tn', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'fn', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'selected', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'total', type: 'UInt64', reduce: { kind: 'latest' } },
    { name: 'cell_attributes', type: 'Array(String)', reduce: { kind: 'latest' } },
  ],
}

/**
 * Columns of the fact tables the state needs beyond migration 0001: prediction-only counts and
 * intersection cells of model_group_counts (issue 12). Added by 0003 before the views that read them.
 */
const FACT_COLUMNS_ADDED = [
  ['model_group_counts', 'selected', 'UInt64'],
  ['model_group_counts', 'total', 'UInt64'],
  ['model_group_counts', 'cell_attributes', 'Array(String)'],
] as const

export const ENTITY_STATES: readonly EntityStateDef[] = [
  incidentState,
  findingState,
  modelVersionState,
  fairnessGroupState,
]

// ----- spellings ---------------------------------------------------------------------------------------

const keyColumnType = (col: string) =>
  col === 'environment' || col === 'attribute' ? 'LowCardinality(String)' : 'String'

const exprOf = (f: StateField) => f.expr ?? f.name
const givenOf = (f: StateField) =>
  f.given ?? (f.encoding === 'time' ? `${exprOf(f)} IS NOT NULL` : `${exprOf(f)} IS NOT NULL`)

/** The stored value of one event: the expression, encoded. */
function stored(f: StateField): string {
  const e = exprOf(f)
  switch (f.encoding ?? 'plain') {
    case 'time':
      return `toInt64(ifNull(toUnixTimestamp64Milli(${e}) + 1, 0))`
    case 'string':
      return `if(${givenOf(f)}, toString(${e}), '')`
    case 'number':
      return `toFloat64(${e})`
    default:
      return e
  }
}

/** The condition under which an event decides a sticky/stage field. */
function decides(f: StateField): string {
  const given = givenOf(f)
  if (f.reduce.kind === 'stage') return `(${given}) OR __rank < ${f.reduce.rank}`
  return given
}

/** Aggregate columns of a field: its value, and a presence flag for optional numbers. */
function columns(
  f: StateField,
): { name: string; type: string; aggregate: (suffix: '' | 'State') => string; fn: string; args: string }[] {
  const value = {
    name: f.name,
    type: f.type,
    ...(() => {
      switch (f.reduce.kind) {
        case 'latest':
          return {
            fn: 'argMax',
            args: `${f.type}, ${ORDER_KEY_TYPE}`,
            aggregate: (x: string) => `argMax${x}(${stored(f)}, __k)`,
          }
        case 'sticky':
        case 'stage':
          return {
            fn: 'argMaxIf',
            args: `${f.type}, ${ORDER_KEY_TYPE}, UInt8`,
            aggregate: (x: string) => `argMaxIf${x}(${stored(f)}, __k, ${decides(f)})`,
          }
        case 'min':
          return { fn: 'min', args: f.type, aggregate: (x: string) => `min${x}(${stored(f)})` }
        case 'max':
          return { fn: 'max', args: f.type, aggregate: (x: string) => `max${x}(${stored(f)})` }
        case 'union':
          return {
            fn: 'groupUniqArrayArray',
            args: f.type,
            aggregate: (x: string) => `groupUniqArrayArray${x}(${stored(f)})`,
          }
      }
    })(),
  }
  if (f.encoding !== 'number') return [value]
  return [
    value,
    {
      name: `${f.name}_given`,
      type: 'UInt8',
      fn: 'max',
      args: 'UInt8',
      aggregate: (x: string) => `maxIf${x}(toUInt8(1), ${givenOf(f)})`,
    },
  ]
}

/** A stored column back to the field's value (NULLs restored). `raw(name)` is the stored value. */
function decode(f: StateField, raw: (name: string) => string): string {
  switch (f.encoding ?? 'plain') {
    case 'time':
      return `if(${raw(f.name)} = 0, NULL, fromUnixTimestamp64Milli(${raw(f.name)} - 1, 'UTC'))`
    case 'string':
      return `nullIf(${raw(f.name)}, '')`
    case 'number':
      return `if(${raw(`${f.name}_given`)} = 0, NULL, ${raw(f.name)})`
    default:
      return raw(f.name)
  }
}

/** The fact rows with the order key and lifecycle rank every aggregate reads. */
function rankedFacts(def: EntityStateDef, where = '1'): string {
  return `SELECT *, ${def.rank} AS __rank, ${orderKey('__rank')} AS __k FROM ${def.facts} WHERE ${where}`
}

const allColumns = (def: EntityStateDef) => def.fields.flatMap(columns)

export function stateTableDdl(def: EntityStateDef): string {
  const cols = [
    ...def.key.map((k) => `  ${k} ${keyColumnType(k)}`),
    ...allColumns(def).map((c) => `  ${c.name} AggregateFunction(${c.fn}, ${c.args})`),
  ]
  return `CREATE TABLE IF NOT EXISTS ${def.table} (\n${cols.join(',\n')}\n) ENGINE = AggregatingMergeTree\nORDER BY (${def.key.join(', ')})`
}

function stateSelect(def: EntityStateDef, where?: string): string {
  const cols = [
    ...def.key.map((k) => `  toString(${k}) AS ${k}`),
    ...allColumns(def).map((c) => `  ${c.aggregate('State')} AS ${c.name}`),
  ]
  return `SELECT\n${cols.join(',\n')}\nFROM (${rankedFacts(def, where)})\nGROUP BY ${def.key.join(', ')}`
}

/** The materialized view keeping the state table at insert. */
export function stateViewDdl(def: EntityStateDef): string {
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${def.table}_mv TO ${def.table} AS\n${stateSelect(def)}`
}

/** Fills the state table from the facts already stored (run once by the migration; harmless twice). */
export function stateBackfill(def: EntityStateDef): string {
  return `INSERT INTO ${def.table}\n${stateSelect(def)}`
}

/** A definition as a given migration left it: without the fields added by later ones. */
function asOfMigration(def: EntityStateDef, version: string): EntityStateDef {
  return { ...def, fields: def.fields.filter((f) => (f.since ?? '0003') <= version) }
}

/** The migration creating every state table, its view and its back-fill, in that order. */
export function entityStateMigration(): string {
  const header = `-- Entity state kept by ClickHouse at insert: generated from shared/kpi/entity-state.ts (a unit test
-- checks this file is exactly what that module generates). Each state table is an AggregatingMergeTree
-- of argMax states over the events' order key, fed by a materialized view and back-filled once from the
-- facts stored before it existed. Inserting the same event twice changes nothing.
`
  const tables = [...new Set(FACT_COLUMNS_ADDED.map(([t]) => t))]
  const alters = tables.map(
    (t) =>
      `ALTER TABLE ${t}\n${FACT_COLUMNS_ADDED.filter(([x]) => x === t)
        .map(([, c, type]) => `  ADD COLUMN IF NOT EXISTS ${c} ${type}`)
        .join(',\n')}`,
  )
  const parts = [
    ...alters,
    ...ENTITY_STATES.map((def) => asOfMigration(def, '0003')).flatMap((def) => [
      stateTableDdl(def),
      stateViewDdl(def),
      stateBackfill(def),
    ]),
  ]
  return `${header}\n${parts.map((p) => `${p};`).join('\n\n')}\n`
}

/**
 * A later migration adding fields to existing state tables: per table, the new aggregate columns, the
 * view's query replaced in place (no moment without a view, so no insert is missed), and the new columns
 * back-filled from the facts stored before (rows holding only the new states; the other columns stay
 * empty states, which merge into the entity's row as nothing).
 */
export function entityStateEvolution(version: string, header: string): string {
  const parts = ENTITY_STATES.flatMap((full) => {
    const added = full.fields.filter((f) => f.since === version)
    if (added.length === 0) return []
    const def = asOfMigration(full, version)
    const cols = added.flatMap(columns)
    const keys = def.key.map((k) => `toString(${k}) AS ${k}`)
    return [
      `ALTER TABLE ${def.table}\n${cols.map((c) => `  ADD COLUMN IF NOT EXISTS ${c.name} AggregateFunction(${c.fn}, ${c.args})`).join(',\n')}`,
      `ALTER TABLE ${def.table}_mv MODIFY QUERY\n${stateSelect(def)}`,
      `INSERT INTO ${def.table} (${[...def.key, ...cols.map((c) => c.name)].join(', ')})\nSELECT\n${[...keys, ...cols.map((c) => `${c.aggregate('State')} AS ${c.name}`)].map((c) => `  ${c}`).join(',\n')}\nFROM (${rankedFacts(def)})\nGROUP BY ${def.key.join(', ')}`,
    ]
  })
  return `${header}\n${parts.map((p) => `${p};`).join('\n\n')}\n`
}

/** Migration 0018: the incidents' awareness time, the GDPR Art. 33 clock's anchor, in incident_state. */
export function awarenessStateMigration(): string {
  return entityStateEvolution(
    '0018',
    `-- The incidents' awareness time in incident_state (issue 13: GDPR Art. 33's 72 hours run from awareness):
-- generated from shared/kpi/entity-state.ts (a unit test checks this file is exactly what it generates).
-- The state view's query is replaced in place and the new column back-filled from the stored facts.
`,
  )
}

/** The decoded fields over an inner query whose columns are the stored values. */
function decoded(def: EntityStateDef, inner: string, where?: string): string {
  const cols = [...def.key, ...def.fields.map((f) => `${decode(f, (n) => `__s.${n}`)} AS ${f.name}`)]
  return `SELECT ${cols.join(', ')}\nFROM (${inner}) AS __s${where ? `\nWHERE ${where}` : ''}`
}

/**
 * Reads the state table back: one row per entity (FINAL merges the states by key at read time), columns
 * the key then every field, NULLs restored. `where` filters on key columns (it runs before the merge and
 * uses the primary key), `having` on the decoded fields.
 */
export function stateMergeSelect(
  def: EntityStateDef,
  opts: { where?: string; having?: string; fields?: readonly string[] } = {},
): string {
  // Only the fields asked for are read: each is a state to merge per entity, the costly part of a read.
  const d = opts.fields ? { ...def, fields: def.fields.filter((f) => opts.fields!.includes(f.name)) } : def
  const inner = `SELECT ${[...d.key.map((k) => `toString(${k}) AS ${k}`), ...allColumns(d).map((c) => `finalizeAggregation(${c.name}) AS ${c.name}`)].join(', ')}
FROM ${d.table} FINAL
WHERE ${opts.where ?? '1'}`
  return decoded(d, inner, opts.having)
}

/** "As of" filters on facts: what had happened by T (event time), or what was known at T (ingest time). */
export type AsOf = { axis: 'event_time' | 'ingested_at'; param: string } | undefined

/**
 * The same state computed from the facts, for entities whose events satisfy `where`, optionally as of
 * `{<param>:DateTime64(3)}` on one of the two time axes. Columns as in `stateMergeSelect`.
 */
export function stateFromFacts(def: EntityStateDef, opts: { where?: string; asOf?: AsOf } = {}): string {
  const filters = [opts.where ?? '1']
  if (opts.asOf) filters.push(`${opts.asOf.axis} <= {${opts.asOf.param}:DateTime64(3)}`)
  const inner = `SELECT ${[...def.key.map((k) => `toString(${k}) AS ${k}`), ...allColumns(def).map((c) => `${c.aggregate('')} AS ${c.name}`)].join(', ')}
FROM (${rankedFacts(def, filters.join(' AND '))})
GROUP BY ${def.key.join(', ')}`
  return decoded(def, inner)
}

/** Columns migration 0005 adds to kpi_values and kpi_current: the uncertainty of each value. */
export const KPI_UNCERTAINTY_COLUMNS = [
  ['n', 'Nullable(UInt64)'],
  ['ci_low', 'Nullable(Float64)'],
  ['ci_high', 'Nullable(Float64)'],
  ['reason', 'String'],
] as const

const KPI_VALUE_COLUMNS_0004 = [
  'evaluated_at',
  'kpi_id',
  'fingerprint',
  'scope',
  'value',
  'status',
  'warning_threshold',
  'critical_threshold',
]

/**
 * Migration 0005 (fairness from counts, issue 12), generated here like 0003 (a unit test checks the file):
 * the sample size, confidence interval and reason of every KPI value in kpi_values and kpi_current.
 */
export function fairnessMigration(): string {
  const header = `-- The uncertainty of KPI values: generated from shared/kpi/entity-state.ts (\`fairnessMigration\`; a unit
-- test checks this file is exactly what it generates). kpi_values and kpi_current gain n, ci_low, ci_high
-- (the sample and confidence interval behind a value) and reason (why a value is not estimable, uncertain
-- or derived; '' otherwise); kpi_current's view is replaced to carry them, the new one created before the
-- old one is dropped (an insert in between is written twice, which ReplacingMergeTree absorbs).
`
  const addColumns = (table: string, columns: readonly (readonly [string, string])[]) =>
    `ALTER TABLE ${table}\n${columns.map(([n, t]) => `  ADD COLUMN IF NOT EXISTS ${n} ${t}`).join(',\n')}`
  const kpiColumns = [...KPI_VALUE_COLUMNS_0004, ...KPI_UNCERTAINTY_COLUMNS.map(([n]) => n)].join(', ')
  const parts = [
    addColumns('kpi_values', KPI_UNCERTAINTY_COLUMNS),
    addColumns('kpi_current', KPI_UNCERTAINTY_COLUMNS),
    `CREATE MATERIALIZED VIEW IF NOT EXISTS kpi_current_v2_mv TO kpi_current AS\nSELECT ${kpiColumns}\nFROM kpi_values`,
    'DROP VIEW IF EXISTS kpi_current_mv',
  ]
  return `${header}\n${parts.map((p) => `${p};`).join('\n\n')}\n`
}
