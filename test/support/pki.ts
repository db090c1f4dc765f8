import { generateKeyPairSync } from 'node:crypto';
import * as forge from 'node-forge';

/** A key and certificate in PEM. */
export interface KeyAndCert {
  readonly key: string;
  readonly cert: string;
}

export interface LeafOptions {
  /** DNS names of the subjectAltName; the first is also the common name. */
  readonly names: string[];
  /** Defaults to a day ago. */
  readonly notBefore?: Date;
  /** Defaults to 30 days from now. */
  readonly notAfter?: Date;
}

function newKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  // Node's native RSA generation is fast; forge only builds and signs the certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem };
}

let serial = 1;
const DAY = 86_400_000;

/** A private certificate authority for the tests' loopback servers. */
export class TestCa {
  public readonly cert: string;
  private readonly caCert: forge.pki.Certificate;
  private readonly caKey: forge.pki.rsa.PrivateKey;

  constructor(commonName = 'cdk-mta-sts test CA') {
    const keys = newKeys();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = (serial++).toString(16).padStart(2, '0');
    cert.validity.notBefore = new Date(Date.now() - DAY);
    cert.validity.notAfter = new Date(Date.now() + 365 * DAY);
    const subject = [{ name: 'commonName', value: commonName }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    this.caCert = cert;
    this.caKey = keys.privateKey;
    this.cert = forge.pki.certificateToPem(cert);
  }

  /** A server certificate for the given names, signed by this CA. */
  public issue(options: LeafOptions): KeyAndCert {
    const keys = newKeys();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = (serial++).toString(16).padStart(2, '0');
    cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY);
    cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 30 * DAY);
    cert.setSubject([{ name: 'commonName', value: options.names[0] }]);
    cert.setIssuer(this.caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: options.names.map(value => ({ type: 2, value })) },
    ]);
    cert.sign(this.caKey, forge.md.sha256.create());
    return { key: keys.pem, cert: forge.pki.certificateToPem(cert) };
  }
}
