import { attachedReport, fixture } from './support/tlsrpt-messages';
import { headerOf, parseMimeMessage } from '../src/handlers/tlsrpt-collector/mime';
import { decodeReport, findReportPart } from '../src/handlers/tlsrpt-collector/report-part';

const message = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

describe('parseMimeMessage', () => {
  test('unfolds headers and reads nested multiparts depth first', () => {
    const parsed = parseMimeMessage(message([
      'Subject: Report Domain: example.com',
      '  Submitter: google.com',
      'TLS-Report-Domain: example.com',
      'Content-Type: multipart/mixed;',
      ' boundary="outer"',
      '',
      '--outer',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      'Content-Type: text/plain',
      '',
      'plain',
      '--inner',
      'Content-Type: text/html',
      '',
      '<p>html</p>',
      '--inner--',
      '--outer',
      'Content-Type: application/tlsrpt+json',
      '',
      '{"a":1}',
      '--outer--',
    ]));
    // Unfolding removes the line break only (RFC 5322 §2.2.3).
    expect(headerOf(parsed, 'subject')).toBe('Report Domain: example.com  Submitter: google.com');
    expect(headerOf(parsed, 'TLS-Report-Domain')).toBe('example.com');
    expect(parsed.parts.map(part => [part.mediaType, part.body.toString()])).toEqual([
      ['text/plain', 'plain'],
      ['text/html', '<p>html</p>'],
      ['application/tlsrpt+json', '{"a":1}'],
    ]);
  });

  test('decodes quoted-printable and RFC 2231 file names', () => {
    const parsed = parseMimeMessage(message([
      'Content-Type: multipart/report; report-type=tlsrpt; boundary=b',
      '',
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment;',
      " filename*0*=utf-8''google.com%21example.com%21;",
      ' filename*1="1725321600!1725407999.json"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      '{"report-id":=20"a=3Db",=',
      '"x":1}',
      '--b--',
    ]));
    expect(parsed.parts).toHaveLength(1);
    expect(parsed.parts[0].filename).toBe('google.com!example.com!1725321600!1725407999.json');
    expect(parsed.parts[0].body.toString()).toBe('{"report-id": "a=b","x":1}');
    expect(findReportPart(parsed.parts)).toBe(parsed.parts[0]);
  });

  test('a message without a closing boundary keeps its last part; a message without a body has one empty part', () => {
    expect(parseMimeMessage(message(['Content-Type: multipart/mixed; boundary=x', '', '--x', '', 'tail'])).parts
      .map(part => part.body.toString())).toEqual(['tail']);
    expect(parseMimeMessage(Buffer.from('Subject: nothing')).parts).toEqual([{ mediaType: 'text/plain', body: Buffer.alloc(0) }]);
  });

  test('nesting deeper than 8 levels is not followed', () => {
    const lines: string[] = [];
    for (let depth = 0; depth < 12; depth++) {
      lines.push(`Content-Type: multipart/mixed; boundary=b${depth}`, '', `--b${depth}`);
    }
    lines.push('Content-Type: application/tlsrpt+json', '', '{}');
    const parsed = parseMimeMessage(message(lines));
    expect(parsed.parts.map(part => part.mediaType)).toEqual(['multipart/mixed']);
    expect(() => findReportPart(parsed.parts)).toThrow(/no part is application\/tlsrpt\+gzip/);
  });
});

describe('report messages of test/fixtures/tlsrpt (real and constructed)', () => {
  const MAX_REPORT_BYTES = 1024 * 1024;
  /** Each leaf part as [media type, file name, body bytes]. */
  const partsOf = (name: string) => parseMimeMessage(fixture(name)).parts.map(part => [part.mediaType, part.filename ?? null, part.body.length]);

  test('Google\'s message with the attachment name folded onto the next line (Content-Type name and Content-Disposition filename)', () => {
    const raw = fixture('google-folded-filename.eml');
    expect(raw.toString('latin1')).toMatch(/Content-Type: application\/tlsrpt\+gzip; \n\tname="google\.com!cardinalhealth\.ca!/);
    expect(partsOf('google-folded-filename.eml')).toEqual([
      ['text/plain', null, 141],
      ['application/tlsrpt+gzip', 'google.com!cardinalhealth.ca!1725321600!1725407999!001.json.gz', 252],
    ]);
    const parsed = parseMimeMessage(raw);
    expect(headerOf(parsed, 'TLS-Report-Domain')).toBe('cardinalhealth.ca');
    expect(JSON.parse(decodeReport(findReportPart(parsed.parts), MAX_REPORT_BYTES))).toEqual(attachedReport(raw));
  });

  test('Mail.ru\'s message that ends with an opening boundary and no closing one still yields its report', () => {
    const raw = fixture('mailru-no-closing-boundary.eml');
    expect(raw.toString('latin1')).not.toMatch(/------=_NextPart_1739318741000000042--/);
    expect(raw.toString('latin1').endsWith('------=_NextPart_1739318741000000042\r\n\r\n\r\n')).toBe(true);
    expect(partsOf('mailru-no-closing-boundary.eml')).toEqual([
      ['text/plain', null, 68],
      ['application/tlsrpt+gzip', 'mail.ru!example.net!1739232000!1739318400!001.json.gz', 361],
      // What follows the last opening boundary: an empty part.
      ['text/plain', null, 2],
    ]);
    const parsed = parseMimeMessage(raw);
    expect(JSON.parse(decodeReport(findReportPart(parsed.parts), MAX_REPORT_BYTES))).toEqual(attachedReport(raw));
  });

  test('Microsoft\'s message: an HTML part, and the report with its name in a folded Content-Description', () => {
    expect(partsOf('microsoft-sts-tlsa.eml')).toEqual([
      ['text/html', null, 348],
      ['application/tlsrpt+gzip', 'microsoft.com!example.com!1739145600!1739231999!133837729274815162.json.gz', 486],
    ]);
  });
});
