// SPDX-License-Identifier: Apache-2.0
// Builds the @azure/identity credential a test asks for, aimed at the Entra ID emulator. Shared by the entra_*
// and keyvault_* scripts. Instance discovery is disabled because MSAL would otherwise ask the real
// login.microsoftonline.com about a non-Microsoft authority host; MSAL then reads
// <authority>/v2.0/.well-known/openid-configuration from the emulator instead.
// Kind "managed" is a ManagedIdentityCredential with no endpoint override at all (optionally by clientId): in a
// simulated pod it calls 169.254.169.254, which the kernel hands to podid-agent.
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential,
         WorkloadIdentityCredential } from "@azure/identity";

export function makeCredential(cfg) {
  if (cfg.kind === "managed") {
    return new ManagedIdentityCredential(cfg.clientId ? { clientId: cfg.clientId } : {});
  }
  const options = { authorityHost: cfg.authorityHost, disableInstanceDiscovery: true };
  if (cfg.kind === "secret") {
    return new ClientSecretCredential(cfg.tenantId, cfg.clientId, cfg.secret, options);
  }
  if (cfg.kind === "certificate") {
    return new ClientCertificateCredential(cfg.tenantId, cfg.clientId, { certificatePath: cfg.certPath }, options);
  }
  if (cfg.kind === "workload") {
    return new WorkloadIdentityCredential({ tenantId: cfg.tenantId, clientId: cfg.clientId,
                                            tokenFilePath: cfg.tokenFilePath, ...options });
  }
  throw new Error(`unknown credential kind ${cfg.kind}`);
}

// One JSON line on stdout is the script's whole answer; errors keep what tests assert on.
export function report(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
}

export function describeError(e) {
  return { ok: false, name: e?.name, message: String(e?.message ?? e), statusCode: e?.statusCode,
           code: e?.code, errorResponse: e?.errorResponse };
}
