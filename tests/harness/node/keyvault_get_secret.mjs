// SPDX-License-Identifier: Apache-2.0
// Usage: node keyvault_get_secret.mjs '<json config>'  (credential fields as entra_credential.mjs, plus
// "vaultUrl", "name", optional "version"). The vault is on 127.0.0.1, not *.vault.azure.net, so the SDK's check
// that the challenge's resource matches the vault's domain is turned off, as its error message advises.
import { SecretClient } from "@azure/keyvault-secrets";
import { describeError, makeCredential, report } from "./entra_credential.mjs";

const cfg = JSON.parse(process.argv[2]);
try {
  const client = new SecretClient(cfg.vaultUrl, makeCredential(cfg), {
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: cfg.maxRetries ?? 0 },
  });
  const secret = await client.getSecret(cfg.name, cfg.version ? { version: cfg.version } : {});
  report({ ok: true, value: secret.value, id: secret.properties.id, version: secret.properties.version,
           enabled: secret.properties.enabled, contentType: secret.properties.contentType ?? null });
} catch (e) {
  report(describeError(e));
}
