/**
 * The configuration of the FNMS on-premises inventory adapter (on-premises.ts), apart from the adapter: the
 * stack validates it at synth and every function at cold start, while the adapter itself (an XML parser and
 * the NTLM client) is loaded only when a function of a stack configured for FNMS on premises reads the report
 * (report-inventory.ts imports it on first use).
 */
import * as z from 'zod/mini';
import { ColumnMappingSchema } from './inventory.js';
import { RetryPolicySchema, secureUrl } from './report-http.js';

export const COMPLIANCE_API_PATH = '/ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx';
export const SOAP_NAMESPACE = 'http://tempuri.org/';
export const GET_CUSTOM_VIEW_ACTION = `${SOAP_NAMESPACE}GetCustomView`;

/** `DOMAIN\name` or `name@dns.domain` (the Windows account with the Webservice role). */
const windowsAccount = z.string().check(z.regex(/^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,62}\\[^\\/@\s"[\]:;|=,+*?<>]{1,104}|[^\\/@\s"[\]:;|=,+*?<>]{1,104}@[A-Za-z0-9.-]{1,253})$/, 'DOMAIN\\name or name@dns.domain'));

export const OnPremisesConfigSchema = z.strictObject({
  kind: z.literal('onPremises'),
  /** Root of the FNMS web server, e.g. https://fnms.corp.example (the service path is appended). */
  url: secureUrl,
  servicePath: z._default(z.string().check(z.regex(/^\/[A-Za-z0-9._~/-]*$/, 'a path starting with /')), COMPLIANCE_API_PATH),
  /** The custom view (saved report) id. */
  reportId: z.int().check(z.positive()),
  /** GetCustomView's rowLimit; an answer that reaches it is refused as possibly truncated. */
  rowLimit: z._default(z.int().check(z.minimum(1), z.maximum(1_000_000)), 50_000),
  /** The Windows account; its password is the secret. */
  account: windowsAccount,
  /** The workstation name sent in the NTLM handshake. */
  workstation: z._default(z.string().check(z.regex(/^[A-Za-z0-9-]{1,15}$/)), 'BEACON-PROXY'),
  columns: ColumnMappingSchema,
  retry: z._default(RetryPolicySchema, RetryPolicySchema.parse({})),
});
export type OnPremisesConfig = z.infer<typeof OnPremisesConfigSchema>;
export type OnPremisesConfigInput = z.input<typeof OnPremisesConfigSchema>;
