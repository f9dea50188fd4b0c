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
 * Lifecycle semantics (all explicit here, tested in tests/unit/kpi/entity-state.test.ts):
 * - Events of one entity are totally ordered by (event time in ms, lifecycle rank, cityHash64(event id)):
 *   two events in the same millisecond order by lifecycle, never by hash alone.
 * - `latest` fields take the value of the latest event.
 * - `sticky` fields take the latest value that was given (non-NULL, non-empty): a later event that omits
 *   `repeatOf`, a due date or a notification time does not erase it.
 * - `stage` fields belong to a lifecycle stage: the latest event that either gives the field or reports a
 *   status before that stage decides. A reopened incident (status back to detected/contained/notified)
 *   therefore drops its resolution and closure times, a reopened finding its closure time, while a later
 *   event of the same or a later stage that merely omits the field keeps it.
 * Nullable values travel inside a one-element tuple, because ClickHouse aggregate functions skip NULL
 * arguments: argMax over a bare NULL would return an older value instead of the NULL that clears it.
 */

export type FieldKind =
  | { kind: 'latest' }
  | { kind: 'sticky' }
  | { kind: 'stage'; rank: number }
  | { kind: 'min' }
  | { kind: 'max' }

export interface StateField {
  name: string
  /** ClickHouse type of the value (Nullable where it may be absent). */
  type: string
  /** Expression over the fact row; default the column of the same name. */
  expr?: string
  /** For sticky fields: the condition "the event gives a value". Default `expr IS NOT NULL`. */
  given?: string
  reduce: FieldKind
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
const NTIME = `Nullable(${TIME})`
/** The order key of the events of one entity; also stored (max) as the state's version. */
export const ORDER_KEY_TYPE = 'Tuple(Int64, UInt8, UInt64)'
const orderKey = (rank: string) =>
  `(toUnixTimestamp64Milli(event_time), toUInt8(${rank}), cityHash64(event_id))`

/** Lifecycle ranks: the contract's status order. */
export const INCIDENT_RANK = `multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0)`
export const FINDING_RANK = `multiIf(status = 'open', 1, status = 'in_progress', 2, status = 'closed', 3, status = 'verified', 4, 0)`

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
    { name: 'controls', type: 'Array(String)', reduce: { kind: 'latest' } },
    { name: 'occurred_at', type: NTIME, reduce: { kind: 'sticky' } },
    { name: 'contained_at', type: NTIME, reduce: { kind: 'stage', rank: 2 } },
    { name: 'resolved_at', type: NTIME, reduce: { kind: 'stage', rank: 4 } },
    { name: 'closed_at', type: NTIME, reduce: { kind: 'stage', rank: 5 } },
    // A notification cannot be unsent: the latest time given stands.
    { name: 'regulator_notified_at', type: NTIME, reduce: { kind: 'sticky' } },
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
    { name: 'due_at', type: NTIME, reduce: { kind: 'sticky' } },
    { name: 'closed_at', type: NTIME, reduce: { kind: 'stage', rank: 3 } },
    {
      name: 'repeat_of',
      type: 'Nullable(String)',
      expr: 'repeat_of',
      given: "repeat_of != ''",
      reduce: { kind: 'sticky' },
    },
  ],
}

const metric = (name: string): StateField => ({
  name,
  type: 'Nullable(Float64)',
  expr: `metrics['${name}']`,
  given: `mapContains(metrics, '${name}')`,
  reduce: { kind: 'sticky' },
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
      type: 'Nullable(String)',
      expr: 'baseline_version',
      given: "baseline_version != ''",
      reduce: { kind: 'sticky' },
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
    {
      name: 'counts',
      type: 'Tuple(UInt64, UInt64, UInt64, UInt64)',
      expr: '(tp, fp, tn, fn)',
      reduce: { kind: 'latest' },
    },
  ],
}

export const ENTITY_STATES: readonly EntityStateDef[] = [
  incidentState,
  findingState,
  modelVersionState,
  fairnessGroupState,
]

// ----- spellings ---------------------------------------------------------------------------------------

const keyColumnType = (col: string) =>
  col === 'environment' || col === 'attribute' ? 'LowCardinality(String)' : 'String'

function aggregateType(f: StateField): string {
  switch (f.reduce.kind) {
    case 'latest':
      return `AggregateFunction(argMax, ${f.type}, ${ORDER_KEY_TYPE})`
    case 'sticky':
    case 'stage':
      return `AggregateFunction(argMaxIf, Tuple(${f.type}), ${ORDER_KEY_TYPE}, UInt8)`
    case 'min':
      return `AggregateFunction(min, ${f.type})`
    case 'max':
      return `AggregateFunction(max, ${f.type})`
  }
}

const exprOf = (f: StateField) => f.expr ?? f.name

/** The condition under which an event decides a sticky/stage field. */
function decides(f: StateField): string {
  const given = f.given ?? `${exprOf(f)} IS NOT NULL`
  if (f.reduce.kind === 'stage') return `(${given}) OR __rank < ${f.reduce.rank}`
  return given
}

/** An aggregate over the rows of one entity, with `suffix` '' (plain), 'State' or 'Merge'. */
function aggregate(f: StateField, suffix: '' | 'State' | 'Merge'): string {
  const col = f.name
  if (suffix === 'Merge') {
    switch (f.reduce.kind) {
      case 'latest':
        return `argMaxMerge(${col})`
      case 'sticky':
      case 'stage':
        return `argMaxIfMerge(${col}).1`
      case 'min':
        return `minMerge(${col})`
      case 'max':
        return `maxMerge(${col})`
    }
  }
  const e = exprOf(f)
  switch (f.reduce.kind) {
    case 'latest':
      return `argMax${suffix}(${e}, __k)`
    case 'sticky':
    case 'stage':
      // A NULL inside the tuple is kept (the tuple itself is never NULL); .1 reads it back.
      return suffix === 'State'
        ? `argMaxIfState(tuple(${castNullable(f)}), __k, ${decides(f)})`
        : `argMaxIf(tuple(${castNullable(f)}), __k, ${decides(f)}).1`
    case 'min':
      return `min${suffix}(${e})`
    case 'max':
      return `max${suffix}(${e})`
  }
}

/** Sticky string fields are stored as Nullable(String): '' (not given) becomes NULL. */
function castNullable(f: StateField): string {
  const e = exprOf(f)
  if (f.type === 'Nullable(String)') return `if(${f.given ?? '1'}, toNullable(toString(${e})), NULL)`
  if (f.type === 'Nullable(Float64)') return `if(${f.given ?? '1'}, toNullable(toFloat64(${e})), NULL)`
  return e
}

/** The fact rows with the order key and lifecycle rank every aggregate reads. */
function rankedFacts(def: EntityStateDef, where = '1'): string {
  return `SELECT *, ${def.rank} AS __rank, ${orderKey('__rank')} AS __k FROM ${def.facts} WHERE ${where}`
}

export function stateTableDdl(def: EntityStateDef): string {
  const cols = [
    ...def.key.map((k) => `  ${k} ${keyColumnType(k)}`),
    ...def.fields.map((f) => `  ${f.name} ${aggregateType(f)}`),
  ]
  return `CREATE TABLE IF NOT EXISTS ${def.table} (\n${cols.join(',\n')}\n) ENGINE = AggregatingMergeTree\nORDER BY (${def.key.join(', ')})`
}

function stateSelect(def: EntityStateDef, where?: string): string {
  const cols = [
    ...def.key.map((k) => `  toString(${k}) AS ${k}`),
    ...def.fields.map((f) => `  ${aggregate(f, 'State')} AS ${f.name}`),
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

/** The migration creating every state table, its view and its back-fill, in that order. */
export function entityStateMigration(): string {
  const header = `-- Entity state kept by ClickHouse at insert: generated from shared/kpi/entity-state.ts (a unit test
-- checks this file is exactly what that module generates). Each state table is an AggregatingMergeTree
-- of argMax states over the events' order key, fed by a materialized view and back-filled once from the
-- facts stored before it existed. Inserting the same event twice changes nothing.
`
  const parts = ENTITY_STATES.flatMap((def) => [stateTableDdl(def), stateViewDdl(def), stateBackfill(def)])
  return `${header}\n${parts.map((p) => `${p};`).join('\n\n')}\n`
}

/**
 * Reads the state table back: one row per entity, columns the key then every field (named as the
 * field). `where` filters on key columns (it runs before the merge, so it uses the primary key),
 * `having` on merged fields.
 */
export function stateMergeSelect(
  def: EntityStateDef,
  opts: { where?: string; having?: string } = {},
): string {
  const cols = [...def.key, ...def.fields.map((f) => `${aggregate(f, 'Merge')} AS ${f.name}`)]
  return `SELECT ${cols.join(', ')}
FROM ${def.table}
WHERE ${opts.where ?? '1'}
GROUP BY ${def.key.join(', ')}${opts.having ? `\nHAVING ${opts.having}` : ''}`
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
  const cols = [
    ...def.key.map((k) => `toString(${k}) AS ${k}`),
    ...def.fields.map((f) => `${aggregate(f, '')} AS ${f.name}`),
  ]
  return `SELECT ${cols.join(', ')}
FROM (${rankedFacts(def, filters.join(' AND '))})
GROUP BY ${def.key.join(', ')}`
}
