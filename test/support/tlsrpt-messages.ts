import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SesReceiptEvent } from '../../src/handlers/tlsrpt-collector/process';

/**
 * Crafted TLS-RPT reports and report emails, modelled on RFC 8460 (Appendix B, §5.3) and on
 * what real reporters send (see ../shared/tlsrpt-notes.md: Google, Microsoft, Mail.ru quirks).
 */

/** The RFC 8460 Appendix B example, for `example.com`, with a cdk-mta-sts-like policy string. */
export function rfcExampleReport(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'organization-name': 'Company-X',
    'date-range': {
      'start-datetime': '2016-04-01T00:00:00Z',
      'end-datetime': '2016-04-01T23:59:59Z',
    },
    'contact-info': 'sts-reporting@company-x.example',
    'report-id': '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
    'policies': [{
      'policy': {
        'policy-type': 'sts',
        'policy-string': ['version: STSv1', 'mode: testing', 'mx: *.mail.company-y.example', 'max_age: 86400'],
        'policy-domain': 'company-y.example',
        'mx-host': '*.mail.company-y.example',
      },
      'summary': {
        'total-successful-session-count': 5326,
        'total-failure-session-count': 303,
      },
      'failure-details': [{
        'result-type': 'certificate-expired',
        'sending-mta-ip': '2001:db8:abcd:0012::1',
        'receiving-mx-hostname': 'mx1.mail.company-y.example',
        'failed-session-count': 100,
      }, {
        'result-type': 'starttls-not-supported',
        'sending-mta-ip': '2001:db8:abcd:0013::1',
        'receiving-mx-hostname': 'mx2.mail.company-y.example',
        'receiving-ip': '203.0.113.56',
        'failed-session-count': 200,
        'additional-information': 'https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported',
      }, {
        'result-type': 'validation-failure',
        'sending-mta-ip': '198.51.100.62',
        'receiving-ip': '198.51.100.72',
        'failed-session-count': 3,
        'failure-reason-code': 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED',
      }],
    }],
    ...overrides,
  };
}

/** A Google-style daily report for `example.com`: `mx-host` as an array, no failures. */
export function googleReport(): Record<string, unknown> {
  return {
    'organization-name': 'Google LLC',
    'date-range': { 'start-datetime': '2024-09-03T00:00:00Z', 'end-datetime': '2024-09-03T23:59:59Z' },
    'contact-info': 'smtp-tls-reporting@google.com',
    'report-id': '2024-09-03T00:00:00Z_example.com',
    'policies': [{
      policy: {
        'policy-type': 'sts',
        'policy-string': ['version: STSv1', 'mode: testing', 'mx: mx1.example.com', 'mx: *.mail.example.com', 'max_age: 604800'],
        'policy-domain': 'example.com',
        'mx-host': ['mx1.example.com', '*.mail.example.com'],
      },
      summary: { 'total-successful-session-count': 42, 'total-failure-session-count': 0 },
    }],
  };
}

/** A Microsoft-style report: `sts-policy-fetch-error` without sending-mta-ip, receiving fields or policy-string. */
export function microsoftReport(): Record<string, unknown> {
  return {
    'organization-name': 'Microsoft Corporation',
    'date-range': { 'start-datetime': '2024-09-03T00:00:00Z', 'end-datetime': '2024-09-03T23:59:59Z' },
    'contact-info': 'tlsrpt-noreply@microsoft.com',
    'report-id': '133696512000000000+example.com',
    'policies': [{
      'policy': { 'policy-type': 'sts', 'policy-domain': 'example.com' },
      'summary': { 'total-successful-session-count': 0, 'total-failure-session-count': 7 },
      'failure-details': [{ 'result-type': 'sts-policy-fetch-error', 'failed-session-count': 7 }],
    }],
  };
}

/** A Mail.ru-style report: failure counts exceed the total, free-text reason code, null contact-info, next-day end. */
export function mailRuReport(): Record<string, unknown> {
  return {
    'organization-name': 'Mail.Ru',
    'date-range': { 'start-datetime': '2024-09-03T00:00:00Z', 'end-datetime': '2024-09-04T00:00:00Z' },
    'contact-info': null,
    'report-id': '20240903.example.com',
    'policies': [{
      'policy': { 'policy-type': 'sts', 'policy-domain': 'Example.COM.', 'mx-host-pattern': ['mx1.example.com'] },
      'summary': { 'total-successful-session-count': 10, 'total-failure-session-count': 2 },
      'failure-details': [
        { 'result-type': 'sts-webpki-invalid', 'failed-session-count': 3, 'failure-reason-code': 'bad https response code: 404' },
        { 'result-type': 'certificate-host-mismatch', 'receiving-mx-hostname': 'MX1.example.com.', 'failed-session-count': 2 },
      ],
    }],
  };
}

/** The RFC 8460 §5.1 file name. */
export function reportFilename(submitter: string, domain: string, gzip = true): string {
  return `${submitter}!${domain}!1725321600!1725407999!001.json${gzip ? '.gz' : ''}`;
}

export interface MessageOptions {
  /** The report part's body (already gzipped or not). */
  readonly attachment: Buffer;
  /** The report part's media type. */
  readonly mediaType?: string;
  /** The report part's file name. */
  readonly filename?: string;
  readonly domain?: string;
  readonly submitter?: string;
}

/** A `multipart/report; report-type="tlsrpt"` message (RFC 8460 §5.3), base64 attachment with folded lines. */
export function reportMessage(options: MessageOptions): Buffer {
  const domain = options.domain ?? 'example.com';
  const submitter = options.submitter ?? 'google.com';
  const mediaType = options.mediaType ?? 'application/tlsrpt+gzip';
  const filename = options.filename ?? reportFilename(submitter, domain);
  const base64 = options.attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from([
    `From: noreply-smtp-tls-reporting@${submitter}`,
    'To: reports@tlsrpt.example.com',
    `Subject: Report Domain: ${domain} Submitter: ${submitter} Report-ID: <2024.09.03T00.00.00Z+${domain}@${submitter}>`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${submitter}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type="tlsrpt";',
    '\tboundary="----=_Part_0_123"',
    '',
    'This is a multi-part message in MIME format.',
    '------=_Part_0_123',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    `This is an aggregate TLS report from ${submitter}`,
    '------=_Part_0_123',
    `Content-Type: ${mediaType}; name="${filename}"`,
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    base64,
    '------=_Part_0_123--',
    '',
  ].join('\r\n'), 'latin1');
}

/** The usual case: the report gzipped as `application/tlsrpt+gzip`. */
export function gzipReportMessage(report: unknown, options: Partial<MessageOptions> = {}): Buffer {
  return reportMessage({ attachment: gzipSync(Buffer.from(JSON.stringify(report))), ...options });
}

/** A plain HTML mail: no report anywhere. */
export function htmlMessage(): Buffer {
  return Buffer.from([
    'From: someone@example.net',
    'To: reports@tlsrpt.example.com',
    'Subject: Win a prize',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary=alt',
    '',
    '--alt',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Click here',
    '--alt',
    'Content-Type: text/html; charset=us-ascii',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<html><body><a href=3D"https://example.net">Click here</a></body></html>',
    '--alt--',
    '',
  ].join('\r\n'));
}

/** The SES receipt event of the Lambda action, as SES sends it after the S3 action. */
export function sesEvent(messageId: string, dkim = 'PASS'): SesReceiptEvent {
  return {
    Records: [{
      ses: {
        mail: {
          messageId,
          timestamp: '2024-09-04T06:00:00.000Z',
          source: 'noreply-smtp-tls-reporting@google.com',
          commonHeaders: { subject: 'Report Domain: example.com Submitter: google.com Report-ID: <x>', from: ['noreply-smtp-tls-reporting@google.com'] },
        },
        receipt: {
          dkimVerdict: { status: dkim },
          spfVerdict: { status: 'PASS' },
          spamVerdict: { status: 'PASS' },
          virusVerdict: { status: 'PASS' },
        },
      },
    }],
  };
}

/** The real (and constructed) report messages and reports of test/fixtures/tlsrpt (origins in its README). */
export const FIXTURES_DIR = join(__dirname, '..', 'fixtures', 'tlsrpt');

/** A fixture's bytes, as kept. */
export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES_DIR, name));
}

/**
 * The report JSON of a fixture message, read independently of the collector's MIME code: the
 * base64 body of the `application/tlsrpt+gzip` part, gunzipped and parsed.
 */
export function attachedReport(raw: Buffer): any {
  const text = raw.toString('latin1');
  const part = text.slice(text.search(/Content-Type: application\/tlsrpt\+gzip/i));
  const body = part.split(/\r?\n\r?\n/)[1].split(/\r?\n--/)[0];
  return JSON.parse(gunzipSync(Buffer.from(body.replace(/\s/g, ''), 'base64')).toString('utf8'));
}

/** A copy of a raw message with one header's value replaced (the header must be there). */
export function withHeader(raw: Buffer, name: string, value: string): Buffer {
  const text = raw.toString('latin1');
  const pattern = new RegExp(`^${name}:[^\\r\\n]*(\\r?\\n[ \\t][^\\r\\n]*)*`, 'im');
  if (!pattern.test(text)) {
    throw new Error(`no ${name} header`);
  }
  return Buffer.from(text.replace(pattern, `${name}: ${value}`), 'latin1');
}
