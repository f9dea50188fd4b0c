/** OCSF findings in: Incident Finding (2005) and Data Security Finding (2006) → the privacy-incident contract. */
export { decodeOcsfMessage } from './decode.js'
export { mapOcsfFinding } from './map.js'
export {
  aimsExtensionSchema,
  dataSecurityFindingSchema,
  incidentFindingSchema,
  OCSF_DATA_SECURITY_FINDING,
  OCSF_INCIDENT_FINDING,
} from './schema.js'
