import { S3Client } from '@aws-sdk/client-s3';
import { SesReceiptEvent, configFromEnvironment, handleSesEvent } from './process';

/**
 * The TLS-RPT collector's Lambda function: invoked by the SES receipt rule after its S3 action
 * stored the raw message. See process.ts.
 */
const s3 = new S3Client({});
const config = configFromEnvironment(process.env);

export async function handler(event: SesReceiptEvent): Promise<void> {
  // EMF lines must be the whole log event: stdout, not console.log (which adds a prefix).
  const results = await handleSesEvent(event, { s3, config, log: line => process.stdout.write(`${line}\n`) });
  for (const result of results) {
    process.stdout.write(`${JSON.stringify({ level: 'info', ...result })}\n`);
  }
}
