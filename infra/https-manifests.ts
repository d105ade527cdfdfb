// The Kubernetes objects that put the scoring API behind HTTPS on the AKS Istio add-on's external
// ingress gateway, as pure functions of plain values (tests validate each against its CRD's schema with
// kubernetes-models, and the policy pack checks them): the Istio Gateway and VirtualService, the
// SecretProviderClass that syncs a Key Vault certificate into a TLS Secret, and cert-manager's Issuer
// and Certificate for Let's Encrypt.
import type { TlsMode } from './config';

/** Where the add-on runs its ingress gateways; a Gateway's credentialName is looked up there. */
export const ISTIO_INGRESS_NAMESPACE = 'aks-istio-ingress';
/** Label (istio=...) of the add-on's external gateway pods and Service, and that Service's name. */
export const EXTERNAL_GATEWAY = 'aks-istio-ingressgateway-external';
/** The TLS Secret (in ISTIO_INGRESS_NAMESPACE) the gateway serves: synced from Key Vault or written by cert-manager. */
export const TLS_SECRET_NAME = 'scoring-tls';
/** cert-manager's ACME HTTP-01 solver pods listen here (cert-manager's acmesolver default). */
export const ACME_SOLVER_PORT = 8089;
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
/** Label cert-manager puts on every HTTP-01 solver pod it starts. */
export const ACME_SOLVER_LABEL = { 'acme.cert-manager.io/http01-solver': 'true' } as const;
/** A class no controller serves: cert-manager's ingress solver must create an Ingress, but the route to the solver is ours (see acmeSolverRoute). */
export const ACME_UNSERVED_INGRESS_CLASS = 'model-deploy-acme-unserved';
export const LETSENCRYPT_SERVERS = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

type Obj = Record<string, unknown>;
const meta = (name: string, namespace: string, labels: Record<string, string>) => ({ name, namespace, labels });

/** The header browsers remember: HTTPS only for max-age seconds. */
export function hstsHeader(maxAgeSeconds: number): string {
  return `max-age=${maxAgeSeconds}`;
}

/**
 * Port 443 terminates TLS with the synced/issued certificate (TLS 1.2+); port 80 redirects. With
 * Let's Encrypt, port 80 also serves the HTTP-01 challenge, so the redirect is a VirtualService route
 * (virtualService) rather than the server's httpsRedirect, which would redirect the challenge too.
 */
export function gateway(name: string, namespace: string, host: string, mode: Exclude<TlsMode, 'none'>, labels: Record<string, string>): Obj {
  const acme = mode !== 'keyvault';
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: meta(name, namespace, labels),
    spec: {
      selector: { istio: EXTERNAL_GATEWAY },
      servers: [
        {
          port: { number: 443, name: 'https', protocol: 'HTTPS' },
          hosts: [host],
          tls: { mode: 'SIMPLE', credentialName: TLS_SECRET_NAME, minProtocolVersion: 'TLSV1_2' },
        },
        {
          port: { number: 80, name: 'http', protocol: 'HTTP' },
          hosts: [host],
          ...(acme ? {} : { tls: { httpsRedirect: true } }),
        },
      ],
    },
  };
}

/** The ACME challenge route: port 80, the challenge path only, to the stable solver Service. */
export function acmeSolverRoute(solverServiceHost: string): Obj {
  return {
    name: 'acme-http01-challenge',
    match: [{ port: 80, uri: { prefix: ACME_CHALLENGE_PREFIX } }],
    route: [{ destination: { host: solverServiceHost, port: { number: ACME_SOLVER_PORT } } }],
  };
}

/**
 * Routes of the host: (Let's Encrypt only) the challenge and a redirect of everything else on port 80;
 * then the API on 443 with the HSTS header on every answer.
 */
export function virtualService(
  name: string,
  namespace: string,
  args: { host: string; gatewayName: string; serviceHost: string; servicePort: number; hstsMaxAgeSeconds: number; acmeSolverHost?: string },
  labels: Record<string, string>,
): Obj {
  const http: Obj[] = [];
  if (args.acmeSolverHost) {
    http.push(acmeSolverRoute(args.acmeSolverHost));
    http.push({ name: 'https-redirect', match: [{ port: 80 }], redirect: { scheme: 'https', redirectCode: 308 } });
  }
  http.push({
    name: 'scoring-api',
    match: [{ port: 443 }],
    route: [{ destination: { host: args.serviceHost, port: { number: args.servicePort } } }],
    headers: { response: { set: { 'Strict-Transport-Security': hstsHeader(args.hstsMaxAgeSeconds) } } },
  });
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: meta(name, namespace, labels),
    spec: { hosts: [args.host], gateways: [`${namespace}/${args.gatewayName}`], http },
  };
}

/**
 * Microsoft's "secure ingress gateway for the Istio add-on" procedure: the certificate object read
 * twice, as a secret (private key and chain) and as a cert (the certificate), synced into a
 * kubernetes.io/tls Secret beside the gateway pods.
 */
export function secretProviderClass(
  name: string,
  args: { keyVaultName: string; certificateName: string; tenantId: string; identityClientId: string },
  labels: Record<string, string>,
): Obj {
  const object = (type: 'secret' | 'cert', alias: string) =>
    `objectName: ${args.certificateName}\nobjectType: ${type}\nobjectAlias: ${alias}\n`;
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: meta(name, ISTIO_INGRESS_NAMESPACE, labels),
    spec: {
      provider: 'azure',
      secretObjects: [
        {
          secretName: TLS_SECRET_NAME,
          type: 'kubernetes.io/tls',
          data: [
            { objectName: 'tls-key', key: 'tls.key' },
            { objectName: 'tls-crt', key: 'tls.crt' },
          ],
        },
      ],
      parameters: {
        usePodIdentity: 'false',
        useVMManagedIdentity: 'true',
        userAssignedIdentityID: args.identityClientId,
        keyvaultName: args.keyVaultName,
        tenantId: args.tenantId,
        cloudName: '',
        objects: `array:\n  - |\n${indent(object('secret', 'tls-key'))}  - |\n${indent(object('cert', 'tls-crt'))}`,
      },
    },
  };
}

function indent(block: string): string {
  return block.split('\n').filter(Boolean).map((l) => `    ${l}\n`).join('');
}

/** A namespaced ACME issuer whose HTTP-01 solver pods our own Service and route reach. */
export function acmeIssuer(name: string, args: { mode: 'letsencrypt' | 'letsencrypt-staging'; email: string }, labels: Record<string, string>): Obj {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Issuer',
    metadata: meta(name, ISTIO_INGRESS_NAMESPACE, labels),
    spec: {
      acme: {
        server: LETSENCRYPT_SERVERS[args.mode],
        email: args.email,
        privateKeySecretRef: { name: `${name}-account-key` },
        solvers: [
          {
            http01: {
              ingress: {
                ingressClassName: ACME_UNSERVED_INGRESS_CLASS,
                serviceType: 'ClusterIP',
                podTemplate: { metadata: { labels: { ...ACME_SOLVER_LABEL } } },
              },
            },
          },
        ],
      },
    },
  };
}

/** One host per certificate: one challenge at a time, so the one solver Service never mixes two tokens. */
export function certificate(name: string, args: { host: string; issuerName: string }, labels: Record<string, string>): Obj {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: meta(name, ISTIO_INGRESS_NAMESPACE, labels),
    spec: {
      secretName: TLS_SECRET_NAME,
      dnsNames: [args.host],
      issuerRef: { name: args.issuerName, kind: 'Issuer', group: 'cert-manager.io' },
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  };
}
