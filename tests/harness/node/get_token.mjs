// SPDX-License-Identifier: Apache-2.0
// Gets one token with a real @azure/identity credential and prints the outcome as one JSON line, so pytest can
// drive the npm SDK against the emulators. Usage: node get_token.mjs '<json>' where json is
//   {"credential": "managed" | "default", "scope": "https://vault.azure.net/.default",
//    "clientId"?, "resourceId"?, "objectId"?, "retryOptions"?: {...}, "sendProbeRequest"?: bool}
// Endpoints come from the environment (AZURE_POD_IDENTITY_AUTHORITY_HOST etc.), exactly as in a pod.
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";

const args = JSON.parse(process.argv[2] ?? "{}");
const options = {};
for (const k of ["clientId", "resourceId", "objectId", "retryOptions", "managedIdentityClientId"]) {
  if (args[k] !== undefined) options[k] = args[k];
}

function credential() {
  if (args.credential === "default") return new DefaultAzureCredential(options);
  return new ManagedIdentityCredential(options);
}

const started = Date.now();
try {
  const token = await credential().getToken(args.scope ?? "https://vault.azure.net/.default");
  console.log(JSON.stringify({ ok: true, token: token.token, expiresOnTimestamp: token.expiresOnTimestamp,
                               elapsedMs: Date.now() - started }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, name: e?.name, message: String(e?.message ?? e),
                               elapsedMs: Date.now() - started }));
}
