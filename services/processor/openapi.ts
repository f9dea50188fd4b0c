import { z } from 'zod'
import { breachesQuery, deadLettersQuery, historyQuery, kpiListQuery } from './api-schemas.js'
import {
  alertDeliveriesQuery,
  incidentsQuery,
  modelsQuery,
  nonconformitiesQuery,
  scorecardQuery,
} from './views.js'

/** OpenAPI 3.1 description of the read API, its parameters generated from the same zod schemas. */

function parameters(schema: z.ZodObject, inPath: string[] = []) {
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    properties?: Record<string, unknown>
    required?: string[]
  }
  const query = Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: s,
  }))
  const path = inPath.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }))
  return [...path, ...query]
}

const ok = (description: string) => ({
  200: { description, content: { 'application/json': { schema: { type: 'object' } } } },
  400: { description: 'A query parameter is invalid; `reasons` says which and why' },
})

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'AIMS/ISMS KPI pipeline read API',
      version: '1',
      description:
        'Current KPI values with thresholds and ISO/IEC 27001 / 42001 references, KPI history, breaches with their lifecycle and alert deliveries, and rejected events; plus the views behind the review page (scorecard, accuracy vs bias, the 72-hour rule, open nonconformities).',
    },
    paths: {
      '/api/kpis': {
        get: {
          summary: 'Every KPI of the catalog with its current series',
          parameters: parameters(kpiListQuery),
          responses: ok('KPIs'),
        },
      },
      '/api/kpis/{id}': {
        get: {
          summary: 'One KPI and its current series',
          parameters: parameters(z.object({}), ['id']),
          responses: ok('KPI'),
        },
      },
      '/api/kpis/{id}/history': {
        get: {
          summary: 'Values of a KPI over a time range',
          parameters: parameters(historyQuery, ['id']),
          responses: ok('points'),
        },
      },
      '/api/breaches': {
        get: {
          summary: 'Breaches (open, resolved or all) with transitions and delivery status',
          parameters: parameters(breachesQuery),
          responses: ok('breaches'),
        },
      },
      '/api/breaches/{id}': {
        get: {
          summary: 'One breach: its transitions and every alert delivery attempt',
          parameters: parameters(z.object({}), ['id']),
          responses: ok('breach'),
        },
      },
      '/api/dead-letters': {
        get: {
          summary: 'Rejected events with their reason',
          parameters: parameters(deadLettersQuery),
          responses: ok('dead letters'),
        },
      },
      '/api/views/scorecard': {
        get: {
          summary:
            'One entry per KPI: its worst current status (ok, warning, critical, no_data), worst series, thresholds and ISO references with titles',
          parameters: parameters(scorecardQuery),
          responses: ok('scorecard'),
        },
      },
      '/api/views/models': {
        get: {
          summary:
            'Per model and version: accuracy, the fairness metrics per protected attribute, the worst fairness gap (1 − disparate impact ratio counted as a gap) and whether the version is out of tolerance',
          parameters: parameters(modelsQuery),
          responses: ok('models'),
        },
      },
      '/api/views/incidents': {
        get: {
          summary:
            'Notifiable privacy incidents against the GDPR Art. 33 72-hour rule: detected and notified times, hours to notify or hours open (latest state per incident)',
          parameters: parameters(incidentsQuery),
          responses: ok('incidents'),
        },
      },
      '/api/views/nonconformities': {
        get: {
          summary:
            'Open nonconformities by standard, clause or Annex A control and kind, with their findings',
          parameters: parameters(nonconformitiesQuery),
          responses: ok('nonconformities'),
        },
      },
      '/api/views/alert-deliveries': {
        get: {
          summary:
            "Per breach, how delivering its alerts went: attempts delivered, failed, throttled, the sinks reached and the last failure's reason",
          parameters: parameters(alertDeliveriesQuery),
          responses: ok('alert deliveries per breach'),
        },
      },
    },
  }
}
