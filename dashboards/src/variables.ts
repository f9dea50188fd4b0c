import { customVariable, queryVariable, textboxVariable, type Variable } from './grafana.js'

/** Template variables shared by the dashboards (same names, so links carry the selection across). */

export const businessUnitVar: Variable = queryVariable(
  'business_unit',
  'Business unit',
  `SELECT DISTINCT business_unit FROM (
    SELECT business_unit FROM privacy_incident_events
    UNION ALL SELECT business_unit FROM model_metric_events
    UNION ALL SELECT business_unit FROM audit_finding_events
  )
  WHERE business_unit != ''
  ORDER BY business_unit`,
  'Business units reported by the producers (facts). Filters fact panels and the KPIs scoped by model or incident.',
)

export const standardVar: Variable = customVariable(
  'standard',
  'Standard',
  ['ISO27001', 'ISO42001'],
  'ISO/IEC 27001 (ISMS) and/or ISO/IEC 42001 (AIMS): audit findings by their standard, KPIs by the standard they evidence.',
)

export const modelVar: Variable = queryVariable(
  'model',
  'Model',
  `SELECT DISTINCT model_id FROM model_metric_events
  WHERE $__conditionalAll(business_unit IN (\${business_unit:singlequote}), $business_unit)
  ORDER BY model_id`,
  'AI models (model_id) of the selected business units.',
)

export const reviewUrlVar: Variable = textboxVariable(
  'review_url',
  'Review page',
  'http://127.0.0.1:8080',
  "Where the pipeline's review page is served (its PUBLIC_BASE_URL): the review packs open there.",
)
