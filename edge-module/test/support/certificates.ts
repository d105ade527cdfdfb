// Test-time TLS material for the edgeHub stand-in: a throw-away CA and a server certificate signed by it,
// made with the `openssl` command line (Debian's openssl package) so nothing secret is ever committed.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface TestCertificates {
  /** PEM file of the CA: what the module trusts (EdgeModuleCACertificateFile). */
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
  /** The subjectAltName entries of the server certificate, e.g. ["DNS:localhost", "IP:127.0.0.1"]. */
  altNames: string[];
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed (is the openssl package installed?): ${stderr || String(error)}`);
  }
}

/**
 * Writes ca.pem, server.pem and server.key into `dir`. The server certificate is valid for localhost,
 * 127.0.0.1, ::1 and every name in `altNames` (DNS names or IP addresses — e.g. the address the host has
 * as seen from a container).
 */
export function createTestCertificates(dir: string, altNames: readonly string[] = []): TestCertificates {
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...altNames])];
  const san = names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`));
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${san.join(', ')}`,
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=edge-hub stand-in test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
  return {
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
    ca: read('ca.pem'),
    cert: read('server.pem'),
    key: read('server.key'),
    altNames: san,
  };
}
