import { TlsRptRecord } from '../src';

describe('TlsRptRecord', () => {
  test('renders one rua URI', () => {
    expect(new TlsRptRecord({ rua: ['mailto:tls-reports@example.com'] }).value)
      .toBe('v=TLSRPTv1; rua=mailto:tls-reports@example.com');
  });

  test('renders several rua URIs separated by commas, in order', () => {
    const record = new TlsRptRecord({ rua: ['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1'] });
    expect(record.value).toBe('v=TLSRPTv1; rua=mailto:tls-reports@example.com,https://tlsrpt.example.com/v1');
    expect(record.rua).toEqual(['mailto:tls-reports@example.com', 'https://tlsrpt.example.com/v1']);
  });

  test('keeps percent-encoded commas and semicolons', () => {
    expect(new TlsRptRecord({ rua: ['https://r.example.com/a%2Cb%3Bc', 'mailto:a%2Cb@example.com'] }).value)
      .toBe('v=TLSRPTv1; rua=https://r.example.com/a%2Cb%3Bc,mailto:a%2Cb@example.com');
  });

  test.each([
    ['fails when rua is empty', [], '`tlsRpt.rua` must list at least one mailto: or https: URI, got: []'],
    ['fails when a rua uses http', ['http://r.example.com/'], '`tlsRpt.rua[0]` must be a mailto: address or an https: URL, got: "http://r.example.com/"'],
    ['fails when a rua is a bare address', ['reports@example.com'], '`tlsRpt.rua[0]` must be a mailto: address or an https: URL, got: "reports@example.com"'],
    ['fails when a rua has an unencoded comma', ['mailto:a@example.com,mailto:b@example.com'], '`tlsRpt.rua[0]` must percent-encode "," and ";" (%2C, %3B), which separate URIs and fields in the record, got: "mailto:a@example.com,mailto:b@example.com"'],
    ['fails when a rua has an unencoded semicolon', ['https://r.example.com/;x=1'], '`tlsRpt.rua[0]` must percent-encode "," and ";"'],
    ['fails when a rua has CR LF', ['mailto:a@example.com\r\nv=x'], '`tlsRpt.rua[0]` must not contain CR or LF, got: "mailto:a@example.com\\r\\nv=x"'],
    ['fails when a mailto has no domain', ['mailto:reports'], '`tlsRpt.rua[0]` must be a mailto: URI with one address, local@domain, got: "mailto:reports"'],
    ['fails when a mailto domain is invalid', ['mailto:r@exa_mple.com'], '`tlsRpt.rua[0]` must be a mailto: URI whose domain is a hostname'],
    ['fails when a mailto carries headers', ['mailto:r@example.com?subject=x'], '`tlsRpt.rua[0]` must be a mailto: URI whose domain is a hostname'],
    ['fails when an https URL has user information', ['https://user:pw@r.example.com/'], '`tlsRpt.rua[0]` must be an https: URL without user information'],
    ['fails when an https URL has no host', ['https:/path'], '`tlsRpt.rua[0]` must be an https: URL with an authority'],
    ['fails when a rua has a space', ['https://r.example.com/a b'], '`tlsRpt.rua[0]` must be printable ASCII without spaces'],
    ['fails when a rua repeats', ['mailto:a@example.com', 'mailto:a@example.com'], '`tlsRpt.rua[1]` must not repeat `tlsRpt.rua[0]`, got: "mailto:a@example.com"'],
  ])('%s', (_name, rua, message) => {
    expect(() => new TlsRptRecord({ rua })).toThrow(message);
    expect(TlsRptRecord.validate({ rua }).join('\n')).toContain(message);
  });
});
