import { S3Client } from '@aws-sdk/client-s3';
import { HttpsRequest, HttpsResponse, handleHttpsReport } from './https';
import { SesReceiptEvent, configFromEnvironment, handleSesEvent, readPolicyDomains } from './process';

/**
 * The TLS-RPT collector's Lambda functions, one bundle:
 * - `handler`: invoked by the SES receipt rule after its S3 action stored the raw message;
 * - `httpsHandler`: behind the optional function URL (RFC 8460 §5.4).
 */
const s3 = new S3Client({});
// The configured policy domains ship in the code asset beside this bundle (COLLECTOR_POLICY_DOMAINS_FILE).
const config = configFromEnvironment(process.env, readPolicyDomains(__dirname));
// EMF lines must be the whole log event: stdout, not console.log (which adds a prefix).
const log = (line: string) => {
  process.stdout.write(`${line}\n`);
};

export async function handler(event: SesReceiptEvent): Promise<void> {
  const results = await handleSesEvent(event, { s3, config, log });
  for (const result of results) {
    log(JSON.stringify({ level: 'info', ...result }));
  }
}

export async function httpsHandler(request: HttpsRequest): Promise<HttpsResponse> {
  return handleHttpsReport(request, { s3, config, log });
}
