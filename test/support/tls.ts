// Certificates made at test time with openssl (/usr/bin/openssl): a private CA and a server
// certificate it signs for localhost and 127.0.0.1 (so a client that verifies, trusting only this CA,
// accepts it), written as PEM files in a fresh temporary directory.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificates {
  dir: string;
  /** The CA's certificate (PEM) and its file: what a client trusts. */
  caPem: string; caFile: string;
  /** The server's certificate (PEM, subject CN=localhost, SAN localhost and 127.0.0.1) and key, and their files. */
  certPem: string; certFile: string;
  keyPem: string; keyFile: string;
  /** SHA-256 fingerprint of the server certificate, as Node's X509Certificate gives it (AA:BB:…). */
  fingerprint256: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new CA and a server certificate it signed, valid for a day. Takes about 100 ms (EC P-256 keys). */
export function makeTestCertificates(commonName = 'localhost'): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postgate-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Postgate test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${commonName}`], dir);
  writeFileSync(path.join(dir, 'server.ext'),
    `subjectAltName=DNS:${commonName},DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem',
    '-days', '1', '-extfile', 'server.ext'], dir);
  const file = (name: string) => path.join(dir, name);
  const certPem = readFileSync(file('server.pem'), 'utf8');
  return {
    dir,
    caPem: readFileSync(file('ca.pem'), 'utf8'), caFile: file('ca.pem'),
    certPem, certFile: file('server.pem'),
    keyPem: readFileSync(file('server.key'), 'utf8'), keyFile: file('server.key'),
    fingerprint256: new X509Certificate(certPem).fingerprint256,
  };
}
